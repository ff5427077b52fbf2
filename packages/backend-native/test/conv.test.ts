import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  getConvolutionAlgorithm,
  getKernelCallCounts,
  setConvolutionAlgorithm,
  type ConvolutionAlgorithm,
} from '../src/index.js';
import { compareBackends } from './helpers.js';

const TOLERANCE = 1e-4;

type Padding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  input: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number | [number, number];
  pad: Padding;
  dilation?: number | [number, number];
}

const cases: ConvCase[] = [
  { input: [2, 8, 8, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'same' },
  { input: [2, 8, 8, 16], filter: [3, 3, 16, 32], stride: 2, pad: 'same' },
  { input: [1, 9, 7, 3], filter: [3, 3, 3, 16], stride: 1, pad: 'valid' },
  { input: [3, 11, 11, 5], filter: [3, 3, 5, 7], stride: 2, pad: 'valid' },
  { input: [2, 7, 9, 6], filter: [1, 1, 6, 10], stride: 1, pad: 'same' },
  { input: [2, 8, 8, 16], filter: [1, 1, 16, 32], stride: 2, pad: 'valid' },
  { input: [1, 10, 10, 17], filter: [3, 3, 17, 33], stride: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { input: [2, 6, 6, 4], filter: [5, 5, 4, 3], stride: 1, pad: 'same' },
  { input: [1, 5, 5, 64], filter: [3, 3, 64, 64], stride: 1, pad: 'same' },
  { input: [2, 16, 16, 8], filter: [3, 3, 8, 8], stride: 1, pad: 'same', dilation: 2 },
  { input: [1, 1, 1, 3], filter: [1, 1, 3, 1], stride: 1, pad: 'valid' },
  // ResNet-32 shapes (the direct convolutions' cases) and ragged variants of them.
  { input: [2, 32, 32, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'same' },
  { input: [2, 32, 32, 16], filter: [3, 3, 16, 32], stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { input: [3, 32, 32, 16], filter: [3, 3, 16, 32], stride: 2, pad: 'same' },
  { input: [2, 16, 16, 32], filter: [3, 3, 32, 32], stride: 1, pad: 'same' },
  { input: [2, 16, 16, 32], filter: [3, 3, 32, 64], stride: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { input: [4, 8, 8, 64], filter: [3, 3, 64, 64], stride: 1, pad: 'same' },
  { input: [2, 9, 7, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'same' },
  { input: [3, 9, 7, 16], filter: [3, 3, 16, 32], stride: 2, pad: 'valid' },
  { input: [2, 11, 13, 32], filter: [3, 3, 32, 16], stride: 1, pad: [[0, 0], [0, 2], [1, 0], [0, 0]] },
  { input: [2, 7, 5, 16], filter: [2, 4, 16, 48], stride: 1, pad: 'same' },
  { input: [2, 9, 9, 64], filter: [1, 1, 64, 16], stride: 2, pad: 'valid' },
  { input: [2, 9, 7, 17], filter: [3, 3, 17, 33], stride: 1, pad: 'same' },
  { input: [2, 12, 10, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'same', dilation: 2 },
  // Edge cases of the direct path: 1x1 images, padding wider than the filter (negative input-gradient padding),
  // asymmetric stride-2 padding, 1x1 filters, stride 2 with a 2x2 filter (input-gradient phases of one tap).
  { input: [2, 1, 1, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'same' },
  { input: [1, 5, 4, 16], filter: [3, 3, 16, 32], stride: 1, pad: [[0, 0], [3, 3], [4, 2], [0, 0]] },
  { input: [2, 10, 9, 16], filter: [3, 3, 16, 16], stride: 2, pad: [[0, 0], [0, 1], [2, 0], [0, 0]] },
  { input: [2, 6, 6, 32], filter: [1, 1, 32, 64], stride: 1, pad: 'valid' },
  { input: [2, 9, 8, 16], filter: [2, 2, 16, 16], stride: 2, pad: 'same' },
  // Six-wide filter: two fused groups of three horizontal taps.
  { input: [1, 6, 11, 16], filter: [2, 6, 16, 16], stride: 1, pad: 'same' },
  // RGB stems (the direct "row run" forward and filter gradient): CIFAR's 3x3 and ImageNet's 7x7 stride 2 over 3
  // channels, ragged sizes and asymmetric padding; 8 and 24 output channels are not whole AVX-512 vectors.
  { input: [2, 32, 32, 3], filter: [3, 3, 3, 16], stride: 1, pad: 'same' },
  { input: [2, 13, 11, 3], filter: [3, 3, 3, 32], stride: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { input: [1, 23, 21, 3], filter: [7, 7, 3, 64], stride: 2, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
  { input: [2, 18, 17, 3], filter: [7, 7, 3, 16], stride: 2, pad: 'same' },
  { input: [1, 9, 10, 3], filter: [3, 3, 3, 24], stride: 1, pad: 'same' },
  { input: [1, 9, 10, 3], filter: [3, 3, 3, 8], stride: 1, pad: 'valid' },
  // Row runs with a vertical stride or dilation (the run is along the row only).
  { input: [2, 13, 11, 3], filter: [3, 3, 3, 16], stride: [2, 1], pad: 'same' },
  { input: [2, 13, 11, 3], filter: [3, 3, 3, 16], stride: 1, pad: 'same', dilation: [2, 1] },
  { input: [1, 23, 21, 3], filter: [7, 7, 3, 16], stride: 1, pad: 'valid', dilation: [3, 1] },
];

const ALGORITHMS: ConvolutionAlgorithm[] = ['auto', 'im2col'];

function describeCase(c: ConvCase): string {
  return `x${c.input.join('x')} w${c.filter.join('x')} s${c.stride} ${JSON.stringify(c.pad)}${c.dilation ? ` d${c.dilation}` : ''}`;
}

describe.each(ALGORITHMS)("convolution kernels with algorithm '%s' match the cpu backend (max |a-b|/max(1,|b|) <= 1e-4)", (algorithm) => {
  beforeAll(() => {
    setConvolutionAlgorithm(algorithm);
  });
  afterAll(() => {
    setConvolutionAlgorithm('auto');
  });

  it('reports the selected algorithm', () => {
    expect(getConvolutionAlgorithm()).toBe(algorithm);
  });

  for (const c of cases) {
    it(`Conv2D ${describeCase(c)}`, () => {
      const error = compareBackends([c.input, c.filter], (x, w) =>
        tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation ?? 1),
      );
      expect(error).toBeLessThanOrEqual(TOLERANCE);
    });
    if (c.dilation) continue;
    it(`Conv2DBackpropInput and Conv2DBackpropFilter ${describeCase(c)}`, () => {
      const error = compareBackends([c.input, c.filter], (x, w) => {
        const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad);
        const dy = tf.sin(tf.range(0, y.size).reshape(y.shape));
        const dx = tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, c.input, c.stride, c.pad);
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)),
        )([x, w]);
        return [dx, ...grads];
      });
      expect(error).toBeLessThanOrEqual(TOLERANCE);
    });
    it(`FusedConv2D with bias and relu ${describeCase(c)}`, () => {
      const error = compareBackends([c.input, c.filter, [c.filter[3]]], (x, w, b) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: c.stride, pad: c.pad, bias: b, activation: 'relu',
        }),
      );
      expect(error).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('actually ran the native kernels (not the cpu fallback)', () => {
    const counts = getKernelCallCounts();
    for (const name of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D']) {
      expect(counts[name]?.native ?? 0, name).toBeGreaterThan(0);
      expect(counts[name]?.fallback ?? 0, name).toBe(0);
    }
  });
});

describe('setConvolutionAlgorithm', () => {
  afterAll(() => {
    setConvolutionAlgorithm('auto');
  });

  it('defaults to auto and validates its argument', () => {
    expect(getConvolutionAlgorithm()).toBe('auto');
    expect(() => setConvolutionAlgorithm('winograd' as ConvolutionAlgorithm)).toThrow(/algorithm/);
    expect(getConvolutionAlgorithm()).toBe('auto');
  });

  it("'auto' runs a different (direct) computation than 'im2col' on ResNet shapes", () => {
    // Same values up to rounding, but the filter-gradient sums run in another order, so the bits differ.
    const filterGradient = (algorithm: ConvolutionAlgorithm) => {
      setConvolutionAlgorithm(algorithm);
      tf.setBackend('native');
      return tf.tidy(() => {
        const x = tf.sin(tf.range(0, 2 * 16 * 16 * 16)).reshape([2, 16, 16, 16]) as tf.Tensor4D;
        const dy = tf.cos(tf.range(0, 2 * 16 * 16 * 16)).reshape([2, 16, 16, 16]) as tf.Tensor4D;
        const loss = (w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), dy));
        return tf.grad(loss)(tf.zeros([3, 3, 16, 16])).dataSync() as Float32Array;
      });
    };
    const direct = filterGradient('auto');
    const reference = filterGradient('im2col');
    expect(direct.length).toBe(reference.length);
    let differing = 0;
    let worst = 0;
    for (let i = 0; i < direct.length; i++) {
      if (direct[i] !== reference[i]) differing++;
      worst = Math.max(worst, Math.abs(direct[i] - reference[i]) / Math.max(1, Math.abs(reference[i])));
    }
    expect(differing).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('matrix multiplication kernels', () => {
  const shapes: Array<[number[], number[], boolean, boolean]> = [
    [[7, 13], [13, 5], false, false],
    [[64, 64], [64, 10], false, false],
    [[3, 17, 9], [3, 9, 33], false, false],
    [[9, 7], [9, 31], true, false],
    [[7, 9], [31, 9], false, true],
    [[2, 9, 7], [31, 9], true, true],
    [[1, 200], [200, 1], false, false],
  ];
  for (const [aShape, bShape, transposeA, transposeB] of shapes) {
    it(`BatchMatMul [${aShape}] x [${bShape}] tA=${transposeA} tB=${transposeB}`, () => {
      const error = compareBackends([aShape, bShape], (a, b) => tf.matMul(a, b, transposeA, transposeB));
      expect(error).toBeLessThanOrEqual(TOLERANCE);
    });
  }
  it('_FusedMatMul with bias and relu, and its gradients', () => {
    const error = compareBackends([[33, 20], [20, 17], [17]], (a, b, bias) => {
      const y = tf.fused.matMul({ a, b, bias, activation: 'relu' });
      const grads = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q))))([a, b]);
      return [y, ...grads];
    });
    expect(error).toBeLessThanOrEqual(TOLERANCE);
  });
});
