import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { batchNormTraining, getBatchNormReducer, setBatchNormReducer, syncBatchNormTraining, TorchBatchNorm, type BatchNormReducer } from '../src/index.js';

// Synchronised batch norm against one process. A reducer that doubles every sum with weight ½ is exactly a job of two
// replicas holding the same batch: the global moments are the local ones, the global count is 2n, and each
// replica's gradient of its own mean loss equals the single-process gradient. (The two-rank MPI run is
// packages/trainer/test/distributed.test.ts.)

function seeded(shape: number[], seed: number, offset = 0): tf.Tensor {
  return tf.add(tf.randomNormal(shape, 0, 1, 'float32', seed), offset);
}

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  if (x.length !== y.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

const twinReplicas = (): BatchNormReducer & { calls: number } => ({
  weight: 0.5,
  calls: 0,
  sum(values) {
    this.calls++;
    for (let i = 0; i < values.length; i++) values[i] *= 2;
  },
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(() => {
  setBatchNormReducer(null);
});

describe('syncBatchNormTraining', () => {
  for (const activation of ['linear', 'relu'] as const) {
    it(`${activation}: two identical replicas give the single-process output and gradients; the count is global`, () => {
      tf.tidy(() => {
        const shape = [4, 5, 5, 3];
        const x = seeded(shape, 1, 0.5);
        const gamma = seeded([3], 2, 1) as tf.Tensor1D;
        const beta = seeded([3], 3) as tf.Tensor1D;
        const dy = seeded(shape, 4);
        const reducer = twinReplicas();
        const local = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(batchNormTraining(a, b as tf.Tensor1D, c as tf.Tensor1D, 1e-5, activation).output, dy));
        const synced = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(syncBatchNormTraining(a, b as tf.Tensor1D, c as tf.Tensor1D, reducer, 1e-5, activation).output, dy));
        const expected = tf.grads(local)([x, gamma, beta]);
        const actual = tf.grads(synced)([x, gamma, beta]);
        actual.forEach((gradient, index) => expect(maxAbsDifference(gradient, expected[index]), `gradient ${index}`).toBeLessThan(1e-4));
        const result = syncBatchNormTraining(x, gamma, beta, reducer, 1e-5, activation);
        const reference = batchNormTraining(x, gamma, beta, 1e-5, activation);
        expect(maxAbsDifference(result.output, reference.output)).toBeLessThan(1e-5);
        expect(maxAbsDifference(result.mean, reference.mean)).toBeLessThan(1e-6);
        expect(maxAbsDifference(result.variance, reference.variance)).toBeLessThan(1e-5);
        expect(result.count).toBe(2 * 4 * 5 * 5);
        // The differentiated pass: Σx, Σ(x − μ)² forward, Σg with Σg·x̂ in one call backward; then one more forward.
        expect(reducer.calls).toBe(2 + 1 + 2);
      });
    });
  }

  it('TorchBatchNorm uses the installed reducer in training mode: running variance with the global count', () => {
    const layer = new TorchBatchNorm({ momentum: 1 });
    const x = seeded([2, 3, 3, 4], 5, 1);
    const previous = setBatchNormReducer(twinReplicas());
    expect(previous).toBeNull();
    expect(getBatchNormReducer()).not.toBeNull();
    tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    const n = 2 * 2 * 3 * 3;
    const { variance } = tf.moments(x, [0, 1, 2]);
    // momentum 1: running_var is the unbiased variance of this batch, with the global count 2n.
    const expected = tf.mul(variance, n / (n - 1));
    expect(maxAbsDifference(layer.getWeights()[3], expected)).toBeLessThan(1e-5);
    setBatchNormReducer(null);
    const before = tf.memory().numTensors;
    tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, variance, expected]);
  });

  it('refuses a bad reducer and a bad weight', () => {
    expect(() => setBatchNormReducer({} as BatchNormReducer)).toThrow(/sum\(values/);
    const x = seeded([2, 2, 2, 2], 6);
    const gamma = tf.ones([2]) as tf.Tensor1D;
    const beta = tf.zeros([2]) as tf.Tensor1D;
    const reducer = { weight: 0, sum() {} };
    expect(() => tf.grads((a: tf.Tensor) => tf.sum(syncBatchNormTraining(a, gamma, beta, reducer).output))([x])).toThrow(/weight must be in \(0, 1\]/);
    tf.dispose([x, gamma, beta]);
  });
});
