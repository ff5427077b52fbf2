import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  balancedSoftmaxLoss,
  CloudNoiseStream,
  crossEntropy,
  GCLAngularLoss,
  gclLoss,
  GCLLoss,
  logitAdjustedLoss,
  sampleCloudNoise,
} from '../src/index.js';

/** Cross-entropy of `logits + offsets` in float64, written independently of the library. */
function referenceOffsetCrossEntropy(logits: number[][], labels: number[], offsets: number[]): number {
  let total = 0;
  logits.forEach((row, i) => {
    const z = row.map((v, j) => v + offsets[j]);
    const max = Math.max(...z);
    const logSum = max + Math.log(z.reduce((a, v) => a + Math.exp(v - max), 0));
    total += logSum - z[labels[i]];
  });
  return total / logits.length;
}

const logitRows = [
  [1.5, -0.3, 0.2, 0.9],
  [-1.0, 2.2, 0.1, -0.4],
  [0.3, 0.3, -2.0, 1.1],
];
const labelValues = [0, 3, 2];
const counts = [500, 120, 40, 6];

describe('logit adjustment and balanced softmax', () => {
  it('logitAdjustedLoss equals CE(logit + τ log prior) computed independently', () => {
    const total = counts.reduce((a, b) => a + b, 0);
    for (const tau of [0, 0.5, 1, 2]) {
      const expected = referenceOffsetCrossEntropy(logitRows, labelValues, counts.map((n) => tau * Math.log(n / total)));
      const value = tf.tidy(() =>
        logitAdjustedLoss(tf.tensor2d(logitRows), tf.tensor1d(labelValues, 'int32'), { clsNumList: counts, tau }).dataSync()[0],
      );
      expect(Math.abs(value - expected) / expected).toBeLessThan(1e-5);
    }
  });
  it('balancedSoftmaxLoss equals CE(logit + log n) computed independently', () => {
    const expected = referenceOffsetCrossEntropy(logitRows, labelValues, counts.map((n) => Math.log(n)));
    const value = tf.tidy(() =>
      balancedSoftmaxLoss(tf.tensor2d(logitRows), tf.tensor1d(labelValues, 'int32'), { clsNumList: counts }).dataSync()[0],
    );
    expect(Math.abs(value - expected) / expected).toBeLessThan(1e-5);
  });
  it('crossEntropy with weights is the weighted mean Σ w_y ℓ / Σ w_y', () => {
    const weight = [0.1, 0.2, 0.3, 0.4];
    const perSample = logitRows.map((row, i) => referenceOffsetCrossEntropy([row], [labelValues[i]], [0, 0, 0, 0]));
    const expected =
      perSample.reduce((a, l, i) => a + weight[labelValues[i]] * l, 0) / labelValues.reduce((a, y) => a + weight[y], 0);
    const value = tf.tidy(() =>
      crossEntropy(tf.tensor2d(logitRows), tf.tensor1d(labelValues, 'int32'), { weight }).dataSync()[0],
    );
    expect(Math.abs(value - expected) / expected).toBeLessThan(1e-5);
  });
});

describe('noise', () => {
  it('sampleCloudNoise is clamped to [-1, 1] with standard deviation close to 1/3', () => {
    const values = tf.tidy(() => sampleCloudNoise([200, 100], 7).dataSync());
    let sum = 0;
    let sumSq = 0;
    for (const v of values) {
      expect(Math.abs(v)).toBeLessThanOrEqual(1);
      sum += v;
      sumSq += v * v;
    }
    const mean = sum / values.length;
    const std = Math.sqrt(sumSq / values.length - mean * mean);
    // Clamping at 3σ removes 0.27 % of the mass: the std of the clamped draw is ≈ 0.3297.
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(std).toBeGreaterThan(0.32);
    expect(std).toBeLessThan(0.34);
  });
});

describe('noise seeds', () => {
  const draw = (seed: number | undefined) => tf.tidy(() => Array.from(sampleCloudNoise([3, 5], seed).dataSync()));

  it('seed 0 is a seed like any other (tfjs alone would take 0 for "no seed" and draw from Math.random)', () => {
    expect(draw(0)).toEqual(draw(0));
    expect(draw(0)).not.toEqual(draw(1));
    // The same holds through a stream that reaches 0 and through GCLLoss.
    const stream = () => new CloudNoiseStream(-1);
    const [a, b] = [stream(), stream()];
    tf.dispose([a.next([3, 5]), b.next([3, 5])]);
    expect(tf.tidy(() => Array.from(a.next([3, 5]).dataSync()))).toEqual(tf.tidy(() => Array.from(b.next([3, 5]).dataSync())));
    const cosine = tf.tensor2d([[0.6, -0.2, 0.1, 0.3]]);
    const labels = tf.tensor1d([0], 'int32');
    const lossValue = () => tf.tidy(() => new GCLLoss({ clsNumList: counts, seed: 0 }).call(cosine, labels).dataSync()[0]);
    expect(lossValue()).toBe(lossValue());
    tf.dispose([cosine, labels]);
  });

  it('every other seed draws what tfjs draws for it: clamp(N(0, 1/3)), unchanged', () => {
    for (const seed of [1, 7, 42, -3]) {
      const expected = tf.tidy(() => Array.from(tf.clipByValue(tf.randomNormal([3, 5], 0, 1 / 3, 'float32', seed), -1, 1).dataSync()));
      expect(draw(seed)).toEqual(expected);
    }
  });

  it('rejects a seed that is not a finite number, naming it', () => {
    expect(() => sampleCloudNoise([2, 2], Number.NaN)).toThrow(/seed/);
    expect(() => sampleCloudNoise([2, 2], Number.POSITIVE_INFINITY)).toThrow(/seed/);
  });
});

describe('GCLLoss (draws its own noise)', () => {
  const cosine = tf.tensor2d([
    [0.6, -0.2, 0.1, 0.3],
    [0.1, 0.7, -0.5, 0.2],
  ]);
  const labels = tf.tensor1d([0, 1], 'int32');

  it('equals gclLoss with the noise of the same seed stream', () => {
    const loss = new GCLLoss({ clsNumList: counts, seed: 42 });
    const first = loss.call(cosine, labels);
    const second = loss.call(cosine, labels);
    const noise0 = sampleCloudNoise([2, 4], 42);
    const noise1 = sampleCloudNoise([2, 4], 43);
    const expected0 = gclLoss(cosine, labels, noise0, { clsNumList: counts });
    const expected1 = gclLoss(cosine, labels, noise1, { clsNumList: counts });
    expect(first.dataSync()[0]).toBeCloseTo(expected0.dataSync()[0], 6);
    expect(second.dataSync()[0]).toBeCloseTo(expected1.dataSync()[0], 6);
    expect(first.dataSync()[0]).not.toBe(second.dataSync()[0]);
    tf.dispose([first, second, noise0, noise1, expected0, expected1]);
  });

  it('resumes its noise stream from getState/setState', () => {
    const a = new GCLLoss({ clsNumList: counts, seed: 3 });
    tf.dispose(a.call(cosine, labels));
    const state = a.getState();
    const nextA = a.call(cosine, labels);
    const b = new GCLLoss({ clsNumList: counts, seed: 3 });
    b.setState(state);
    const nextB = b.call(cosine, labels);
    expect(nextB.dataSync()[0]).toBe(nextA.dataSync()[0]);
    tf.dispose([nextA, nextB]);
  });

  it('trains a cosine classifier with optimizer.minimize and does not leak tensors', () => {
    const features = tf.randomNormal([32, 8], 0, 1, 'float32', 1);
    const targets = tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 4), 'int32');
    const weights = tf.variable(tf.randomNormal([8, 4], 0, 1, 'float32', 2));
    const optimizer = tf.train.sgd(0.5);
    const gcl = new GCLLoss({ clsNumList: counts, seed: 5 });
    const angular = new GCLAngularLoss({ clsNumList: counts, seed: 5 });
    const step = (loss: { call: (c: tf.Tensor2D, l: tf.Tensor1D) => tf.Scalar }) =>
      optimizer.minimize(
        () => {
          const cos = tf.matMul(tf.div(features, tf.norm(features, 2, 1, true)), tf.div(weights, tf.norm(weights, 2, 0, true)));
          return loss.call(cos as tf.Tensor2D, targets);
        },
        true,
      )!;
    const firstLoss = step(gcl);
    tf.dispose(step(angular)); // first use of each path creates the optimiser's slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) tf.dispose(step(i % 2 === 0 ? gcl : angular));
    expect(tf.memory().numTensors).toBe(before);
    const finalGcl = step(gcl);
    expect(finalGcl.dataSync()[0]).toBeLessThan(firstLoss.dataSync()[0]);
    tf.dispose([features, targets, weights, firstLoss, finalGcl]);
  });
});

describe('no tensor leaks', () => {
  it('repeated loss and gradient evaluations keep tf.memory().numTensors flat', () => {
    const cosine = tf.tensor2d([[0.5, -0.5, 0.2, 0.1]]);
    const labels = tf.tensor1d([2], 'int32');
    const noise = tf.tensor2d([[0.3, -0.2, 0.9, -1]]);
    const options = { clsNumList: counts, m: 0.1, s: 20, focalReduction: true, gamma: 1, weight: [1, 2, 3, 4] };
    const run = () => {
      const { value, grad } = tf.valueAndGrad((c: tf.Tensor) => gclLoss(c as tf.Tensor2D, labels, noise, options))(cosine);
      tf.dispose([value, grad]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([cosine, labels, noise]);
  });
});
