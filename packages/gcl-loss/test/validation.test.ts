import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  balancedSoftmaxLoss,
  cloudSizes,
  crossEntropy,
  focalLoss,
  gclAngularLoss,
  GCLAngularLoss,
  gclLoss,
  GCLLoss,
  ldamLoss,
  logitAdjustedLoss,
} from '../src/index.js';

const counts = [100, 30, 10];
const scores = tf.tensor2d([
  [0.2, -0.1, 0.4],
  [0.9, 0.3, -0.5],
]);
const labels = tf.tensor1d([0, 2], 'int32');
const noise = tf.zeros([2, 3]) as tf.Tensor2D;
afterAll(() => tf.dispose([scores, labels, noise]));

describe('cloudSizes input checks', () => {
  it('gives zeros, not NaN, for equal counts', () => {
    expect(cloudSizes([7, 7, 7])).toEqual([0, 0, 0]);
  });
  it.each([
    [[], /clsNumList must not be empty/],
    [[10, 0], /clsNumList\[1\] must be a positive finite integer, got 0/],
    [[10, -3], /clsNumList\[1\]/],
    [[10, 2.5], /clsNumList\[1\]/],
    [[10, Infinity], /clsNumList\[1\]/],
    [[10, Number.NaN], /clsNumList\[1\]/],
    ['10', /clsNumList must be an array/],
  ])('rejects %j', (bad, message) => {
    expect(() => cloudSizes(bad as number[])).toThrow(message);
  });
});

type Call = (s: tf.Tensor2D, l: tf.Tensor1D, options?: any) => tf.Scalar;
const losses: Array<[string, Call, Record<string, unknown>]> = [
  ['gclLoss', (s, l, o) => gclLoss(s, l, noise, o), { clsNumList: counts }],
  ['gclAngularLoss', (s, l, o) => gclAngularLoss(s, l, noise, o), { clsNumList: counts }],
  ['crossEntropy', crossEntropy, {}],
  ['focalLoss', focalLoss, {}],
  ['ldamLoss', ldamLoss, { clsNumList: counts }],
  ['logitAdjustedLoss', logitAdjustedLoss, { clsNumList: counts }],
  ['balancedSoftmaxLoss', balancedSoftmaxLoss, { clsNumList: counts }],
];

describe.each(losses)('%s input checks', (_name, call, base) => {
  it('accepts valid input', () => {
    const value = call(scores, labels, base);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    value.dispose();
  });
  it('rejects a label out of range, naming it', () => {
    const bad = tf.tensor1d([0, 3], 'int32');
    expect(() => call(scores, bad, base)).toThrow(/labels\[1\] = 3 is out of range \[0, 3\)/);
    bad.dispose();
  });
  it('rejects float labels', () => {
    const bad = tf.tensor1d([0, 2], 'float32');
    expect(() => call(scores, bad, base)).toThrow(/labels must be int32/);
    bad.dispose();
  });
  it('rejects a label count that does not match the batch', () => {
    const bad = tf.tensor1d([0], 'int32');
    expect(() => call(scores, bad, base)).toThrow(/labels must have one entry per row \(2\)/);
    bad.dispose();
  });
  it('rejects a rank-1 score tensor', () => {
    const bad = tf.tensor1d([0.1, 0.2]);
    expect(() => call(bad as unknown as tf.Tensor2D, labels, base)).toThrow(/must be rank 2/);
    bad.dispose();
  });
  it('rejects a non-tensor', () => {
    expect(() => call([[0.1]] as unknown as tf.Tensor2D, labels, base)).toThrow(/must be a tf\.Tensor2D/);
  });
  it('rejects an unknown option', () => {
    expect(() => call(scores, labels, { ...base, noise_mul: 1 })).toThrow(/options\.noise_mul is not a known option/);
  });
  if ('clsNumList' in base) {
    it('rejects class counts that do not match the columns', () => {
      expect(() => call(scores, labels, { ...base, clsNumList: [5, 4] })).toThrow(/3 columns but options\.clsNumList has 2/);
    });
    it('rejects a zero count', () => {
      expect(() => call(scores, labels, { ...base, clsNumList: [5, 0, 3] })).toThrow(/options\.clsNumList\[1\]/);
    });
  }
});

describe('option ranges', () => {
  it.each([
    [{ s: 0 }, /options\.s must be > 0/],
    [{ s: Number.NaN }, /options\.s must be a finite number/],
    [{ m: -0.1 }, /options\.m must be >= 0/],
    [{ noiseMul: -1 }, /options\.noiseMul must be >= 0/],
    [{ gamma: -1 }, /options\.gamma must be >= 0/],
    [{ focalReduction: 1 }, /options\.focalReduction must be a boolean/],
    [{ weight: [1, 2] }, /options\.weight must have one entry per class \(3\), got 2/],
    [{ weight: [1, -2, 1] }, /options\.weight\[1\]/],
    [{ weight: [0, 0, 0] }, /options\.weight must not be all zero/],
  ])('gclLoss rejects %j', (extra, message) => {
    expect(() => gclLoss(scores, labels, noise, { clsNumList: counts, ...(extra as object) })).toThrow(message);
  });
  it('gclLoss rejects noise of the wrong shape', () => {
    const bad = tf.zeros([2, 2]) as tf.Tensor2D;
    expect(() => gclLoss(scores, labels, bad, { clsNumList: counts })).toThrow(/noise must have the shape of cosine \[2, 3\]/);
    bad.dispose();
  });
  it.each([
    [{ epsilon: -0.1 }, /options\.epsilon must be >= 0/],
    [{ easyMargin: 'yes' }, /options\.easyMargin must be a boolean/],
  ])('gclAngularLoss rejects %j', (extra, message) => {
    expect(() => gclAngularLoss(scores, labels, noise, { clsNumList: counts, ...(extra as object) })).toThrow(message);
  });
  it('ldamLoss rejects a negative maxM and logitAdjustedLoss a negative tau', () => {
    expect(() => ldamLoss(scores, labels, { clsNumList: counts, maxM: -1 })).toThrow(/options\.maxM must be >= 0/);
    expect(() => logitAdjustedLoss(scores, labels, { clsNumList: counts, tau: -1 })).toThrow(/options\.tau must be >= 0/);
  });
  it('GCLLoss and GCLAngularLoss reject bad options at construction', () => {
    expect(() => new GCLLoss({ clsNumList: counts, seed: -1 })).toThrow(/options\.seed must be >= 0/);
    expect(() => new GCLAngularLoss({ clsNumList: [] })).toThrow(/options\.clsNumList must not be empty/);
  });
});

describe('equal class counts', () => {
  it('gclLoss equals cross-entropy of s·cos (no noise) instead of NaN', () => {
    const big = tf.ones([2, 3]) as tf.Tensor2D;
    const gcl = gclLoss(scores, labels, big, { clsNumList: [5, 5, 5], s: 30 });
    const ce = crossEntropy(tf.mul(scores, 30) as tf.Tensor2D, labels);
    expect(gcl.dataSync()[0]).toBeCloseTo(ce.dataSync()[0], 5);
    tf.dispose([big, gcl, ce]);
  });
});
