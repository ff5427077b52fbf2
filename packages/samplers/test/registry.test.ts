/**
 * The sampler / weight-rule registry: the built-ins are what `createSampler` builds, and a rule registered from
 * outside becomes both a loss weighting (`classWeights`) and a sampler, with the frequencies its weights say.
 */
import { describe, expect, it } from 'vitest';
import {
  classCounts,
  classWeights,
  createSampler,
  DEFAULT_DRW_WEIGHTING,
  DEFAULT_SAMPLERS,
  getSampler,
  getWeightRule,
  NO_WEIGHTING,
  registerSampler,
  registerWeightRule,
  samplerNames,
  ShuffleSampler,
  weightingNames,
  weightRuleNames,
} from '../src/index.js';

const counts = [40, 20, 10, 5];
const labels = Int32Array.from(counts.flatMap((n, c) => new Array<number>(n).fill(c)));

describe('sampler and weight-rule registry', () => {
  it('lists the built-ins once, with the paper protocol as defaults', () => {
    expect(weightRuleNames()).toEqual(['balanced', 'effective-number', 'class-based-effective-number']);
    expect(weightingNames().slice(0, 4)).toEqual([NO_WEIGHTING, 'balanced', 'effective-number', 'class-based-effective-number']);
    expect(NO_WEIGHTING).toBe('none');
    expect(DEFAULT_SAMPLERS).toEqual({ stage1: 'none', stage2: 'class-based-effective-number' });
    expect(DEFAULT_DRW_WEIGHTING).toBe('effective-number');
    expect(getSampler('none').create(labels, { seed: 1 })).toBeInstanceOf(ShuffleSampler);
  });

  it('classWeights normalises a rule to sum 1 (balanced: 1/n_j / Σ 1/n) and is null for none', () => {
    const inverse = counts.map((n) => 1 / n);
    const total = inverse.reduce((a, b) => a + b, 0);
    const got = classWeights('balanced', counts)!;
    got.forEach((w, j) => expect(w).toBeCloseTo(inverse[j] / total, 14));
    expect(classWeights(NO_WEIGHTING, counts)).toBeNull();
    // Effective number with the rule's option β = 0.5: (1 − β)/(1 − β^n), normalised.
    const raw = counts.map((n) => 0.5 / (1 - 0.5 ** n));
    const sum = raw.reduce((a, b) => a + b, 0);
    classWeights('effective-number', counts, { beta: 0.5 })!.forEach((w, j) => expect(w).toBeCloseTo(raw[j] / sum, 14));
    expect(() => classWeights('inverse-cube', counts)).toThrow(/unknown weight rule "inverse-cube" \(registered: balanced, effective-number/);
  });

  it('a weight rule registered from outside is a weighting and a sampler with its frequencies', () => {
    // w_j = n_j^-2: the sampler draws class j with probability ∝ n_j · n_j^-2 = 1/n_j.
    registerWeightRule({ name: 'test-inverse-square', description: 'n^-2', weights: (n) => n.map((c) => 1 / (c * c)) });
    expect(weightRuleNames()).toContain('test-inverse-square');
    expect(samplerNames()).toContain('test-inverse-square');
    expect(weightingNames()).toContain('test-inverse-square');
    const epoch = createSampler('test-inverse-square', labels, { seed: 3, numSamples: 60_000 }).sample();
    const observed = classCounts(Array.from(epoch, (i) => labels[i]), counts.length);
    const mass = counts.map((n) => 1 / n);
    const total = mass.reduce((a, b) => a + b, 0);
    observed.forEach((o, j) => expect(o / epoch.length).toBeCloseTo(mass[j] / total, 2));
    const squares = counts.map((n) => 1 / (n * n));
    const sum = squares.reduce((a, b) => a + b, 0);
    classWeights('test-inverse-square', counts)!.forEach((w, j) => expect(w).toBeCloseTo(squares[j] / sum, 14));
    expect(getWeightRule('test-inverse-square').description).toBe('n^-2');
  });

  it('a sampler registered from outside is built by createSampler; names are not taken twice', () => {
    registerSampler({ name: 'test-reverse', description: 'indices backwards', create: (l) => {
      const order = Int32Array.from({ length: l.length }, (_, i) => l.length - 1 - i);
      return { numSamples: l.length, sample: () => order.slice(), getState: () => ({ kind: 'reverse', random: [1, 0, 0, 0] }), setState: () => {}, *[Symbol.iterator]() { yield* order; } };
    } });
    expect(Array.from(createSampler('test-reverse', [0, 1, 1], { seed: 0 }).sample())).toEqual([2, 1, 0]);
    expect(() => registerSampler({ name: 'none', description: '', create: () => new ShuffleSampler({ length: 1, seed: 0 }) })).toThrow(/a sampler named "none" is already registered/);
    expect(() => registerWeightRule({ name: 'balanced', description: '', weights: (n) => n })).toThrow(/a weight rule named "balanced" is already registered/);
    // Not a weight rule but a sampler of that name: its weighted sampler would replace class-aware silently.
    expect(() => registerWeightRule({ name: 'class-aware', description: '', weights: (n) => n })).toThrow(/a sampler named "class-aware" is already registered/);
    expect(weightRuleNames()).not.toContain('class-aware');
    expect(() => registerWeightRule({ name: 'none', description: '', weights: (n) => n })).toThrow(/spec\.name must be a lower-case name/);
    expect(() => registerSampler({ name: 'Bad Name', description: '', create: () => new ShuffleSampler({ length: 1, seed: 0 }) })).toThrow(/spec\.name must be a lower-case name/);
  });
});
