import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { getKernelCallCounts } from '../src/index.js';
import { compareBackends, runOn } from './helpers.js';

const TOLERANCE = 1e-4;

describe('element-wise binary kernels with broadcasting match the cpu backend', () => {
  const patterns: Array<[string, number[], number[]]> = [
    ['same shape', [2, 5, 5, 19], [2, 5, 5, 19]],
    ['scalar right', [3, 7, 33], []],
    ['scalar left', [1], [4, 9, 17]],
    ['channel vector', [2, 6, 6, 21], [21]],
    ['keepDims channel vector', [2, 6, 6, 16], [1, 1, 1, 16]],
    ['trailing block', [3, 4, 5, 6], [5, 6]],
    ['vector left', [13], [3, 5, 13]],
    ['leading column', [37, 10], [37, 1]],
    ['leading column left', [37, 1], [37, 10]],
    ['outer product', [9, 1], [1, 11]],
    ['large same shape (threaded)', [8, 32, 32, 16], [8, 32, 32, 16]],
    ['large channel vector (threaded)', [8, 32, 32, 16], [16]],
    ['middle broadcast', [4, 5, 6], [4, 1, 6]],
    ['mean over H,W kept', [3, 1, 1, 16], [3, 5, 7, 16]],
    ['two broadcast blocks (cpu fallback)', [4, 1, 6, 1], [4, 5, 6, 3]],
  ];
  const operations: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
    ['maximum', tf.maximum],
    ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
  ];
  for (const [pattern, aShape, bShape] of patterns) {
    it(pattern, () => {
      for (const [name, operation] of operations) {
        const error = compareBackends([aShape, bShape], operation);
        expect(error, name).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }

  it('int32 inputs use the cpu kernel and stay int32', () => {
    const inputs = [
      { shape: [4], values: Int32Array.from([1, 2, 3, 4]), dtype: 'int32' as const },
      { shape: [4], values: Int32Array.from([5, 6, 7, 8]), dtype: 'int32' as const },
    ];
    const native = runOn('native', inputs, (a, b) => tf.add(a, b));
    expect(Array.from(native[0].values)).toEqual([6, 8, 10, 12]);
  });
});

describe('unary kernels', () => {
  const unary: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
    ['relu', tf.relu],
    ['exp', tf.exp],
    ['log', (x) => tf.log(tf.add(tf.abs(x), 0.1))],
    ['rsqrt', (x) => tf.rsqrt(tf.add(tf.abs(x), 0.1))],
    ['sqrt', (x) => tf.sqrt(tf.abs(x))],
    ['square', tf.square],
    ['neg', tf.neg],
    ['abs', tf.abs],
    ['step', (x) => tf.step(x, 0.3)],
    ['sigmoid', tf.sigmoid],
    ['relu gradient (mul(dy, step(x)))', (x) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), tf.sin(v))))(x)],
    ['square gradient', (x) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.square(v), tf.sin(v))))(x)],
    ['mean gradient', (x) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(v, -1, true), tf.sin(v))))(x)],
  ];
  for (const shape of [[7], [3, 5, 5, 17], [4, 32, 32, 16]]) {
    it(`shape [${shape}]`, () => {
      for (const [name, operation] of unary) {
        expect(compareBackends([shape], operation), name).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
  it('keeps NaN like the cpu backend', () => {
    const inputs = [{ shape: [3], values: Float32Array.from([NaN, -1, 2]) }];
    for (const operation of [tf.relu, (x: tf.Tensor) => tf.step(x), (x: tf.Tensor) => tf.maximum(x, 0)]) {
      const cpu = runOn('cpu', inputs, operation)[0].values;
      const native = runOn('native', inputs, operation)[0].values;
      expect(Array.from(native)).toEqual(Array.from(cpu));
    }
  });
});

describe('reductions', () => {
  const cases: Array<[number[], number | number[], boolean]> = [
    [[4, 6, 6, 16], [0, 1, 2], false],
    [[4, 6, 6, 16], [0, 1, 2], true],
    [[4, 6, 6, 16], [1, 2], false],
    [[4, 6, 6, 16], [1, 2], true],
    [[5, 13], 1, false],
    [[5, 13], 0, true],
    [[5, 13], -1, true],
    [[3, 4, 5], [0, 1, 2], false],
    [[16, 64, 64, 16], [0, 1, 2], false],
    [[9, 10001], 1, false],
    [[3, 4, 5], [0, 2], false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    it(`sum/mean/max/min over ${JSON.stringify(axis)} of [${shape}] keepDims=${keepDims}`, () => {
      for (const [name, operation] of [
        ['sum', tf.sum],
        ['mean', tf.mean],
        ['max', tf.max],
        ['min', tf.min],
      ] as const) {
        const error = compareBackends([shape], (x) => operation(x, axis, keepDims));
        expect(error, name).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
  it('moments (batch-norm statistics) and softmax cross-entropy', () => {
    const error = compareBackends([[8, 8, 8, 16], [32, 10]], (x, logits) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const labels = tf.oneHot(tf.range(0, 32, 1, 'int32').mod(tf.scalar(10, 'int32')), 10);
      return [mean, variance, tf.losses.softmaxCrossEntropy(labels, logits), tf.logSoftmax(logits)];
    });
    expect(error).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('layout and batch-norm kernels', () => {
  it('transpose for common permutations', () => {
    for (const [shape, perm] of [
      [[2, 3, 4, 5], [0, 3, 1, 2]],
      [[2, 3, 4, 5], [0, 2, 3, 1]],
      [[7, 9], [1, 0]],
      [[3, 4, 5], [2, 1, 0]],
      [[64, 33, 17], [1, 0, 2]],
    ] as Array<[number[], number[]]>) {
      expect(compareBackends([shape], (x) => tf.transpose(x, perm)), `${perm}`).toBe(0);
    }
  });
  it('tile (broadcastTo) for float32 and int32', () => {
    for (const [shape, reps] of [
      [[1, 1, 1, 16], [4, 8, 8, 1]],
      [[3, 1], [2, 5]],
      [[2, 3], [3, 2]],
      [[5], [4]],
    ] as Array<[number[], number[]]>) {
      expect(compareBackends([shape], (x) => tf.tile(x, reps)), `${reps}`).toBe(0);
    }
    const ints = [{ shape: [2], values: Int32Array.from([7, -3]), dtype: 'int32' as const }];
    expect(Array.from(runOn('native', ints, (x) => tf.tile(x, [3]))[0].values)).toEqual([7, -3, 7, -3, 7, -3]);
  });
  it('FusedBatchNorm forward and its gradient path', () => {
    const error = compareBackends([[4, 6, 6, 12], [12], [12], [12], [12]], (x, mean, varianceRaw, offset, scale) => {
      const variance = tf.add(tf.abs(varianceRaw), 0.1);
      const y = tf.batchNorm(x, mean, variance, offset, scale, 1e-3);
      const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const moments = tf.moments(a, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(a, moments.mean, moments.variance, b, g, 1e-3), tf.sin(a)));
      })([x, scale, offset]);
      return [y, ...grads];
    });
    expect(error).toBeLessThanOrEqual(TOLERANCE);
  });
  it('slice, pad and the option-A shortcut (1x1 strided avgPool) with gradients', () => {
    const error = compareBackends([[4, 8, 8, 16], [3, 5, 7]], (x, y) => {
      const shortcut = (t: tf.Tensor) => tf.pad(tf.avgPool(t as tf.Tensor4D, 1, 2, 'valid'), [[0, 0], [0, 0], [0, 0], [8, 8]]);
      const gradient = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(shortcut(t), tf.sin(shortcut(t)))))(x);
      return [
        shortcut(x),
        gradient,
        tf.slice(y, [1, 2, 3], [2, 2, 3]),
        tf.slice(y, [0, 1, 0], [3, 3, 7]),
        tf.pad(y, [[1, 0], [0, 2], [3, 1]], 0.5),
        tf.avgPool(x as tf.Tensor4D, 1, [2, 3], 'same'),
      ];
    });
    expect(error).toBe(0);
  });

  it('gather (the mixup partner batch) along every axis, float32 and int32, and its gradient', () => {
    const error = compareBackends([[6, 5, 4, 3], [7, 9]], (x, y) => {
      const rows = tf.tensor1d([5, 0, 0, 3, 1, 2], 'int32');
      const gradient = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, rows), tf.sin(tf.gather(t, rows)))))(x);
      return [
        tf.gather(x, rows),
        tf.gather(x, tf.tensor2d([[1, 2], [4, 4]], [2, 2], 'int32'), 1),
        tf.gather(x, tf.tensor1d([3, 0, 2], 'int32'), 2),
        tf.gather(x, tf.tensor1d([2, 2, 0, 1], 'int32'), -1),
        tf.cast(tf.gather(tf.cast(tf.mul(y, 100), 'int32'), tf.tensor1d([6, 1], 'int32')), 'float32'),
        tf.gather(y, tf.tensor1d([], 'int32')),
        gradient,
      ];
    });
    expect(error).toBe(0);
    // An index out of range is the cpu kernel's error, as without the native kernel.
    expect(() => tf.gather(tf.zeros([3, 4]), tf.tensor1d([3], 'int32'))).toThrow(/index value 3 is not in \[0, 2\]/);
  });

  it('served these kernels natively', () => {
    const counts = getKernelCallCounts();
    for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Relu', 'Exp', 'Log', 'Rsqrt', 'Square',
      'Sum', 'Mean', 'Max', 'Tile', 'Transpose', 'FusedBatchNorm', 'Step', 'Slice', 'GatherV2', 'PadV2', 'AvgPool', 'AvgPoolGrad',
      'LongtailReluGrad', 'LongtailSquareGrad', 'LongtailMeanGrad', 'LongtailBatchNormGrad']) {
      expect(counts[name]?.native ?? 0, name).toBeGreaterThan(0);
    }
  });
});
