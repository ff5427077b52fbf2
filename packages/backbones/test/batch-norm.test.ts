import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { AddRelu, addRelu, batchNormTraining, TorchBatchNorm } from '../src/index.js';

// batchNormTraining on a backend without the fused kernels (cpu) computes its gradient analytically; it must
// agree with tfjs' autodiff through tf.moments + tf.batchNorm (+ relu).

function seeded(shape: number[], seed: number, offset = 0): tf.Tensor {
  return tf.add(tf.randomNormal(shape, 0, 1, 'float32', seed), offset);
}

function maxRelativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  const a = actual.dataSync();
  const b = expected.dataSync();
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return a.length === b.length ? worst : Infinity;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('batchNormTraining (op fallback) matches autodiff through tf.moments', () => {
  for (const activation of ['linear', 'relu'] as const) {
    for (const shape of [[4, 6, 6, 5], [3, 10, 16]]) {
      it(`[${shape}] ${activation}: output, statistics and all three gradients within 1e-4`, () => {
        tf.tidy(() => {
          const channels = shape[shape.length - 1];
          const x = seeded(shape, 1, 2);
          const gamma = seeded([channels], 2, 1) as tf.Tensor1D;
          const beta = seeded([channels], 3) as tf.Tensor1D;
          const dy = seeded(shape, 4);
          const axes = shape.slice(0, -1).map((_, axis) => axis);
          const reference = (input: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) => {
            const { mean, variance } = tf.moments(input, axes);
            const y = tf.batchNorm(input, mean, variance, offset as tf.Tensor1D, scale as tf.Tensor1D, 1e-5);
            return activation === 'relu' ? tf.relu(y) : y;
          };
          const expectedGradients = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(reference(a, b, c), dy)))([x, gamma, beta]);
          const actualGradients = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
            tf.sum(tf.mul(batchNormTraining(a, b as tf.Tensor1D, c as tf.Tensor1D, 1e-5, activation).output, dy)),
          )([x, gamma, beta]);
          const result = batchNormTraining(x, gamma, beta, 1e-5, activation);
          const moments = tf.moments(x, axes);
          expect(maxRelativeError(result.output, reference(x, gamma, beta))).toBeLessThanOrEqual(1e-4);
          expect(maxRelativeError(result.mean, moments.mean)).toBeLessThanOrEqual(1e-5);
          expect(maxRelativeError(result.variance, moments.variance)).toBeLessThanOrEqual(1e-5);
          actualGradients.forEach((gradient, index) => {
            expect(maxRelativeError(gradient, expectedGradients[index]), `gradient ${index}`).toBeLessThanOrEqual(1e-4);
          });
          result.mean.dispose();
          result.variance.dispose();
        });
      });
    }
  }

  it('leaves no tensors behind (statistics are ordinary outputs of the calling scope)', () => {
    const x = seeded([2, 3, 3, 4], 5);
    const gamma = tf.ones([4]) as tf.Tensor1D;
    const beta = tf.zeros([4]) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      const gradients = tf.grads((a: tf.Tensor) => tf.sum(batchNormTraining(a, gamma, beta).output))([x]);
      tf.dispose(gradients);
      const { output, mean, variance } = batchNormTraining(x, gamma, beta, 1e-5, 'relu');
      tf.dispose([output, mean, variance]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, gamma, beta]);
  });

  it('rejects bad arguments with messages naming them', () => {
    const x = tf.zeros([2, 2, 3]);
    const three = tf.ones([3]) as tf.Tensor1D;
    expect(() => batchNormTraining(tf.zeros([3]), three, three)).toThrow(/x must have rank >= 2/);
    expect(() => batchNormTraining(x, tf.ones([2]) as tf.Tensor1D, three)).toThrow(/gamma must have shape \[3\]/);
    expect(() => batchNormTraining(x, three, tf.ones([4]) as tf.Tensor1D)).toThrow(/beta must have shape \[3\]/);
    expect(() => batchNormTraining(tf.zeros([1, 3]), three, three)).toThrow(/more than one value per channel/);
    expect(() => batchNormTraining(x, three, three, 0)).toThrow(/epsilon must be > 0/);
    expect(() => batchNormTraining(x, three, three, 1e-5, 'gelu' as never)).toThrow(/activation must be 'linear' or 'relu'/);
    expect(() => new TorchBatchNorm({ activation: 'tanh' as never })).toThrow(/activation must be 'linear' or 'relu'/);
  });

  it("TorchBatchNorm with activation 'relu' equals relu(TorchBatchNorm) in both modes and keeps it in its config", () => {
    tf.tidy(() => {
      const x = seeded([4, 5, 5, 6], 6, 1);
      const fusedLayer = new TorchBatchNorm({ activation: 'relu' });
      const plainLayer = new TorchBatchNorm();
      for (const training of [true, false]) {
        const fusedOutput = fusedLayer.apply(x, { training }) as tf.Tensor;
        const plainOutput = tf.relu(plainLayer.apply(x, { training }) as tf.Tensor);
        expect(maxRelativeError(fusedOutput, plainOutput)).toBeLessThanOrEqual(1e-5);
      }
      expect(fusedLayer.getConfig().activation).toBe('relu');
      expect(plainLayer.getConfig().activation).toBe('linear');
    });
  });
});

describe('fused AddRelu gradient (a backend registering LongtailAddRelu)', () => {
  // A stand-in for the native kernel on cpu, registered for this test only: the op then takes the fused path and its
  // registered gradient, which must equal autodiff through tf.relu(tf.add) and compute the ReLU mask once, not per input.
  it('equals autodiff through relu(add) for both inputs (also a + a), with one ReLU-gradient pass per join', async () => {
    tf.registerKernel({
      kernelName: 'LongtailAddRelu',
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }) => {
        const cpu = backend as unknown as { readSync(id: unknown): Float32Array; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
        const [a, b] = [inputs.a, inputs.b].map((input) => cpu.readSync(input.dataId));
        return cpu.makeTensorInfo(inputs.a.shape, 'float32', a.map((value, index) => Math.max(0, value + b[index])));
      },
    });
    const [a, b, weights] = tf.tidy(() => [seeded([2, 4, 4, 3], 7), seeded([2, 4, 4, 3], 8), tf.range(0, 96).reshape([2, 4, 4, 3])]);
    const tensorsBefore = tf.memory().numTensors;
    try {
      const fused = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(addRelu(addRelu(x, y), x), weights));
      const plain = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(tf.relu(tf.add(x, y)), x)), weights));
      const check = () => tf.tidy(() => {
        const [da, db] = tf.grads(fused)([a, b]);
        const [ea, eb] = tf.grads(plain)([a, b]);
        expect(maxRelativeError(da, ea)).toBe(0);
        expect(maxRelativeError(db, eb)).toBe(0);
        const [dSame] = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(addRelu(x, x), weights)))([a]);
        const [eSame] = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(x, x)), weights)))([a]);
        expect(maxRelativeError(dSame, eSame)).toBe(0);
      });
      check();
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      const profile = await tf.profile(check);
      const fusedJoins = profile.kernels.filter((kernel) => kernel.name === 'LongtailAddRelu').length;
      expect(fusedJoins).toBe(3);
      // tfjs' Relu gradient is dy · step(y): one Step per join backward, fused (3 joins) and plain (3 relus) alike.
      expect(profile.kernels.filter((kernel) => kernel.name === 'Step').length).toBe(6);
    } finally {
      tf.dispose([a, b, weights]);
      tf.unregisterKernel('LongtailAddRelu', 'cpu');
    }
  });
});

describe('AddRelu (the residual join relu(a + b))', () => {
  it('equals tf.relu(tf.add) with its gradient, and rejects mismatched inputs', () => {
    tf.tidy(() => {
      const a = seeded([2, 4, 4, 3], 7);
      const b = seeded([2, 4, 4, 3], 8);
      const layer = new AddRelu({ name: 'join' });
      const output = layer.apply([a, b]) as tf.Tensor;
      expect(maxRelativeError(output, tf.relu(tf.add(a, b)))).toBe(0);
      const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(addRelu(x, y), tf.range(0, 96).reshape([2, 4, 4, 3]))))([a, b]);
      const [ea, eb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.add(x, y)), tf.range(0, 96).reshape([2, 4, 4, 3]))))([a, b]);
      expect(maxRelativeError(da, ea)).toBe(0);
      expect(maxRelativeError(db, eb)).toBe(0);
      expect(() => layer.apply([a, seeded([2, 4, 4, 2], 9)])).toThrow(/same shape/);
    });
  });
});
