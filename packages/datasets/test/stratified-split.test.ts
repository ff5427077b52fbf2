/** stratifiedSplit / heldOutCount: the per-class rule by hand, a partition of the indices, determinism per seed. */
import { describe, expect, it } from 'vitest';
import { heldOutCount, stratifiedSplit } from '../src/index.js';

describe('stratifiedSplit', () => {
  it('heldOutCount: round(n · f), at least 1 from n = 2 on, never the last image', () => {
    expect([0, 1, 2, 3, 7, 10, 11].map((n) => heldOutCount(n, 0.2))).toEqual([0, 0, 1, 1, 1, 2, 2]);
    expect(heldOutCount(5, 0.99)).toBe(4);
    expect(heldOutCount(10, 0)).toBe(0);
  });

  it('partitions the indices per class, sorted, the same for a seed and different across seeds', () => {
    const labels = [...Array(12).fill(0), ...Array(5).fill(1), 2, ...Array(2).fill(3)];
    const split = stratifiedSplit(labels, 4, 0.25, 7);
    const heldPerClass = [0, 1, 2, 3].map((c) => Array.from(split.holdOut).filter((i) => labels[i] === c).length);
    expect(heldPerClass).toEqual([3, 1, 0, 1]);
    expect([...split.keep, ...split.holdOut].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    expect(Array.from(split.holdOut)).toEqual(Array.from(split.holdOut).sort((a, b) => a - b));
    expect(stratifiedSplit(labels, 4, 0.25, 7)).toEqual(split);
    expect(Array.from(stratifiedSplit(labels, 4, 0.25, 8).holdOut)).not.toEqual(Array.from(split.holdOut));
  });

  it('refuses bad arguments, naming them', () => {
    expect(() => stratifiedSplit([0], 1, 1, 0)).toThrow('fraction must be in [0, 1), got 1');
    expect(() => stratifiedSplit([0], 0, 0.2, 0)).toThrow('numClasses must be a positive integer, got 0');
    expect(() => stratifiedSplit([2], 2, 0.2, 0)).toThrow(/labels\[0\] = 2 is not a class index in \[0, 2\)/);
  });
});
