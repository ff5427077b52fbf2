import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseDeterministicSetting } from '../src/addon.js';
import {
  getDeterministic,
  getNumThreads,
  registerNativeBackend,
  setConvolutionAlgorithm,
  setDeterministic,
  setNumThreads,
} from '../src/index.js';
import { info, maxRelativeError, randomValues } from './helpers.js';

// The repository's benchmark ResNet-32 (tfjs layers: conv2d, batchNormalization, option-A shortcuts, cosine head),
// loaded by absolute path as packages/backend/test/training-equivalence.test.ts does.
const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const standInPath = path.join(repositoryRoot, 'bench/resnet32-standin.mjs');
const backbonesModule = '@longtail/backbones';

interface ResNetFactory {
  resnet32(options: { numClasses?: number; inputSize?: number }): tf.LayersModel;
}

const THREADS = 2;
const STEPS = 20;
const BATCH = 8;
const SIZE = 16;

/** Every weight (trainable and batch-norm statistics) set from a seeded generator, not the model's initialisers. */
function seededWeights(model: tf.LayersModel, seed: number): tf.Tensor[] {
  const names = model.weights.map((weight) => weight.originalName);
  return model.getWeights().map((weight, index) => {
    const { shape, size } = weight;
    const u = randomValues(size, seed * 1000 + index);
    const values = new Float32Array(size);
    if (shape.length >= 2) {
      const scale = Math.sqrt(3 / (size / shape[shape.length - 1]));
      for (let i = 0; i < size; i++) values[i] = u[i] * scale;
    } else if (/gamma|variance|running_var/.test(names[index])) {
      for (let i = 0; i < size; i++) values[i] = 1 + 0.1 * u[i];
    } else {
      for (let i = 0; i < size; i++) values[i] = 0.1 * u[i];
    }
    return tf.tensor(values, shape);
  });
}

/**
 * STEPS SGD-momentum steps on one fixed batch; returns the losses and every weight's values afterwards. With
 * `resumeAfter`, training stops after that many steps, the weights (batch-norm statistics included) and the optimizer
 * state are saved, model and optimizer are disposed, and a new model and optimizer restored from them run the rest.
 */
async function train(factory: ResNetFactory, resumeAfter = STEPS): Promise<{ losses: number[]; weights: Float32Array[] }> {
  let model = factory.resnet32({ numClasses: 10, inputSize: SIZE });
  const initial = seededWeights(model, 5);
  model.setWeights(initial);
  tf.dispose(initial);
  const images = tf.tensor4d(randomValues(BATCH * SIZE * SIZE * 3, 7), [BATCH, SIZE, SIZE, 3]);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 3) % 10), 'int32'), 10);
  let optimizer = tf.train.momentum(0.1, 0.9);
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    if (step === resumeAfter) {
      const saved = model.getWeights().map((weight) => ({ values: weight.dataSync().slice(), shape: weight.shape }));
      const state = await optimizer.getWeights();
      const savedState = state.map(({ name, tensor }) => ({ name, values: tensor.dataSync().slice(), shape: tensor.shape }));
      tf.dispose(state.map(({ tensor }) => tensor));
      optimizer.dispose();
      model.dispose();
      model = factory.resnet32({ numClasses: 10, inputSize: SIZE });
      const restored = saved.map(({ values, shape }) => tf.tensor(values, shape));
      model.setWeights(restored);
      tf.dispose(restored);
      optimizer = tf.train.momentum(0.1, 0.9);
      await optimizer.setWeights(savedState.map(({ name, values, shape }) => ({ name, tensor: tf.tensor(values, shape) })));
    }
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, tf.mul(model.apply(images, { training: true }) as tf.Tensor, 10)),
      true,
    ) as tf.Scalar;
    losses.push(loss.dataSync()[0]);
    loss.dispose();
  }
  const weights = model.getWeights().map((weight) => (weight.dataSync() as Float32Array).slice());
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
  return { losses, weights };
}

/** Indices of the first differing element per weight, or [] when every weight is bit-identical. */
function differences(a: Float32Array[], b: Float32Array[]): string[] {
  const found: string[] = [];
  expect(a.length).toBe(b.length);
  for (let w = 0; w < a.length; w++) {
    expect(a[w].length).toBe(b[w].length);
    const bitsA = new Uint32Array(a[w].buffer, a[w].byteOffset, a[w].length);
    const bitsB = new Uint32Array(b[w].buffer, b[w].byteOffset, b[w].length);
    for (let i = 0; i < bitsA.length; i++) {
      if (bitsA[i] !== bitsB[i]) {
        found.push(`weight ${w}[${i}]: ${a[w][i]} vs ${b[w][i]}`);
        break;
      }
    }
  }
  return found;
}

/** One Conv2DBackpropFilter call (the only native kernel that reduces over work items run by different threads). */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], stride: number): Float32Array {
  const attributes = { strides: stride, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape } as unknown as tf.NamedAttrMap;
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attributes) as tf.Tensor;
  const values = dw.dataSync() as Float32Array;
  dw.dispose();
  return values;
}

describe(`determinism: ResNet-32 with ${THREADS} threads`, () => {
  let threadsBefore = 1;
  beforeAll(async () => {
    threadsBefore = getNumThreads();
    setNumThreads(THREADS);
    await tf.setBackend('native');
  });
  afterAll(() => {
    setNumThreads(threadsBefore);
    setDeterministic(true);
  });

  it('is on by default, and registerNativeBackend / setDeterministic / LONGTAIL_NATIVE_DETERMINISTIC switch it', () => {
    expect(getDeterministic()).toBe(true);
    expect(info.deterministic).toBe(true);
    expect(registerNativeBackend({ deterministic: false }).deterministic).toBe(false);
    expect(getDeterministic()).toBe(false);
    expect(setDeterministic(true)).toBe(true);
    expect(registerNativeBackend().deterministic).toBe(true); // an omitted option leaves the setting alone
    expect(() => registerNativeBackend({ deterministic: 'yes' as unknown as boolean })).toThrow(/options\.deterministic/);
    expect(() => setDeterministic(1 as unknown as boolean)).toThrow(/on must be a boolean/);
    expect(getDeterministic()).toBe(true);
    expect([undefined, '', '1', 'true', 'ON', '0', 'false', 'off'].map(parseDeterministicSetting)).toEqual([
      undefined, undefined, true, true, true, false, false, false,
    ]);
    expect(() => parseDeterministicSetting('yes')).toThrow(/LONGTAIL_NATIVE_DETERMINISTIC/);
  });

  it('filter gradients are bit-identical across calls and thread counts 1..4, and equal the unordered sums to 1e-4', () => {
    // ResNet-32's layers: direct kernels (16/32/64 channels, the fused three-tap tile at 32x32x16, stride 2),
    // im2col for the 3-channel stem, and the 1x1 pointwise GEMM path.
    const cases: Array<[number, number, number, number, number]> = [
      [32, 16, 16, 3, 1], [32, 16, 32, 3, 2], [16, 32, 32, 3, 1], [8, 64, 64, 3, 1], [32, 3, 16, 3, 1], [16, 24, 40, 1, 1],
    ];
    try {
      for (const [size, cin, cout, k, stride] of cases) check(size, cin, cout, k, stride);
    } finally {
      setNumThreads(THREADS);
      setConvolutionAlgorithm('auto');
    }
    function check(size: number, cin: number, cout: number, k: number, stride: number): void {
      const x = tf.tensor4d(randomValues(16 * size * size * cin, size + cin), [16, size, size, cin]);
      const out = Math.ceil(size / stride);
      const dy = tf.tensor4d(randomValues(16 * out * out * cout, cout), [16, out, out, cout]);
      const shape = [k, k, cin, cout];
      const label = `${size}x${size} ${cin}->${cout} ${k}x${k} stride ${stride}`;
      for (const algorithm of ['auto', 'im2col'] as const) {
        setConvolutionAlgorithm(algorithm);
        const reference = filterGradient(x, dy, shape, stride);
        for (const threads of [2, 2, 2, 1, 3, 4]) {
          setNumThreads(threads);
          expect(differences([filterGradient(x, dy, shape, stride)], [reference]), `${label} ${algorithm} ${threads} threads`).toEqual([]);
        }
        setNumThreads(THREADS);
        setDeterministic(false);
        try {
          const unordered = filterGradient(x, dy, shape, stride);
          expect(maxRelativeError(unordered, reference), `${label} ${algorithm} unordered`).toBeLessThanOrEqual(1e-4);
        } finally {
          setDeterministic(true);
        }
      }
      tf.dispose([x, dy]);
    }
  });

  it(`two runs of ${STEPS} steps from the same seeded weights, and a run resumed after ${STEPS / 2}, end with bit-identical weights`, async () => {
    const factory = (await import(/* @vite-ignore */ standInPath)) as ResNetFactory;
    const first = await train(factory);
    const second = await train(factory);
    expect(first.losses[STEPS - 1]).not.toBe(first.losses[0]); // it trains
    expect(second.losses).toEqual(first.losses);
    expect(differences(first.weights, second.weights)).toEqual([]);
    // Exact resume: stopped after 10 steps, restored into a new model and optimizer, 10 more steps.
    const resumed = await train(factory, STEPS / 2);
    expect(resumed.losses).toEqual(first.losses);
    expect(differences(resumed.weights, first.weights)).toEqual([]);
    // Not required, but holds: the partition is the same for every thread count up to 16.
    setNumThreads(1);
    try {
      const single = await train(factory);
      expect(differences(single.weights, first.weights)).toEqual([]);
    } finally {
      setNumThreads(THREADS);
    }
  }, 300_000);

  it(`@longtail/backbones' ResNet-32 (fused batch-norm kernels): two runs of ${STEPS} steps end bit-identical`, async () => {
    // A devDependency (turbo builds it first): a failed import fails the test rather than passing it unseen.
    const backbones = (await import(/* @vite-ignore */ backbonesModule)) as {
      resnet32(options: { numClasses: number; inputShape: [number, number, number] }): tf.LayersModel;
    };
    const factory: ResNetFactory = {
      resnet32: ({ numClasses = 10, inputSize = SIZE }) => backbones.resnet32({ numClasses, inputShape: [inputSize, inputSize, 3] }),
    };
    const first = await train(factory);
    const second = await train(factory);
    expect(first.losses[STEPS - 1]).not.toBe(first.losses[0]);
    expect(second.losses).toEqual(first.losses);
    expect(differences(first.weights, second.weights)).toEqual([]);
  }, 300_000);
});
