import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { fusedKernelNames } from '../src/index.js';
import { maxRelativeError, randomValues, runOn } from './helpers.js';

// The fused training-mode batch norm (forward: y, mean, variance; backward: dx, dγ, dβ) against tfjs' own op chain
// on the cpu backend (tf.moments + tf.batchNorm (+ relu), differentiated by tfjs' autodiff).

const TOLERANCE = 1e-4;

const shapes: number[][] = [
  [2, 5, 5, 3], // channels below the SIMD width
  [4, 8, 8, 16],
  [3, 7, 33], // rank 3, ragged channel count
  [16, 16, 16, 16], // large enough for the threaded path
  [8, 9, 9, 64],
];

function inputsFor(shape: number[], seed: number) {
  const channels = shape[shape.length - 1];
  const size = shape.reduce((p, q) => p * q, 1);
  // An offset mean (3 + …) and spread per channel test the centring of the variance.
  const x = randomValues(size, seed).map((value, index) => 3 + value * (1 + (index % channels) / channels));
  const gamma = randomValues(channels, seed + 1).map((value) => 1 + 0.5 * value);
  const beta = randomValues(channels, seed + 2);
  const dy = randomValues(size, seed + 3);
  return [
    { shape, values: x },
    { shape: [channels], values: gamma },
    { shape: [channels], values: beta },
    { shape, values: dy },
  ];
}

function reference(activation: 'linear' | 'relu', epsilon: number) {
  return (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dy: tf.Tensor): tf.Tensor[] => {
    const axes = x.shape.slice(0, -1).map((_, axis) => axis);
    const forward = (input: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) => {
      const { mean, variance } = tf.moments(input, axes);
      const y = tf.batchNorm(input, mean, variance, offset as tf.Tensor1D, scale as tf.Tensor1D, epsilon);
      return activation === 'relu' ? tf.relu(y) : y;
    };
    const { mean, variance } = tf.moments(x, axes);
    const gradients = tf.grads((input: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) =>
      tf.sum(tf.mul(forward(input, scale, offset), dy)),
    )([x, gamma, beta]);
    return [forward(x, gamma, beta), mean, variance, ...gradients];
  };
}

function fused(activation: 'linear' | 'relu', epsilon: number) {
  return (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dy: tf.Tensor): tf.Tensor[] => {
    const attributes = { varianceEpsilon: epsilon, activation } as unknown as tf.NamedAttrMap;
    const [y, mean, variance] = tf.engine().runKernel(fusedKernelNames.batchNormTraining, { x, scale: gamma, offset: beta }, attributes) as tf.Tensor[];
    const gradientInputs: tf.NamedTensorMap = { dy, x, scale: gamma, mean, variance };
    if (activation === 'relu') gradientInputs.y = y;
    const gradients = tf.engine().runKernel(fusedKernelNames.batchNormTrainingGrad, gradientInputs, attributes) as tf.Tensor[];
    return [y, mean, variance, ...gradients];
  };
}

describe('fused training-mode batch norm matches tfjs ops on the cpu backend (max relative error <= 1e-4)', () => {
  const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];
  for (const shape of shapes) {
    for (const activation of ['linear', 'relu'] as const) {
      it(`[${shape}] ${activation}`, () => {
        const inputs = inputsFor(shape, shape.length * 7 + shape[shape.length - 1]);
        const expected = runOn('cpu', inputs, reference(activation, 1e-5));
        const actual = runOn('native', inputs, fused(activation, 1e-5));
        expect(actual.map((tensor) => tensor.shape)).toEqual(expected.map((tensor) => tensor.shape));
        const errors = Object.fromEntries(names.map((name, index) => [name, maxRelativeError(actual[index].values, expected[index].values)]));
        for (const name of names) expect(errors[name], `${name} of [${shape}] ${activation}`).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }

  it('a mismatched gamma is not run natively (the kernel has no cpu fallback, so tfjs reports it)', () => {
    tf.setBackend('native');
    const x = tf.ones([2, 2, 3]);
    expect(() =>
      tf.engine().runKernel(fusedKernelNames.batchNormTraining, { x, scale: tf.ones([2]), offset: tf.zeros([3]) }, {
        varianceEpsilon: 1e-5,
        activation: 'linear',
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/LongtailBatchNormTraining/);
    x.dispose();
  });
});

describe('fused relu(a + b) (LongtailAddRelu) matches tf.relu(tf.add) on the cpu backend', () => {
  for (const shape of [[3, 5, 7], [16, 16, 16, 16]]) {
    it(`[${shape}]`, () => {
      const size = shape.reduce((p, q) => p * q, 1);
      const inputs = [
        { shape, values: randomValues(size, 21) },
        { shape, values: randomValues(size, 22) },
      ];
      const expected = runOn('cpu', inputs, (a, b) => tf.relu(tf.add(a, b)));
      const actual = runOn('native', inputs, (a, b) => tf.engine().runKernel(fusedKernelNames.addRelu, { a, b }) as tf.Tensor);
      expect(maxRelativeError(actual[0].values, expected[0].values)).toBe(0);
      // Half the values are clipped: the test would notice a missing ReLU.
      expect(expected[0].values.filter((value) => value === 0).length).toBeGreaterThan(size / 4);
    });
  }
});
