import * as tf from '@tensorflow/tfjs';
import { AddRelu, NormedLinear, TorchBatchNorm, TorchConv2D, resnet32 } from '@longtail/backbones';
import { GCLLoss } from '@longtail/gcl-loss';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/index.js';
import { seededValues, seededWeights } from './helpers.js';
import { prepareWebGpuTestEnvironment } from './webgpu-env.js';

// WebGPU on SwiftShader (Vulkan on the CPU) in CI: correctness, not speed. SwiftShader costs a few milliseconds a
// dispatch, so ResNet-32 runs at 8×8 and batch 2 (about 2 s a step) and the 100-step leak check uses a small network
// of the same layers.
const skipReason = prepareWebGpuTestEnvironment();
if (skipReason !== undefined) console.warn(`webgpu tests skipped: ${skipReason}`);
const webgpuIt = skipReason === undefined ? it : it.skip;

const inputSize = 8;
const batchSize = 2;
const steps = 5;
const clsNumList = [500, 300, 200, 100, 60, 40, 20, 10, 8, 5];
const labels = [3, 7];

async function useNative(): Promise<void> {
  const native = (await import(/* @vite-ignore */ '@longtail/backend-native')) as { registerNativeBackend(): unknown };
  native.registerNativeBackend();
  if (!(await tf.setBackend('native'))) throw new Error("tf.setBackend('native') failed");
}

/**
 * GCL steps (SGD momentum 0.9) of a model from the given weights; every read asynchronous. `afterStep` sees the
 * live tensor count after each step (the loss value disposed).
 */
async function trainingLosses(
  model: tf.LayersModel,
  initialWeights: Float32Array[],
  count: number,
  afterStep: (step: number, tensors: number) => void = () => {},
): Promise<number[]> {
  model.setWeights(model.getWeights().map((weight, index) => tf.tensor(initialWeights[index], weight.shape)));
  const loss = new GCLLoss({ clsNumList, seed: 11 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const images = tf.tensor4d(seededValues(batchSize * inputSize * inputSize * 3, 7), [batchSize, inputSize, inputSize, 3]);
  const targets = tf.tensor1d(labels, 'int32');
  const result: number[] = [];
  for (let step = 0; step < count; step += 1) {
    const value = optimizer.minimize(() => loss.call(model.apply(images, { training: true }) as tf.Tensor2D, targets), true) as tf.Scalar;
    result.push((await value.data())[0]);
    value.dispose();
    afterStep(step, tf.memory().numTensors);
  }
  tf.dispose([images, targets]);
  optimizer.dispose();
  return result;
}

/** conv → BN+ReLU → conv → BN, joined to the input by AddRelu, pooled, cosine head: each layer kind of ResNet-32. */
function smallResidualNetwork(): tf.LayersModel {
  const input = tf.input({ shape: [inputSize, inputSize, 3] });
  const stem = new TorchBatchNorm({ activation: 'relu' }).apply(new TorchConv2D({ filters: 8, kernelSize: 3, padding: 1 }).apply(input)) as tf.SymbolicTensor;
  const branch = new TorchBatchNorm({}).apply(new TorchConv2D({ filters: 8, kernelSize: 3, padding: 1 }).apply(stem)) as tf.SymbolicTensor;
  const joined = new AddRelu({}).apply([branch, stem]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(joined) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: new NormedLinear({ units: clsNumList.length }).apply(pooled) as tf.SymbolicTensor });
}

describe('webgpu backend (SwiftShader where there is no GPU)', () => {
  let selectionSummary = '';
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    selectionSummary = (await selectBackend({ prefer: 'webgpu', quiet: true })).summary;
  }, 60_000);

  webgpuIt('is selected by name and names its adapter; auto never takes a software adapter', async () => {
    expect(selectionSummary).toMatch(/^backend: webgpu \([^)]*\w[^)]*\)/);
    expect(tf.getBackend()).toBe('webgpu');
    const automatic = await selectBackend({ quiet: true });
    const webgpuAttempt = automatic.tried.find((attempt) => attempt.name === 'webgpu');
    if (selectionSummary.includes('software adapter')) {
      expect(automatic.backend).not.toBe('webgpu');
      expect(webgpuAttempt?.ok).toBe(false);
      expect(webgpuAttempt?.error).toMatch(/only a software adapter/);
    } else {
      expect(automatic.backend).toBe('webgpu');
    }
    await selectBackend({ prefer: 'webgpu', quiet: true });
    expect(tf.getBackend()).toBe('webgpu');
  }, 60_000);

  webgpuIt('five ResNet-32 + GCL training steps from identical weights give the native backend\'s losses to 1e-3', async () => {
    await tf.setBackend('cpu');
    const reference = resnet32({ numClasses: clsNumList.length, head: 'cosine', inputShape: [inputSize, inputSize, 3] });
    const initialWeights = seededWeights(reference, 1);
    reference.dispose();

    await useNative();
    const nativeModel = resnet32({ numClasses: clsNumList.length, head: 'cosine', inputShape: [inputSize, inputSize, 3] });
    const nativeLosses = await trainingLosses(nativeModel, initialWeights, steps);
    nativeModel.dispose();
    // Training must move, or equal losses would prove nothing.
    expect(Math.abs(nativeLosses[steps - 1] - nativeLosses[0])).toBeGreaterThan(0.1);

    await selectBackend({ prefer: 'webgpu', quiet: true });
    const model = resnet32({ numClasses: clsNumList.length, head: 'cosine', inputShape: [inputSize, inputSize, 3] });
    const webgpuLosses = await trainingLosses(model, initialWeights, steps);
    model.dispose();
    for (let step = 0; step < steps; step += 1) {
      const difference = Math.abs(webgpuLosses[step] - nativeLosses[step]) / Math.max(1, Math.abs(nativeLosses[step]));
      expect(difference, `step ${step}: webgpu ${webgpuLosses[step]} vs native ${nativeLosses[step]}`).toBeLessThanOrEqual(1e-3);
    }
  }, 240_000);

  webgpuIt('tensor count stays flat over 100 training steps', async () => {
    await selectBackend({ prefer: 'webgpu', quiet: true });
    const model = smallResidualNetwork();
    const counts: number[] = [];
    // Step 1 creates the optimizer's slots; from then on nothing may accumulate.
    const losses = await trainingLosses(model, seededWeights(model, 20), 101, (_step, tensors) => counts.push(tensors));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[100]).toBeLessThan(losses[0]);
    expect(counts[100] - counts[0], `tensors after step 1: ${counts[0]}, after step 101: ${counts[100]}`).toBe(0);
    model.dispose();
  }, 240_000);
});
