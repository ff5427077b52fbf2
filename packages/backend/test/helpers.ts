import * as tf from '@tensorflow/tfjs';
import { setUpWasmBackend } from '../src/index.js';

/** Deterministic pseudo-random values in [-1, 1) (LCG), so every backend sees the same inputs. */
export function seededValues(size: number, seed: number): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = state / 2 ** 31 - 1;
  }
  return values;
}

/**
 * Initial weights from a fixed seed, so every run checks the same trajectory: kernels uniform with variance
 * 1/fan-in (LeCun-like, reproducible unlike the models' own initialisers); vectors (batch norm γ/β and running
 * statistics) keep their constant initial values.
 */
export function seededWeights(model: tf.LayersModel, seed: number): Float32Array[] {
  return model.getWeights().map((weight, index) => {
    if (weight.rank < 2) return Float32Array.from(weight.dataSync());
    const fanIn = weight.size / weight.shape[weight.rank - 1];
    return seededValues(weight.size, seed + index).map((value) => value * Math.sqrt(3 / fanIn));
  });
}

/** max |actual − expected| / max |expected| (the relative error the issue bounds by 1e-4). */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let difference = 0;
  let scale = 0;
  for (let index = 0; index < expected.length; index += 1) {
    difference = Math.max(difference, Math.abs(actual[index] - expected[index]));
    scale = Math.max(scale, Math.abs(expected[index]));
  }
  return difference / Math.max(scale, 1e-30);
}

/** Runs `compute` on the given backend and returns plain arrays (tensors disposed). */
export async function onBackend(
  backend: 'cpu' | 'wasm',
  compute: () => tf.Tensor[],
): Promise<Float32Array[]> {
  if (backend === 'wasm') await setUpWasmBackend();
  else await tf.setBackend('cpu');
  const outputs = tf.tidy(compute);
  const values = outputs.map((tensor) => tensor.dataSync() as Float32Array);
  tf.dispose(outputs);
  return values.map((array) => Float32Array.from(array));
}
