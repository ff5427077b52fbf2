import { describe, expect, it } from 'vitest';

import { shardEpoch, shardGlobalBatch, shardRange, shardWeight } from '../src/index.js';

/** A single-process order: a seeded permutation of 0..n-1 (Fisher–Yates, LCG), not sorted, so order matters. */
function permutation(n: number, seed: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let state = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

describe('sharding a global batch', () => {
  it('splits contiguously, sizes differing by at most one, first ranks larger', () => {
    expect([0, 1, 2, 3].map((rank) => shardRange(10, 4, rank))).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect([0, 1, 2].map((rank) => shardRange(2, 3, rank))).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 2 },
    ]);
    expect(shardRange(0, 2, 1)).toEqual({ start: 0, end: 0 });
  });

  it('the ranks\' slices, concatenated in rank order, are the single-process order (all sizes, uneven last batch)', () => {
    for (const worldSize of [1, 2, 3, 4, 7, 8]) {
      for (const batchSize of [1, 5, 8, 16, 33]) {
        const order = permutation(203, worldSize * 100 + batchSize); // 203: the last batch is partial for most sizes
        const perRank = Array.from({ length: worldSize }, (_, rank) => shardEpoch(order, { batchSize, worldSize, rank }));
        const batches = Math.ceil(order.length / batchSize);
        for (const slices of perRank) expect(slices.length).toBe(batches); // same number of steps on every rank
        const rebuilt: number[] = [];
        for (let step = 0; step < batches; step++) {
          const globalBatch = order.subarray(step * batchSize, Math.min((step + 1) * batchSize, order.length));
          const union = perRank.flatMap((slices) => Array.from(slices[step]));
          expect(union).toEqual(Array.from(globalBatch));
          const sizes = perRank.map((slices) => slices[step].length);
          expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
          rebuilt.push(...union);
        }
        expect(rebuilt).toEqual(Array.from(order));
      }
    }
  });

  it('dropLast drops the partial last batch on every rank alike', () => {
    const order = permutation(21, 3);
    const slices = [0, 1].map((rank) => shardEpoch(order, { batchSize: 8, worldSize: 2, rank, dropLast: true }));
    expect(slices.map((s) => s.length)).toEqual([2, 2]);
    expect([...slices[0][1], ...slices[1][1]]).toEqual(Array.from(order.subarray(8, 16)));
  });

  it('shardGlobalBatch keeps the input type and copies', () => {
    const batch = Int32Array.from([9, 8, 7, 6, 5]);
    const part = shardGlobalBatch(batch, 2, 0);
    expect(part).toBeInstanceOf(Int32Array);
    expect(Array.from(part)).toEqual([9, 8, 7]);
    part[0] = -1;
    expect(batch[0]).toBe(9);
    expect(shardGlobalBatch([1, 2, 3], 2, 1)).toEqual([3]);
  });

  it('shard weights sum to one and weight the local mean gradients into the global mean', () => {
    for (const [size, world] of [[10, 4], [7, 3], [2, 3], [64, 2]]) {
      const weights = Array.from({ length: world }, (_, rank) => shardWeight(size, world, rank));
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      // Per-sample "gradients" g_i = i²: Σ_r w_r · mean(g over rank r) equals mean(g over the batch).
      const g = Array.from({ length: size }, (_, i) => i * i);
      const global = g.reduce((a, b) => a + b, 0) / size;
      const combined = weights.reduce((sum, weight, rank) => {
        const { start, end } = shardRange(size, world, rank);
        return end === start ? sum : sum + (weight * g.slice(start, end).reduce((a, b) => a + b, 0)) / (end - start);
      }, 0);
      expect(combined).toBeCloseTo(global, 9);
    }
    expect(shardWeight(0, 2, 0)).toBe(0);
  });

  it('rejects bad arguments, naming them', () => {
    expect(() => shardRange(-1, 2, 0)).toThrow(/length must be a non-negative integer/);
    expect(() => shardRange(4, 0, 0)).toThrow(/worldSize must be a positive integer/);
    expect(() => shardRange(4, 2, 2)).toThrow(/rank must be an integer in \[0, 2\), got 2/);
    expect(() => shardEpoch([1], { batchSize: 0, worldSize: 1, rank: 0 })).toThrow(/batchSize/);
  });
});
