import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NormedLinear, l2Normalize, normedLinearInitialValues } from '../src/index.js';
import { expectElementwiseClose, sharedAvailable, sharedDirectory } from './helpers/common.js';

interface NormedLinearCase {
  name: string;
  x: number[][];
  weight_in_by_out: number[][];
  expected_out: number[][];
  upstream_grad_G: number[][];
  expected_grad_x_of_sum_out_times_G: number[][];
  expected_grad_weight_of_sum_out_times_G: number[][];
}

const goldenPath = path.join(sharedDirectory, 'golden', 'normed_linear_cases.json');
const cases: NormedLinearCase[] = sharedAvailable ? JSON.parse(readFileSync(goldenPath, 'utf8')).cases : [];

/** A built NormedLinear layer holding `weight` (in, out). */
function normedLinearWith(weight: number[][]): NormedLinear {
  const layer = new NormedLinear({ units: weight[0].length });
  layer.build([null, weight.length]);
  const values = tf.tensor2d(weight);
  layer.setWeights([values]);
  values.dispose();
  return layer;
}

function disposeLayer(layer: NormedLinear): void {
  for (const weight of layer.weights) weight.dispose();
}

if (!sharedAvailable && process.env.CI === 'true') throw new Error(`${goldenPath} not found: CI must run the golden tests`);

describe.skipIf(!sharedAvailable)('NormedLinear against the authors’ PyTorch golden values', () => {
  if (!sharedAvailable) console.warn(`skipping NormedLinear golden tests: ${goldenPath} not found`);
  it.each(cases.map((testCase) => [testCase.name, testCase] as const))('%s: forward and gradients of sum(out·G)', (_, testCase) => {
    const layer = normedLinearWith(testCase.weight_in_by_out);
    const x = tf.tensor2d(testCase.x);
    const weight = tf.tensor2d(testCase.weight_in_by_out);
    const upstream = tf.tensor2d(testCase.upstream_grad_G);
    const output = layer.apply(x) as tf.Tensor;
    expectElementwiseClose(output.dataSync(), testCase.expected_out.flat(), 1e-6, 1e-5);
    // Gradients through the same normalisation the layer uses.
    const objective = (input: tf.Tensor, kernel: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(l2Normalize(input, 1) as tf.Tensor2D, l2Normalize(kernel, 0) as tf.Tensor2D), upstream));
    const [gradientX, gradientWeight] = tf.grads(objective)([x, weight]);
    expectElementwiseClose(gradientX.dataSync(), testCase.expected_grad_x_of_sum_out_times_G.flat(), 1e-5, 1e-4);
    expectElementwiseClose(gradientWeight.dataSync(), testCase.expected_grad_weight_of_sum_out_times_G.flat(), 1e-5, 1e-4);
    // And through the layer's own call, with its kernel variable as the differentiated weight.
    const kernelVariable = layer.trainableWeights[0].read() as tf.Variable;
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, upstream)) as tf.Scalar, [kernelVariable]);
    expectElementwiseClose(grads[kernelVariable.name].dataSync(), testCase.expected_grad_weight_of_sum_out_times_G.flat(), 1e-5, 1e-4);
    tf.dispose([x, weight, upstream, output, gradientX, gradientWeight, grads[kernelVariable.name]]);
    disposeLayer(layer);
  });
});

describe('NormedLinear semantics', () => {
  it('computes the cosine of feature and class column (independent computation)', () => {
    const weight = [
      [1, 0, 3],
      [0, 2, 4],
    ];
    const layer = normedLinearWith(weight);
    const x = tf.tensor2d([
      [3, 4],
      [-1, 0],
    ]);
    const output = (layer.apply(x) as tf.Tensor).arraySync() as number[][];
    const cosine = (a: number[], b: number[]) =>
      (a[0] * b[0] + a[1] * b[1]) / Math.hypot(...a) / Math.hypot(...b);
    const rows = [
      [3, 4],
      [-1, 0],
    ];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) expect(output[i][j]).toBeCloseTo(cosine(rows[i], [weight[0][j], weight[1][j]]), 6);
    }
    x.dispose();
    disposeLayer(layer);
  });

  it('normalises like F.normalize: a zero row maps to zero, gradients equal PyTorch’s (1/eps there, no NaN)', () => {
    const x = tf.tensor2d([
      [0, 0, 0],
      [1, 2, 2],
    ]);
    const normalised = l2Normalize(x, 1);
    expect(Array.from(normalised.dataSync())).toEqual([0, 0, 0, 1 / 3, 2 / 3, 2 / 3].map(Math.fround));
    const gradient = tf.grad((input: tf.Tensor) => tf.sum(l2Normalize(input, 1)))(x);
    const values = gradient.dataSync();
    // torch: F.normalize(x, dim=1).sum().backward() gives [[1e12]*3, [4/27, -1/27, -1/27]].
    expectElementwiseClose(values, [1e12, 1e12, 1e12, 4 / 27, -1 / 27, -1 / 27], 1e-6, 1e-6);
    tf.dispose([x, normalised, gradient]);
  });

  it('official initialisation: uniform(−1, 1) columns renormalised to unit L2 norm', () => {
    const weight = normedLinearInitialValues(64, 100);
    expect(weight.shape).toEqual([64, 100]);
    const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(weight), 0)).dataSync());
    for (const norm of norms) expect(norm).toBeCloseTo(1, 4);
    // Direction of a uniform draw: per-column max |w| / norm is far from a constant vector's 1/√64.
    const values = weight.dataSync();
    const ratios = tf.tidy(() => tf.max(tf.abs(weight), 0).dataSync());
    expect(Math.min(...ratios)).toBeGreaterThan(1 / Math.sqrt(64));
    expect(Math.max(...Array.from(values).map(Math.abs))).toBeLessThan(1);
    weight.dispose();
  });
});
