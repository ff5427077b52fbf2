import { describe, expect, it } from 'vitest';
import { balancedWeights, classBasedEffectiveNumberWeights, effectiveNumberWeights, normalizeWeights } from '../src/index.js';
import { hasGolden, readGolden } from './golden.js';

function maxRelativeError(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  return Math.max(...actual.map((a, i) => Math.abs(a - expected[i]) / Math.abs(expected[i])));
}

describe.skipIf(!hasGolden)('class weights against the reference (golden/sampler_and_imbalance.json)', () => {
  const profiles = hasGolden ? Object.entries<any>(readGolden('sampler_and_imbalance.json').sampler_per_cls_weights) : [];

  it('has the CIFAR-10/100-LT profiles', () => {
    expect(profiles.length).toBeGreaterThanOrEqual(6);
  });

  for (const [name, profile] of profiles) {
    const counts: number[] = profile.cls_num_list;
    it(`${name}: balanced, effective number and class-based effective number`, () => {
      const rules: Array<[string, number[]]> = [
        ['BalancedDatasetSampler', balancedWeights(counts)],
        ['EffectNumSampler', effectiveNumberWeights(counts)],
        ['CBEffectNumSampler', classBasedEffectiveNumberWeights(counts)],
      ];
      for (const [rule, weights] of rules) {
        expect(maxRelativeError(weights, profile[rule].per_cls_weights), rule).toBeLessThan(1e-9);
        // The RW rules hand the normalised weights to the loss as float32.
        expect(maxRelativeError(normalizeWeights(weights), profile[rule].normalized_sum1_as_in_RW_rules), rule).toBeLessThan(1e-6);
      }
    });
  }

  it('keeps β in float32 for the class-based rule (a float64 β gives measurably different weights)', () => {
    const [, profile] = profiles.find(([name]) => name === 'cifar100_LT_IF100')!;
    const counts: number[] = profile.cls_num_list;
    const logMax = Math.log(Math.max(...counts));
    const delta = counts.map((n) => logMax - Math.log(n));
    const maxDelta = Math.max(...delta);
    const float64Weights = counts.map((n, j) => {
      const beta = 0.9999 + 1e-5 * (delta[j] / maxDelta);
      return (1 - beta) / (1 - Math.pow(beta, n));
    });
    const expected = profile.CBEffectNumSampler.per_cls_weights;
    expect(maxRelativeError(classBasedEffectiveNumberWeights(counts), expected)).toBeLessThan(1e-9);
    expect(maxRelativeError(float64Weights, expected)).toBeGreaterThan(1e-6);
  });
});

describe('weight input checks', () => {
  it.each([
    [() => balancedWeights([]), /counts must not be empty/],
    [() => balancedWeights([3, 0]), /counts\[1\] must be a positive finite integer/],
    [() => effectiveNumberWeights([3, 1.5]), /counts\[1\]/],
    [() => effectiveNumberWeights([3, 2], 1), /beta must be in \[0, 1\)/],
    [() => effectiveNumberWeights([3, 2], -0.1), /beta must be in \[0, 1\)/],
    [() => classBasedEffectiveNumberWeights([3, 2], { betaA: 2 }), /options\.betaA must be in \[0, 1\)/],
    [() => classBasedEffectiveNumberWeights([3, 2], { betaB: -1 }), /options\.betaB must be a finite number >= 0/],
    [() => classBasedEffectiveNumberWeights([3, 2], { betaA: 0.99999, betaB: 0.1 }), /β for class 1 is/],
    [() => classBasedEffectiveNumberWeights([3, 2], { beta: 0.9 } as never), /options\.beta is not a known option/],
    [() => normalizeWeights([0, 0]), /must not be all zero/],
    [() => normalizeWeights([1, Number.NaN]), /weights\[1\]/],
  ])('%#: throws a message naming the argument', (call, message) => {
    expect(call).toThrow(message);
  });

  it('equal counts give equal class-based weights instead of NaN', () => {
    const w = classBasedEffectiveNumberWeights([50, 50, 50]);
    expect(w.every((v) => Number.isFinite(v) && v === w[0])).toBe(true);
  });
});
