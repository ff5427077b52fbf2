import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TorchBatchNorm, TorchConv2D, initializeWeights, normedLinearInitialValues, resnet20, resnet32 } from '../src/index.js';

/** Every weight of the model as `layer/index` → values (layer names are fixed by the factories). */
function weightsOf(model: tf.LayersModel): Map<string, Float32Array> {
  const result = new Map<string, Float32Array>();
  for (const layer of model.layers) {
    const prefix = layer instanceof TorchBatchNorm ? 'constant:' : '';
    layer.getWeights().forEach((weight, index) => result.set(`${prefix}${layer.name}/${index}`, weight.dataSync() as Float32Array));
  }
  return result;
}

function weightsAndDispose(model: tf.LayersModel): Map<string, Float32Array> {
  const weights = weightsOf(model);
  model.dispose();
  return weights;
}

function expectBitIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [name, values] of a) {
    const other = b.get(name)!;
    expect(new Uint32Array(other.buffer, other.byteOffset, other.length), name).toEqual(
      new Uint32Array(values.buffer, values.byteOffset, values.length),
    );
  }
}

/** Number of randomly initialised tensors (not batch norm's constants) that differ between the two. */
function differingRandomTensors(a: Map<string, Float32Array>, b: Map<string, Float32Array>): { random: number; differing: number } {
  let random = 0;
  let differing = 0;
  for (const [name, values] of a) {
    if (name.startsWith('constant:')) continue;
    random += 1;
    const other = b.get(name)!;
    if (values.some((value, index) => value !== other[index])) differing += 1;
  }
  return { random, differing };
}

const standardDeviation = (values: Float32Array) => {
  let sum = 0;
  let squares = 0;
  for (const value of values) {
    sum += value;
    squares += value * value;
  }
  const mean = sum / values.length;
  return Math.sqrt(squares / values.length - mean * mean);
};

describe('seeded initialisation', () => {
  it('two resnet20({ seed: 3 }) have bit-identical weights and outputs (cosine and dense heads)', () => {
    for (const head of ['cosine', 'dense'] as const) {
      const first = resnet20({ numClasses: 10, head, seed: 3 });
      const second = resnet20({ numClasses: 10, head, seed: 3 });
      expectBitIdentical(weightsOf(first), weightsOf(second));
      const input = tf.ones([1, 32, 32, 3]);
      const [a, b] = [first.predict(input) as tf.Tensor, second.predict(input) as tf.Tensor];
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([input, a, b]);
      first.dispose();
      second.dispose();
    }
  });

  it('different seeds give different weights in every random tensor; no seed keeps drawing from Math.random', () => {
    const three = weightsAndDispose(resnet20({ numClasses: 10, seed: 3, head: 'dense' }));
    const four = weightsAndDispose(resnet20({ numClasses: 10, seed: 4, head: 'dense' }));
    const zero = weightsAndDispose(resnet20({ numClasses: 10, seed: 0, head: 'dense' }));
    const { random, differing } = differingRandomTensors(three, four);
    expect(random).toBeGreaterThan(20);
    expect(differing).toBe(random);
    expect(differingRandomTensors(three, zero).differing).toBe(random);
    const unseeded = [resnet20({ numClasses: 10, head: 'dense' }), resnet20({ numClasses: 10, head: 'dense' })].map(weightsAndDispose);
    expect(differingRandomTensors(unseeded[0], unseeded[1]).differing).toBe(random);
  });

  it('initializeWeights({ seed }) re-draws the same weights as the factory with that seed', () => {
    const model = resnet20({ numClasses: 10, seed: 11 });
    const before = weightsOf(model);
    initializeWeights(model, 'cifar', { seed: 12 });
    expect(differingRandomTensors(before, weightsOf(model)).differing).toBeGreaterThan(0);
    initializeWeights(model, 'cifar', { seed: 11 });
    expectBitIdentical(before, weightsOf(model));
    model.dispose();
  });

  it('rejects a seed that is not a safe integer', () => {
    expect(() => resnet20({ numClasses: 10, seed: 1.5 })).toThrow(/resnet20: options\.seed must be a safe integer, got 1\.5/);
    expect(() => normedLinearInitialValues(4, 2, { seed: Number.NaN })).toThrow(/options\.seed must be a safe integer/);
  });

  it('with a seed, the CIFAR statistics hold: conv N(0, 2/fan_in), batch norm 1/0, dense N(0, 2/64) + U(±1/8)', () => {
    const model = resnet32({ numClasses: 10, head: 'dense', seed: 5 });
    const conv = model.getLayer('layer3.4.conv2').getWeights()[0].dataSync() as Float32Array; // fan_in 576
    expect(standardDeviation(conv)).toBeGreaterThan(Math.sqrt(2 / 576) * 0.97);
    expect(standardDeviation(conv)).toBeLessThan(Math.sqrt(2 / 576) * 1.03);
    const stem = model.getLayer('conv1').getWeights()[0].dataSync() as Float32Array; // fan_in 27
    expect(standardDeviation(stem)).toBeGreaterThan(Math.sqrt(2 / 27) * 0.8);
    expect(standardDeviation(stem)).toBeLessThan(Math.sqrt(2 / 27) * 1.2);
    const [gamma, beta, runningMean, runningVariance] = model.getLayer('layer2.0.bn1').getWeights().map((w) => Array.from(w.dataSync()));
    expect([gamma.every((v) => v === 1), beta.every((v) => v === 0), runningMean.every((v) => v === 0), runningVariance.every((v) => v === 1)]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    const [kernel, bias] = model.getLayer('linear').getWeights().map((w) => w.dataSync() as Float32Array);
    expect(standardDeviation(kernel)).toBeGreaterThan(Math.sqrt(2 / 64) * 0.8);
    expect(standardDeviation(kernel)).toBeLessThan(Math.sqrt(2 / 64) * 1.2);
    expect(Math.max(...Array.from(bias).map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    expect(Array.from(bias).some((value) => value !== 0)).toBe(true);
    // The conv weights are normal, not uniform: the fraction within one standard deviation is ≈ 68.3 %.
    const sigma = Math.sqrt(2 / 576);
    const withinOne = conv.filter((value) => Math.abs(value) < sigma).length / conv.length;
    expect(withinOne).toBeGreaterThan(0.66);
    expect(withinOne).toBeLessThan(0.71);
    model.dispose();
  });

  it('with a seed, the torchvision scheme holds: conv N(0, 2/fan_out), Linear default U(±1/√in) for weight and bias', () => {
    const input = tf.input({ shape: [8, 8, 16] });
    const conv = new TorchConv2D({ name: 'conv', filters: 64, kernelSize: 3, strides: 1, padding: 1 });
    const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(conv.apply(input)) as tf.SymbolicTensor;
    const dense = tf.layers.dense({ name: 'fc', units: 100, kernelInitializer: 'zeros' });
    const model = tf.model({ inputs: input, outputs: dense.apply(pooled) as tf.SymbolicTensor });
    initializeWeights(model, 'torchvision', { seed: 9 });
    const kernel = conv.getWeights()[0].dataSync() as Float32Array; // fan_out 64·9 = 576
    expect(standardDeviation(kernel)).toBeGreaterThan(Math.sqrt(2 / 576) * 0.95);
    expect(standardDeviation(kernel)).toBeLessThan(Math.sqrt(2 / 576) * 1.05);
    const [weight, bias] = dense.getWeights().map((w) => w.dataSync() as Float32Array);
    const bound = 1 / Math.sqrt(64);
    for (const values of [weight, bias]) {
      expect(Math.max(...Array.from(values).map(Math.abs))).toBeLessThanOrEqual(bound);
    }
    // U(±b) has standard deviation b/√3.
    expect(standardDeviation(weight)).toBeGreaterThan((bound / Math.sqrt(3)) * 0.95);
    expect(standardDeviation(weight)).toBeLessThan((bound / Math.sqrt(3)) * 1.05);
    const again = conv.getWeights()[0].dataSync().slice();
    initializeWeights(model, 'torchvision', { seed: 9 });
    expect(Array.from(conv.getWeights()[0].dataSync())).toEqual(Array.from(again));
    model.dispose();
  });

  it('normedLinearInitialValues({ seed }): unit-norm columns of a uniform draw, the same for the same seed', () => {
    const [a, b, c] = [
      normedLinearInitialValues(64, 100, { seed: 1 }),
      normedLinearInitialValues(64, 100, { seed: 1 }),
      normedLinearInitialValues(64, 100, { seed: 2 }),
    ];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(a.dataSync()));
    const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(a), 0)).dataSync());
    for (const norm of norms) expect(norm).toBeCloseTo(1, 4);
    const ratios = tf.tidy(() => tf.max(tf.abs(a), 0).dataSync());
    expect(Math.min(...ratios)).toBeGreaterThan(1 / Math.sqrt(64));
    tf.dispose([a, b, c]);
  });
});
