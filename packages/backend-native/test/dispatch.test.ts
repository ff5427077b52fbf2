import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import {
  getDetectedSimdLevel,
  getNumThreads,
  getSimdLevel,
  setNumThreads,
  setSimdLevel,
  type SimdLevel,
} from '../src/index.js';
import { compareBackends, info } from './helpers.js';

const TOLERANCE = 1e-4;
const LEVELS: SimdLevel[] = ['avx512', 'avx2', 'scalar'];
const rank = (level: SimdLevel) => LEVELS.length - 1 - LEVELS.indexOf(level);

/** A mix of every kernel family, compared against the cpu backend. */
function kernelMixError(seed: number): number {
  return compareBackends(
    [
      [2, 9, 9, 17], [3, 3, 17, 19], [19], [37, 29], [29, 23], [2, 10, 9, 16], [3, 3, 16, 32], [3, 3, 32, 32],
      [1, 4, 26, 16], [3, 3, 16, 16], [3, 3, 16, 24], [3, 3, 16, 20], [2, 12, 11, 3], [3, 3, 3, 16], [1, 15, 13, 3], [7, 7, 3, 32],
    ],
    (x, w, b, p, q, u, v1, v2, wide, f16, f24, f20, rgb, stem3, rgbLarge, stem7) => {
      // RGB stems: the direct row-run forward and filter gradient (3x3 stride 1, 7x7 stride 2).
      const stems = [[rgb, stem3, 1], [rgbLarge, stem7, 2]].flatMap(([image, filter, stride]) => {
        const y = tf.conv2d(image as tf.Tensor4D, filter as tf.Tensor4D, stride as number, 'same');
        const dy = tf.sin(tf.range(0, y.size)).reshape(y.shape);
        return [y, tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(image as tf.Tensor4D, f as tf.Tensor4D, stride as number, 'same'), dy)))(filter as tf.Tensor)];
      });
      // Rows of >= 24 pixels and an odd number of output vectors (16 / 24 / 20 channels on AVX-512 / AVX2 /
      // scalar): the fused three-tap filter-gradient tile.
      const wideGradients = [f16, f24, f20].map((f) =>
        tf.grad((g: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(wide as tf.Tensor4D, g as tf.Tensor4D, 1, 'same'), tf.sin(tf.range(0, 4 * 26 * f.shape[3]!)).reshape([1, 4, 26, f.shape[3]!]))))(f),
      );
      // 16/32 channels: the direct convolutions (forward, stride-1 and stride-2 input gradient, filter gradient).
      // A loss linear in both convolutions, so the comparison does not amplify rounding differences.
      const weights = tf.sin(tf.range(0, 2 * 5 * 5 * 32)).reshape([2, 5, 5, 32]);
      const direct = tf.grads((a: tf.Tensor, f: tf.Tensor, g: tf.Tensor) => {
        const z = tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 2, 'same');
        return tf.sum(tf.mul(tf.conv2d(z as tf.Tensor4D, g as tf.Tensor4D, 1, 'same'), weights));
      })([u, v1, v2]);
      const y = tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation: 'relu' });
      const [dx, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) => {
        const z = tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same');
        const { mean, variance } = tf.moments(z, [0, 1, 2]);
        return tf.sum(tf.mul(tf.relu(tf.batchNorm(z, mean, variance, tf.zerosLike(mean), tf.onesLike(mean), 1e-3)), tf.sin(z)));
      })([x, w]);
      return [y, dx, dw, ...direct, ...wideGradients, ...stems, tf.matMul(p, q), tf.sum(tf.square(tf.sub(y, tf.mean(y, [0, 1, 2]))), [0, 1, 2]), tf.max(p, 1)];
    },
    seed,
  );
}

describe('SIMD dispatch levels', () => {
  const detected = getDetectedSimdLevel();
  afterAll(() => {
    setSimdLevel(detected);
  });

  it('reports the detected level and starts on it', () => {
    expect(LEVELS).toContain(detected);
    expect(info.detectedSimdLevel).toBe(detected);
    expect(getSimdLevel()).toBe(process.env.LONGTAIL_SIMD ?? detected);
  });

  for (const level of LEVELS) {
    it(`level '${level}' matches the cpu backend`, (context) => {
      if (rank(level) > rank(detected)) {
        context.skip(`this CPU supports only up to '${detected}'`);
        return;
      }
      expect(setSimdLevel(level)).toBe(level);
      expect(getSimdLevel()).toBe(level);
      expect(kernelMixError(3)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('rejects unknown levels and levels above the CPU', () => {
    expect(() => setSimdLevel('sse9' as SimdLevel)).toThrow(/level/);
    if (detected !== 'avx512') expect(() => setSimdLevel('avx512')).toThrow(/does not support/);
  });
});

describe('thread pool', () => {
  const initial = getNumThreads();
  afterAll(() => {
    setNumThreads(initial);
  });

  it('defaults to LONGTAIL_NUM_THREADS or the number of cores', async () => {
    const os = await import('node:os');
    const expected = process.env.LONGTAIL_NUM_THREADS ? Number(process.env.LONGTAIL_NUM_THREADS) : os.availableParallelism();
    expect(initial).toBe(expected);
  });

  for (const threads of [1, 3]) {
    it(`${threads} thread(s) give the same results`, () => {
      expect(setNumThreads(threads)).toBe(threads);
      expect(kernelMixError(5)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('validates the thread count', () => {
    expect(() => setNumThreads(0)).toThrow(/threads/);
    expect(() => setNumThreads(1.5)).toThrow(/threads/);
  });
});
