import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { setUpWasmBackend } from '../src/index.js';
import { seededValues, seededWeights } from './helpers.js';

// The benchmark's ResNet-32 definition (option-A shortcuts, layers batch norm, cosine head), 8×8 input and
// batch 2 so five cpu-backend steps stay cheap.
const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const standInPath = path.join(repositoryRoot, 'bench/resnet32-standin.mjs');
const inputSize = 8;
const batchSize = 2;
const steps = 5;
// A fixed seed: with batch 2, logits ×30 and learning rate 0.1 the trajectory is sensitive, so float32 rounding
// differences between backends grow with the initial weights; unseeded initial weights made this test flaky
// (one CI run drew weights whose step-1 losses differed by 4e-3). With this seed they differ by ≤ 2e-4.
const weightSeed = 1;

interface StandInModule {
  resnet32(options: { numClasses?: number; inputSize?: number }): tf.LayersModel;
}

async function loadStandIn(): Promise<StandInModule> {
  return (await import(/* @vite-ignore */ standInPath)) as StandInModule;
}

/**
 * `@longtail/backbones`' ResNet-32 behind the stand-in's interface: its batch norm layers use the fused
 * training-mode kernels where the backend has them (native) and tfjs ops elsewhere, so equal losses check both paths.
 */
async function loadBackbones(): Promise<StandInModule> {
  const backbones = (await import('@longtail/backbones')) as {
    resnet32(options: { numClasses: number; inputShape: [number, number, number] }): tf.LayersModel;
  };
  return { resnet32: ({ numClasses = 10, inputSize: size = 32 }) => backbones.resnet32({ numClasses, inputShape: [size, size, 3] }) };
}

async function nativeOrSkipReason(): Promise<string | undefined> {
  try {
    const native = (await import(/* @vite-ignore */ '@longtail/backend-native')) as {
      registerNativeBackend(): unknown;
    };
    native.registerNativeBackend();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
}

function trainingData(): { images: tf.Tensor4D; labels: tf.Tensor2D } {
  const images = tf.tensor4d(seededValues(batchSize * inputSize * inputSize * 3, 7), [batchSize, inputSize, inputSize, 3]);
  const labels = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10) as tf.Tensor2D;
  return { images, labels };
}

async function losses(backend: string, initialWeights: Float32Array[], standIn: StandInModule): Promise<number[]> {
  if (backend === 'wasm') await setUpWasmBackend();
  else await tf.setBackend(backend);
  const model = standIn.resnet32({ numClasses: 10, inputSize });
  model.setWeights(model.getWeights().map((weight, index) => tf.tensor(initialWeights[index], weight.shape)));
  const optimizer = tf.train.momentum(0.1, 0.9);
  const { images, labels } = trainingData();
  const result: number[] = [];
  for (let step = 0; step < steps; step += 1) {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, tf.mul(model.apply(images, { training: true }) as tf.Tensor, 30)),
      true,
    ) as tf.Scalar;
    result.push(loss.dataSync()[0]);
    loss.dispose();
  }
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
  return result;
}

describe('five ResNet-32 training steps from identical weights', () => {
  const models: Array<[string, () => Promise<StandInModule>]> = [
    ['the benchmark stand-in (tfjs layers batch norm)', loadStandIn],
    ['@longtail/backbones (fused batch norm + ReLU on native)', loadBackbones],
  ];
  it.each(models)('give the same losses on cpu, wasm and native: %s (native skipped when its addon is absent)', async (_name, load) => {
    const standIn = await load();
    await tf.setBackend('cpu');
    const reference = standIn.resnet32({ numClasses: 10, inputSize });
    const initialWeights = seededWeights(reference, weightSeed);
    reference.dispose();

    const cpuLosses = await losses('cpu', initialWeights, standIn);
    // Training must actually move: otherwise equal losses would prove nothing.
    expect(Math.abs(cpuLosses[steps - 1] - cpuLosses[0])).toBeGreaterThan(1e-3);

    const nativeSkipReason = await nativeOrSkipReason();
    if (nativeSkipReason === undefined) {
      const nativeLosses = await losses('native', initialWeights, standIn);
      for (let step = 0; step < steps; step += 1) {
        expect(Math.abs(nativeLosses[step] - cpuLosses[step]), `native step ${step}`).toBeLessThanOrEqual(1e-3);
      }
    } else {
      if (process.env.CI === 'true') throw new Error(`native backend unavailable under CI=true: ${nativeSkipReason}`);
      console.warn(`native backend skipped: ${nativeSkipReason}`);
    }

    const wasmLosses = await losses('wasm', initialWeights, standIn);
    for (let step = 0; step < steps; step += 1) {
      expect(Math.abs(wasmLosses[step] - cpuLosses[step]), `wasm step ${step}`).toBeLessThanOrEqual(1e-3);
    }
  }, 240_000);
});

/** RSS after a full garbage collection (vitest.config.ts exposes `gc`), so that only memory still referenced counts. */
function settledRss(): number {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('settledRss: run with --expose-gc (see vitest.config.ts)');
  collect();
  return process.memoryUsage().rss;
}

describe('no leak over many training steps', () => {
  async function stepMemory(
    backend: string,
    count: number,
    load: () => Promise<StandInModule> = loadStandIn,
  ): Promise<{ tensorGrowth: number; rssGrowthMiB: number }> {
    const standIn = await load();
    if (backend === 'wasm') await setUpWasmBackend();
    else await tf.setBackend(backend);
    const model = standIn.resnet32({ numClasses: 10, inputSize });
    const optimizer = tf.train.momentum(0.01, 0.9);
    const { images, labels } = trainingData();
    const step = () => {
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(labels, tf.mul(model.apply(images, { training: true }) as tf.Tensor, 30)),
        true,
      ) as tf.Scalar;
      loss.dataSync();
      loss.dispose();
    };
    // Warm-up: optimizer slots and kernel caches are created in the first steps.
    for (let index = 0; index < 10; index += 1) step();
    const tensorsBefore = tf.memory().numTensors;
    // RSS growth over the second half only: allocator and JIT warm-up settle in the first half, a leak keeps growing.
    for (let index = 0; index < count / 2; index += 1) step();
    const rssMiddle = settledRss();
    for (let index = 0; index < count / 2; index += 1) step();
    const result = {
      tensorGrowth: tf.memory().numTensors - tensorsBefore,
      rssGrowthMiB: (settledRss() - rssMiddle) / 2 ** 20,
    };
    tf.dispose([images, labels]);
    optimizer.dispose();
    model.dispose();
    return result;
  }

  it('native backend: tensor count flat over 200 steps and RSS flat over the last 100 (skipped when the addon is absent)', async (context) => {
    const skipReason = await nativeOrSkipReason();
    if (skipReason !== undefined) {
      if (process.env.CI === 'true') throw new Error(`native backend unavailable under CI=true: ${skipReason}`);
      console.warn(`native leak test skipped: ${skipReason}`);
      context.skip();
    }
    const { tensorGrowth, rssGrowthMiB } = await stepMemory('native', 200);
    expect(tensorGrowth).toBe(0);
    // The backbones model runs the fused batch-norm kernels (custom gradient, statistics leaving its scope).
    expect((await stepMemory('native', 40, loadBackbones)).tensorGrowth).toBe(0);
    // Tensor leaks of any size are caught by the count above; this bound is for memory the addon itself keeps
    // (scratch, pooled buffers): it catches ≥ 240 KiB a step. Without a collection before each reading a CI run saw
    // 19.9 MiB of uncollected heap here; collected, it read −5.6 to +0.5 MiB. Printed so a creeping trend shows in CI logs.
    console.info(`native: RSS growth over steps 101–200: ${rssGrowthMiB.toFixed(1)} MiB`);
    expect(rssGrowthMiB).toBeLessThan(24);
  }, 240_000);

  it('wasm backend: tensor count flat and wasm heap bounded over 50 steps', async () => {
    const { tensorGrowth } = await stepMemory('wasm', 50);
    expect(tensorGrowth).toBe(0);
  }, 240_000);
});
