import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { maxRelativeError, onBackend, seededValues } from './helpers.js';

type Padding = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvolutionCase {
  input: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: Padding;
}

// Stride 1/2/3, 'same'/'valid'/explicit/numeric padding, 1×1, 3×3 and 5×5, odd sizes, batch 1, channel counts
// that are not a multiple of the SIMD width.
const convolutionCases: ConvolutionCase[] = [
  { input: [1, 5, 5, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { input: [2, 7, 7, 5], filter: [3, 3, 5, 6], strides: 2, pad: 'same' },
  { input: [2, 8, 8, 4], filter: [3, 3, 4, 8], strides: 2, pad: 'valid' },
  { input: [2, 9, 9, 3], filter: [3, 3, 3, 5], strides: 2, pad: 'valid' },
  { input: [1, 9, 7, 3], filter: [3, 3, 3, 5], strides: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { input: [2, 8, 8, 6], filter: [1, 1, 6, 4], strides: 1, pad: 'valid' },
  { input: [2, 9, 9, 3], filter: [1, 1, 3, 5], strides: 2, pad: 'same' },
  { input: [3, 6, 6, 17], filter: [3, 3, 17, 19], strides: 1, pad: 1 },
  { input: [2, 8, 8, 16], filter: [3, 3, 16, 32], strides: 2, pad: 1 },
  { input: [2, 11, 11, 3], filter: [5, 5, 3, 2], strides: 3, pad: 'same' },
  { input: [1, 6, 6, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'valid' },
];

function convolutionGradients(testCase: ConvolutionCase): tf.Tensor[] {
  const x = tf.tensor4d(seededValues(tf.util.sizeFromShape(testCase.input), 1), testCase.input);
  const filter = tf.tensor4d(seededValues(tf.util.sizeFromShape(testCase.filter), 2), testCase.filter);
  const convolve = (input: tf.Tensor4D, weights: tf.Tensor4D) =>
    tf.conv2d(input, weights, testCase.strides, testCase.pad as 'same', 'NHWC', 1, typeof testCase.pad === 'number' ? 'floor' : undefined);
  const output = convolve(x, filter);
  const dy = tf.tensor(seededValues(output.size, 3), output.shape);
  const [dx, dFilter] = tf.grads((input: tf.Tensor, weights: tf.Tensor) =>
    convolve(input as tf.Tensor4D, weights as tf.Tensor4D),
  )([x, filter], dy);
  return [output, dx, dFilter];
}

describe('wasm convolution gradients match the cpu backend', () => {
  for (const testCase of convolutionCases) {
    const label = `x ${testCase.input} filter ${testCase.filter} stride ${testCase.strides} pad ${JSON.stringify(testCase.pad)}`;
    it(label, async () => {
      const expected = await onBackend('cpu', () => convolutionGradients(testCase));
      const actual = await onBackend('wasm', () => convolutionGradients(testCase));
      const [outputError, inputError, filterError] = actual.map((values, index) =>
        maxRelativeError(values, expected[index]),
      );
      expect(outputError).toBeLessThanOrEqual(1e-4);
      expect(inputError).toBeLessThanOrEqual(1e-4);
      expect(filterError).toBeLessThanOrEqual(1e-4);
    });
  }

  it('calls the replaced kernels directly with the same results (Conv2DBackpropFilter exists on wasm)', async () => {
    await onBackend('wasm', () => []);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const testCase = convolutionCases[1];
    const compute = () => {
      const x = tf.tensor4d(seededValues(tf.util.sizeFromShape(testCase.input), 4), testCase.input);
      const dy = tf.tensor4d(seededValues(2 * 4 * 4 * 6, 5), [2, 4, 4, 6]);
      const filter = tf.tensor4d(seededValues(tf.util.sizeFromShape(testCase.filter), 6), testCase.filter);
      return [
        tf.engine().runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: testCase.filter },
        ) as tf.Tensor,
        tf.conv2dTranspose(dy, filter, testCase.input, 2, 'same'),
      ];
    };
    const expected = await onBackend('cpu', compute);
    const actual = await onBackend('wasm', compute);
    expect(maxRelativeError(actual[0], expected[0])).toBeLessThanOrEqual(1e-4);
    expect(maxRelativeError(actual[1], expected[1])).toBeLessThanOrEqual(1e-4);
  });
});

function batchNormTraining(shape: number[], seed: number): tf.Tensor[] {
  const channels = shape[shape.length - 1];
  // Offset data (mean ≈ 3) so centring matters.
  const x = tf.add(tf.tensor(seededValues(tf.util.sizeFromShape(shape), seed), shape), 3);
  const gamma = tf.tensor1d(seededValues(channels, seed + 1));
  const beta = tf.tensor1d(seededValues(channels, seed + 2));
  const axes = shape.slice(0, -1).map((_, axis) => axis);
  const forward = (input: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) => {
    const { mean, variance } = tf.moments(input, axes);
    return tf.batchNorm(input, mean, variance, offset as tf.Tensor1D, scale as tf.Tensor1D, 1e-5);
  };
  const output = forward(x, gamma, beta);
  const dy = tf.tensor(seededValues(output.size, seed + 3), output.shape);
  const gradients = tf.grads(forward)([x, gamma, beta], dy);
  return [output, ...gradients];
}

describe('wasm batch-norm training path matches the cpu backend', () => {
  for (const shape of [[4, 5, 5, 3], [2, 8, 8, 16], [1, 3, 3, 17], [6, 7]]) {
    it(`moments + batchNorm forward and gradients for x ${shape}`, async () => {
      const expected = await onBackend('cpu', () => batchNormTraining(shape, 11));
      const actual = await onBackend('wasm', () => batchNormTraining(shape, 11));
      for (const [index, values] of actual.entries()) {
        expect(maxRelativeError(values, expected[index]), `output ${index}`).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it('inference batch norm with a per-channel mean of shape [1,1,1,C] also matches', async () => {
    const compute = () => {
      const x = tf.tensor4d(seededValues(2 * 3 * 3 * 5, 21), [2, 3, 3, 5]);
      const mean = tf.tensor4d(seededValues(5, 22), [1, 1, 1, 5]);
      const variance = tf.abs(tf.tensor4d(seededValues(5, 23), [1, 1, 1, 5]));
      return [tf.batchNorm(x, mean, variance, undefined, undefined, 1e-3)];
    };
    const expected = await onBackend('cpu', compute);
    const actual = await onBackend('wasm', compute);
    expect(maxRelativeError(actual[0], expected[0])).toBeLessThanOrEqual(1e-4);
  });
});

describe('wasm reductions and their gradients match the cpu backend', () => {
  const cases: Array<{ shape: number[]; axes: number[]; keepDims: boolean }> = [
    { shape: [4, 6, 6, 5], axes: [0, 1, 2], keepDims: false },
    { shape: [4, 6, 6, 5], axes: [0, 1, 2], keepDims: true },
    { shape: [3, 7], axes: [0], keepDims: false },
    { shape: [3, 4, 5], axes: [1, 2], keepDims: false },
    { shape: [3, 4, 5], axes: [1], keepDims: true },
  ];
  for (const { shape, axes, keepDims } of cases) {
    it(`mean and sum over axes ${axes} of ${shape} (keepDims ${keepDims})`, async () => {
      const compute = () => {
        const x = tf.tensor(seededValues(tf.util.sizeFromShape(shape), 31), shape);
        const mean = tf.mean(x, axes, keepDims);
        const sum = tf.sum(x, axes, keepDims);
        const dyMean = tf.tensor(seededValues(mean.size, 32), mean.shape);
        const [meanGradient] = tf.grads((input: tf.Tensor) => tf.mean(input, axes, keepDims))([x], dyMean);
        const [sumGradient] = tf.grads((input: tf.Tensor) => tf.sum(input, axes, keepDims))([x], dyMean);
        return [mean, sum, meanGradient, sumGradient];
      };
      const expected = await onBackend('cpu', compute);
      const actual = await onBackend('wasm', compute);
      for (const [index, values] of actual.entries()) {
        expect(maxRelativeError(values, expected[index]), `output ${index}`).toBeLessThanOrEqual(1e-5);
      }
    });
  }

  it('identity and same-dtype cast share the buffer but keep values through disposal of the source', async () => {
    await onBackend('wasm', () => []);
    const x = tf.tensor1d([1, 2, 3]);
    const copy = tf.clone(x);
    const cast = tf.cast(x, 'float32');
    const toInteger = tf.cast(tf.tensor1d([1.7, -2.2]), 'int32');
    x.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(cast.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(toInteger.dataSync())).toEqual([1, -2]);
    tf.dispose([copy, cast, toInteger]);
  });
});

describe('wasm kernels do not leak', () => {
  it('tensor count and wasm data ids stay flat over repeated conv + batch-norm gradients', async () => {
    await onBackend('wasm', () => []);
    const step = () =>
      tf.tidy(() => {
        convolutionGradients(convolutionCases[8]);
        batchNormTraining([2, 4, 4, 8], 41);
      });
    step();
    const tensorsBefore = tf.memory().numTensors;
    const dataIdsBefore = tf.engine().backend.numDataIds();
    for (let index = 0; index < 5; index += 1) step();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore);
  });
});
