import * as tf from '@tensorflow/tfjs';
import {
  addRelu,
  batchNormInference,
  batchNormTraining,
  NormedLinear,
  TorchConv2D,
  type BatchNormActivation,
} from '@longtail/backbones';
import { crossEntropy } from '@longtail/gcl-loss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Test-only import of the trainer's optimizer source (this package does not depend on @longtail/trainer).
import { TorchSgd } from '../../trainer/src/optimizer.js';
import { selectBackend } from '../src/index.js';
import { registerWebGpuTrainingKernels, WEBGPU_TRAINING_KERNELS } from '../src/webgpu/register.js';
import { maxRelativeError, seededValues } from './helpers.js';
import { prepareWebGpuTestEnvironment } from './webgpu-env.js';

/*
 * Every kernel our packages register or call specially has a webgpu path, checked against the cpu backend:
 * - @longtail/backbones' batch norm (training forward/backward with and without the fused ReLU, inference) and
 *   the residual join addRelu, both ways on webgpu: their composite of tfjs ops (moments + batchNorm + relu and the
 *   analytic gradient; what runs when no fused kernel is registered) and this package's WGSL kernels
 *   (src/webgpu/register.ts: LongtailBatchNormTraining, LongtailBatchNormTrainingGrad, LongtailAddRelu);
 * - TorchConv2D: the cpu backend uses the backbones' filter-gradient workaround (flat loops over dataSync'd
 *   values); webgpu uses tf.conv2d with tfjs' gradient (Conv2DBackpropFilter / Conv2DBackpropInput);
 * - the trainer's TorchSgd update (add/mul/sub/assign);
 * - the cosine classifier NormedLinear (with the cross-entropy of @longtail/gcl-loss on s·cos).
 * Shapes are ResNet-32's on CIFAR (NHWC; batch 16, batch 4 for the convolutions). Every webgpu computation must
 * run without a synchronous read (dataSync/arraySync/readSync throw in Node and stall the GPU in browsers), and
 * every kernel it dispatches must be registered for webgpu.
 */

const skipReason = prepareWebGpuTestEnvironment();
const TOLERANCE = 1e-4;
/** Measured errors, printed after the run. */
const measured: string[] = [];
const timings: string[] = [];

type BackendName = 'cpu' | 'webgpu';

interface ReadCounters {
  dataSync: number;
  arraySync: number;
  readSync: number;
}
const counters: ReadCounters = { dataSync: 0, arraySync: 0, readSync: 0 };
/** True while a webgpu computation (and its asynchronous read-back) runs. */
let watching = false;
/** Kernels dispatched while watching (the latest comparison), and over the whole file. */
const dispatched = new Set<string>();
const allDispatched = new Set<string>();
const restore: Array<() => void> = [];

function wrapMethod<T extends object>(target: T, key: keyof T & string, count: () => void): void {
  const original = target[key] as unknown as (...args: unknown[]) => unknown;
  (target as Record<string, unknown>)[key] = function (this: unknown, ...args: unknown[]) {
    if (watching) count();
    return original.apply(this, args);
  };
  restore.push(() => {
    (target as Record<string, unknown>)[key] = original;
  });
}

function installWatchers(): void {
  const prototype = tf.Tensor.prototype as unknown as Record<string, unknown>;
  wrapMethod(prototype, 'dataSync', () => (counters.dataSync += 1));
  wrapMethod(prototype, 'arraySync', () => (counters.arraySync += 1));
  const webgpu = tf.findBackend('webgpu') as unknown as Record<string, unknown>;
  wrapMethod(webgpu, 'readSync', () => (counters.readSync += 1));
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const runKernel = engine.runKernel as (name: string, ...rest: unknown[]) => unknown;
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    if (watching) dispatched.add(name);
    return runKernel.call(this, name, ...rest);
  };
  restore.push(() => {
    engine.runKernel = runKernel;
  });
}

/** Which webgpu implementation of the fused layer kernels runs: tfjs-op composites, or this package's WGSL kernels. */
type LayerPath = 'composite' | 'wgsl';

/** Registers (wgsl) or unregisters (composite) this package's WGSL kernels for webgpu. */
function useLayerPath(path: LayerPath): void {
  if (path === 'wgsl') {
    registerWebGpuTrainingKernels();
    return;
  }
  for (const name of WEBGPU_TRAINING_KERNELS) {
    if (tf.getKernel(name, 'webgpu') !== undefined) tf.unregisterKernel(name, 'webgpu');
  }
}

/**
 * Runs `compute` on `backend` and reads every output with `await data()` (tensors disposed). `cleanup` runs after
 * the reads (variables, layers). On webgpu, synchronous reads and dispatched kernels are recorded.
 */
async function onBackend(
  backend: BackendName,
  compute: () => tf.Tensor[],
  cleanup: () => void = () => {},
): Promise<Float32Array[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  watching = backend === 'webgpu';
  try {
    const outputs = tf.tidy(compute);
    const values = await Promise.all(outputs.map((tensor) => tensor.data() as Promise<Float32Array>));
    tf.dispose(outputs);
    cleanup();
    return values.map((array) => Float32Array.from(array));
  } finally {
    watching = false;
  }
}

/** webgpu against cpu: each output's max relative error, recorded and checked against 1e-4. */
async function compareBackends(
  label: string,
  outputNames: string[],
  compute: () => { outputs: tf.Tensor[]; cleanup?: () => void } | tf.Tensor[],
  layerPath: LayerPath = 'composite',
  expectKernel?: string,
): Promise<void> {
  const run = (backend: BackendName) => {
    let cleanup: (() => void) | undefined;
    return onBackend(
      backend,
      () => {
        const result = compute();
        if (Array.isArray(result)) return result;
        cleanup = result.cleanup;
        return result.outputs;
      },
      () => cleanup?.(),
    );
  };
  let start = performance.now();
  const expected = await run('cpu');
  const cpuMs = performance.now() - start;
  useLayerPath(layerPath);
  dispatched.clear();
  start = performance.now();
  let actual: Float32Array[];
  try {
    actual = await run('webgpu');
  } finally {
    useLayerPath('composite');
  }
  const webgpuMs = performance.now() - start;
  timings.push(`${label}: cpu ${cpuMs.toFixed(0)} ms, webgpu ${webgpuMs.toFixed(0)} ms`);
  if (expectKernel !== undefined) {
    // The WGSL kernel ran on the wgsl path; the composite path did not reach it.
    expect(dispatched.has(expectKernel), `${label}: ${expectKernel} dispatched`).toBe(layerPath === 'wgsl');
  }
  for (const name of dispatched) allDispatched.add(name);
  expect(actual.length).toBe(outputNames.length);
  const errors = actual.map((values, index) => maxRelativeError(values, expected[index]));
  measured.push(`${label}: ${outputNames.map((name, index) => `${name} ${errors[index].toExponential(2)}`).join(', ')}`);
  outputNames.forEach((name, index) => {
    // A NaN or an all-zero result would pass a loose comparison: the expected values must be real numbers.
    expect(expected[index].every(Number.isFinite), `${label} ${name}: cpu result finite`).toBe(true);
    expect(expected[index].some((value) => value !== 0), `${label} ${name}: cpu result non-zero`).toBe(true);
    expect(errors[index], `${label} ${name}`).toBeLessThanOrEqual(TOLERANCE);
  });
}

function seeded(shape: number[], seed: number, scale = 1, offset = 0): tf.Tensor {
  const values = seededValues(tf.util.sizeFromShape(shape), seed).map((value) => value * scale + offset);
  return tf.tensor(values, shape, 'float32');
}

/** Per-channel values shifted and scaled differently, so that the batch statistics are not ~0 and ~1/3. */
function seededActivations(shape: number[], seed: number): tf.Tensor {
  const channels = shape[shape.length - 1];
  const values = seededValues(tf.util.sizeFromShape(shape), seed);
  for (let index = 0; index < values.length; index += 1) {
    const channel = index % channels;
    values[index] = values[index] * (0.5 + channel / channels) + 0.3 * Math.sin(channel);
  }
  return tf.tensor(values, shape, 'float32');
}

/** ResNet-32's batch-norm inputs on CIFAR with batch 16: stage 1, 2 and 3. */
const batchNormShapes: Array<[number, number, number, number]> = [
  [16, 32, 32, 16],
  [16, 16, 16, 32],
  [16, 8, 8, 64],
];

/**
 * ResNet-32's convolutions (TorchConv2D, 3×3, padding 1): the stem, each stage and the two stride-2 entries. Batch 4
 * (the per-image shapes are the network's; SwiftShader is slow and the kernels do not depend on the batch size).
 */
const convolutionCases: Array<{ input: [number, number, number, number]; filters: number; strides: number }> = [
  { input: [4, 32, 32, 3], filters: 16, strides: 1 },
  { input: [4, 32, 32, 16], filters: 16, strides: 1 },
  { input: [4, 32, 32, 16], filters: 32, strides: 2 },
  { input: [4, 16, 16, 32], filters: 32, strides: 1 },
  { input: [4, 16, 16, 32], filters: 64, strides: 2 },
  { input: [4, 8, 8, 64], filters: 64, strides: 1 },
];

describe.skipIf(skipReason !== undefined)(
  `webgpu (SwiftShader without a GPU) matches the cpu backend on the training kernels${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    let previousBackend: string;
    /** Whether setUpWebGpuBackend registered the WGSL kernels (restored after the file, which toggles them). */
    let wgslAtStart = false;

    beforeAll(async () => {
      previousBackend = tf.getBackend();
      const selection = await selectBackend({ prefer: 'webgpu', quiet: true });
      if (selection.backend !== 'webgpu') throw new Error(`webgpu could not be selected: ${selection.summary}`);
      wgslAtStart = WEBGPU_TRAINING_KERNELS.every((name) => tf.getKernel(name, 'webgpu') !== undefined);
      await tf.setBackend('cpu');
      installWatchers();
    }, 60_000);

    afterAll(async () => {
      restore.reverse().forEach((undo) => undo());
      restore.length = 0;
      if (wgslAtStart) useLayerPath('wgsl');
      if (measured.length > 0) console.log(`max relative errors, webgpu vs cpu:\n  ${measured.join('\n  ')}`);
      if (timings.length > 0) console.log(`times:\n  ${timings.join('\n  ')}`);
      if (previousBackend) await tf.setBackend(previousBackend);
    });

    for (const layerPath of ['composite', 'wgsl'] as LayerPath[]) {
    for (const shape of batchNormShapes) {
      for (const activation of ['linear', 'relu'] as BatchNormActivation[]) {
        it(`batchNormTraining (${layerPath}) ${activation} [${shape}]: output, mean, variance, dx, dgamma, dbeta`, async () => {
          const channels = shape[3];
          await compareBackends(
            `batchNormTraining ${layerPath} ${activation} [${shape}]`,
            ['output', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'],
            () => {
              const x = seededActivations(shape, 11);
              const gamma = seeded([channels], 12, 0.5, 1) as tf.Tensor1D;
              const beta = seeded([channels], 13, 0.2) as tf.Tensor1D;
              const dy = seeded(shape, 14);
              const { output, mean, variance } = batchNormTraining(x, gamma, beta, 1e-5, activation);
              const [dx, dGamma, dBeta] = tf.grads((input: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor) =>
                batchNormTraining(input, scale as tf.Tensor1D, offset as tf.Tensor1D, 1e-5, activation).output,
              )([x, gamma, beta], dy);
              return [output, mean, variance, dx, dGamma, dBeta];
            },
            layerPath,
            'LongtailBatchNormTrainingGrad',
          );
        });
      }
    }
    }

    for (const activation of ['linear', 'relu'] as BatchNormActivation[]) {
      it(`batchNormInference ${activation} on each stage's shape`, async () => {
        await compareBackends(
          `batchNormInference ${activation}`,
          batchNormShapes.map((shape) => `[${shape}]`),
          () =>
            batchNormShapes.map((shape, index) => {
              const channels = shape[3];
              const x = seededActivations(shape, 21 + index);
              const mean = seeded([channels], 31 + index, 0.3) as tf.Tensor1D;
              const variance = seeded([channels], 41 + index, 0.4, 0.6) as tf.Tensor1D;
              const gamma = seeded([channels], 51 + index, 0.5, 1) as tf.Tensor1D;
              const beta = seeded([channels], 61 + index, 0.2) as tf.Tensor1D;
              return batchNormInference(x, mean, variance, gamma, beta, 1e-5, activation);
            }),
        );
      });
    }

    for (const layerPath of ['composite', 'wgsl'] as LayerPath[]) {
      for (const shape of batchNormShapes) {
        it(`addRelu (${layerPath}) [${shape}]: output and both gradients`, async () => {
          await compareBackends(
            `addRelu ${layerPath} [${shape}]`,
            ['output', 'da', 'db'],
            () => {
              const a = seeded(shape, 71);
              const b = seeded(shape, 72, 0.5);
              const dy = seeded(shape, 73);
              const output = addRelu(a, b);
              const [da, db] = tf.grads((left: tf.Tensor, right: tf.Tensor) => addRelu(left, right))([a, b], dy);
              return [output, da, db];
            },
            layerPath,
            'LongtailAddRelu',
          );
        });
      }
    }

    for (const testCase of convolutionCases) {
      const { input: inputShape, filters, strides } = testCase;
      it(`TorchConv2D 3×3 stride ${strides} padding 1 [${inputShape}] → ${filters}: output, dx, dkernel`, async () => {
        await compareBackends(`TorchConv2D s${strides} [${inputShape}]→${filters}`, ['output', 'dx', 'dkernel'], () => {
          const layer = new TorchConv2D({ filters, kernelSize: 3, strides, padding: 1 });
          layer.build(inputShape);
          const fanIn = 9 * inputShape[3];
          const kernelShape = [3, 3, inputShape[3], filters];
          layer.setWeights([seeded(kernelShape, 81, Math.sqrt(3 / fanIn))]);
          const kernel = layer.trainableWeights[0].read() as tf.Variable;
          const x = tf.variable(seededActivations(inputShape, 82), true, undefined, 'float32');
          const output = layer.apply(x) as tf.Tensor;
          const dy = seeded(output.shape, 83);
          // The cpu backend runs TorchConv2D's own filter gradient; webgpu runs Conv2DBackpropFilter/Input.
          const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, dy)), [x, kernel]);
          return {
            outputs: [output, grads[x.name], grads[kernel.name]],
            cleanup: () => {
              x.dispose();
              layer.weights.forEach((weight) => weight.dispose());
            },
          };
        });
      });
    }

    it("tf.conv2d with 'same' padding, strides 1 and 2, through tf.grads (Conv2DBackpropFilter/Input on both backends)", async () => {
      const cases: Array<{ input: [number, number, number, number]; filter: [number, number, number, number]; strides: number }> = [
        { input: [2, 16, 16, 32], filter: [3, 3, 32, 32], strides: 1 },
        { input: [2, 16, 16, 32], filter: [3, 3, 32, 64], strides: 2 },
      ];
      await compareBackends(
        "tf.conv2d 'same'",
        cases.flatMap(({ strides }) => [`s${strides} output`, `s${strides} dx`, `s${strides} dfilter`]),
        () =>
          cases.flatMap(({ input, filter, strides }, index) => {
            const x = seededActivations(input, 91 + index);
            const w = seeded(filter, 93 + index, Math.sqrt(3 / (9 * filter[2])));
            const convolve = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, 'same');
            const output = convolve(x, w);
            const dy = seeded(output.shape, 95 + index);
            const [dx, dw] = tf.grads(convolve)([x, w], dy);
            return [output, dx, dw];
          }),
      );
    });

    it('TorchSgd: three momentum steps with weight decay on ResNet-32-shaped weights', async () => {
      const shapes = [
        [3, 3, 3, 16],
        [3, 3, 16, 32],
        [3, 3, 64, 64],
        [64],
        [64, 100],
      ];
      await compareBackends(
        'TorchSgd',
        shapes.map((shape) => `[${shape}]`),
        () => {
          const variables = shapes.map((shape, index) => tf.variable(seeded(shape, 101 + index, 0.2), true, `sgd_${tf.getBackend()}_w${index}`));
          const optimizer = new TorchSgd(variables, { momentum: 0.9, weightDecay: 5e-4 });
          [0.1, 0.1, 0.05].forEach((lr, step) => {
            const gradients: tf.NamedTensorMap = {};
            variables.forEach((variable, index) => {
              gradients[variable.name] = seeded(variable.shape, 200 + 10 * step + index, 0.5);
            });
            optimizer.step(gradients, lr);
            tf.dispose(Object.values(gradients));
          });
          return {
            outputs: variables.map((variable) => tf.clone(variable)),
            cleanup: () => {
              optimizer.dispose();
              tf.dispose(variables);
            },
          };
        },
      );
    });

    it('NormedLinear cosine head + cross-entropy on s·cos: logits, loss, dfeatures, dkernel', async () => {
      const [batch, features, classes] = [16, 64, 100];
      await compareBackends('NormedLinear head', ['cosine', 'loss', 'dfeatures', 'dkernel'], () => {
        const head = new NormedLinear({ units: classes });
        head.build([batch, features]);
        head.setWeights([seeded([features, classes], 111)]);
        const kernel = head.trainableWeights[0].read() as tf.Variable;
        // Post-ReLU, average-pooled features are non-negative.
        const x = tf.variable(tf.abs(seeded([batch, features], 112)), true, undefined, 'float32');
        const labels = tf.tensor1d(
          Array.from({ length: batch }, (_, row) => (row * 37) % classes),
          'int32',
        );
        const cosine = head.apply(x) as tf.Tensor2D;
        const loss = () => crossEntropy(tf.mul(head.apply(x) as tf.Tensor2D, 30) as tf.Tensor2D, labels);
        const { value, grads } = tf.variableGrads(loss, [x, kernel]);
        return {
          outputs: [cosine, value, grads[x.name], grads[kernel.name]],
          cleanup: () => {
            x.dispose();
            head.weights.forEach((weight) => weight.dispose());
          },
        };
      });
    });

    it('none of these webgpu computations read synchronously, and every kernel they ran is registered for webgpu', () => {
      expect(allDispatched.size).toBeGreaterThan(0);
      expect(counters).toEqual({ dataSync: 0, arraySync: 0, readSync: 0 });
      registerWebGpuTrainingKernels();
      const missing = [...allDispatched].filter((name) => tf.getKernel(name, 'webgpu') === undefined);
      useLayerPath('composite');
      expect(missing).toEqual([]);
      console.log(`kernels dispatched on webgpu: ${[...allDispatched].sort().join(', ')}`);
    });
  },
);
