import * as tf from '@tensorflow/tfjs';

import { registerNativeBackend } from '../src/index.js';

export const info = registerNativeBackend({ countCalls: true });

/** Deterministic pseudo-random values in [-1, 1) (xorshift), so failures reproduce. */
export function randomValues(size: number, seed: number): Float32Array {
  let state = (seed * 2654435761) >>> 0 || 1;
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    values[i] = state / 2147483648 - 1;
  }
  return values;
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomValues(shape.reduce((p, q) => p * q, 1), seed), shape);
}

/** Runs `compute` on a backend with inputs built there from plain data; returns shape and values. */
export function runOn(
  backend: 'cpu' | 'native',
  inputs: Array<{ shape: number[]; values: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>,
  compute: (...tensors: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Array<{ shape: number[]; values: Float32Array }> {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const tensors = inputs.map((input) => tf.tensor(input.values, input.shape, input.dtype ?? 'float32'));
    const result = compute(...tensors);
    const list = Array.isArray(result) ? result : [result];
    return list.map((tensor) => ({ shape: tensor.shape, values: tensor.dataSync() as Float32Array }));
  });
}

/** Max of |a − b| / max(1, |b|) over all elements (b = reference). */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    const error = Math.abs(a - b) / Math.max(1, Math.abs(b));
    if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
  }
  return worst;
}

/** Compares native against cpu for the same computation; returns the max relative error. */
export function compareBackends(
  shapes: number[][],
  compute: (...tensors: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  seed = 1,
): number {
  const inputs = shapes.map((shape, index) => ({
    shape,
    values: randomValues(shape.reduce((p, q) => p * q, 1), seed * 31 + index),
  }));
  const expected = runOn('cpu', inputs, compute);
  const actual = runOn('native', inputs, compute);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    if (expected[i].shape.join(',') !== actual[i].shape.join(',')) {
      throw new Error(`shape mismatch: native [${actual[i].shape}] vs cpu [${expected[i].shape}]`);
    }
    worst = Math.max(worst, maxRelativeError(actual[i].values, expected[i].values));
  }
  return worst;
}
