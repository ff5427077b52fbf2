import { describe, expect, it } from 'vitest';
import { compressedSchedule, cosineDecay, warmupStepDecay } from '../src/index.js';

describe('warmupStepDecay', () => {
  const options = { lr: 0.1, warmupEpochs: 5, milestones: [160, 180], gamma: 0.1 };
  it('matches hand-computed values of the CIFAR protocol', () => {
    // Official: epoch+1 <= 5 → lr·(epoch+1)/5; ≥160 → ×0.1; ≥180 → ×0.01.
    const expected: Array<[number, number]> = [
      [0, 0.02],
      [1, 0.04],
      [2, 0.06],
      [3, 0.08],
      [4, 0.1],
      [5, 0.1],
      [159, 0.1],
      [160, 0.01],
      [179, 0.01],
      [180, 0.001],
      [199, 0.001],
    ];
    for (const [epoch, lr] of expected) expect(warmupStepDecay(epoch, options)).toBeCloseTo(lr, 12);
  });

  it('ramps per step for a fractional warm-up (compressed schedule)', () => {
    const compressed = { lr: 0.1, ...compressedSchedule(10), gamma: 0.1 };
    expect(compressed.warmupEpochs).toBe(0.25);
    expect(compressed.milestones).toEqual([8, 9]);
    expect(warmupStepDecay(0, compressed, 0.1)).toBeCloseTo(0.04, 12);
    expect(warmupStepDecay(0, compressed, 0.25)).toBeCloseTo(0.1, 12);
    expect(warmupStepDecay(0, compressed, 0.5)).toBeCloseTo(0.1, 12);
    expect(warmupStepDecay(7, compressed, 0.99)).toBeCloseTo(0.1, 12);
    expect(warmupStepDecay(8, compressed, 0.01)).toBeCloseTo(0.01, 12);
    expect(warmupStepDecay(9, compressed)).toBeCloseTo(0.001, 12);
  });

  it('without warm-up starts at lr, and validates its arguments', () => {
    expect(warmupStepDecay(0, { lr: 0.5, warmupEpochs: 0, milestones: [] })).toBe(0.5);
    expect(() => warmupStepDecay(0, { lr: -1 })).toThrow(/^lr must be/);
    expect(() => warmupStepDecay(-1, { lr: 1 })).toThrow(/^epoch must be/);
    expect(() => warmupStepDecay(0, { lr: 1, gamma: 2 })).toThrow(/^gamma must be/);
    expect(() => warmupStepDecay(0, { lr: 1 }, 0)).toThrow(/^progressInEpoch must be/);
  });
});

describe('cosineDecay', () => {
  it('is lr·(1 + cos(π e/E))/2', () => {
    expect(cosineDecay(0, { lr: 0.002, totalEpochs: 30 })).toBeCloseTo(0.002, 15);
    expect(cosineDecay(15, { lr: 0.002, totalEpochs: 30 })).toBeCloseTo(0.001, 15);
    expect(cosineDecay(10, { lr: 0.002, totalEpochs: 30 })).toBeCloseTo(0.001 * (1 + 0.5), 15);
    expect(cosineDecay(20, { lr: 0.002, totalEpochs: 30 })).toBeCloseTo(0.001 * (1 - 0.5), 15);
    expect(cosineDecay(29, { lr: 0.002, totalEpochs: 30 })).toBeCloseTo(0.001 * (1 + Math.cos((29 * Math.PI) / 30)), 15);
    expect(cosineDecay(30, { lr: 0.002, totalEpochs: 30 })).toBeCloseTo(0, 15);
    expect(() => cosineDecay(0, { lr: 1, totalEpochs: 0 })).toThrow(/^totalEpochs must be/);
  });
});
