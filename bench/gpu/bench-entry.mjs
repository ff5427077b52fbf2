#!/usr/bin/env node
// GPU benchmark of longtail on tfjs-backend-webgpu (Dawn for Node): the entry point that bench/gpu/pack.sh bundles
// with esbuild (tfjs, @longtail/backend, @longtail/backbones and @longtail/gcl-loss inlined; the `webgpu` package
// external, carried beside the bundle). It also runs unbundled from the repository (after `npm run build`).
//
// Configurations (the same ones bench/gpu/torch_reference.py runs):
//   resnet32-train  ResNet-32 (CIFAR, option-A shortcuts, cosine head), 32×32×3, batch 128, GCL loss, SGD momentum 0.9
//   resnet32-infer  ResNet-32 inference, batch 256
//   resnet50-train  ResNet-50 (torchvision layout, dense 1000-class head), 224×224×3, batch 64, cross-entropy, SGD momentum 0.9
// Each timed step ends with an asynchronous read (`await tensor.data()`), so it includes the GPU's execution; the
// median of the timed steps after warm-up is reported. One JSON object per configuration on stdout; a configuration
// that fails prints {error} and the others still run.
//
// Options: --steps N (default 20)  --warmup N (default 3)  --configs a,b (default all three)
//          --resnet50-size N (input height = width, default 224)  --max-batch N (clamp every batch, smoke tests)
//          --allow-software (accept SwiftShader/llvmpipe; default: refuse, this measures GPUs)
//          --dawn-option TOGGLE (repeatable, passed to the webgpu package's create(), e.g. backend=vulkan)
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import { resnet32, resnet50 } from '@longtail/backbones';
import { GCLLoss, crossEntropy } from '@longtail/gcl-loss';

const CONFIGURATIONS = {
  'resnet32-train': { model: 'resnet32', mode: 'train', batch: 128 },
  'resnet32-infer': { model: 'resnet32', mode: 'infer', batch: 256 },
  'resnet50-train': { model: 'resnet50', mode: 'train', batch: 64 },
};

function parseArguments(argv) {
  const options = {
    steps: 20,
    warmup: 3,
    configs: Object.keys(CONFIGURATIONS),
    resnet50Size: 224,
    maxBatch: Infinity,
    allowSoftware: false,
    dawnOptions: [],
  };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    const value = () => {
      index += 1;
      if (argv[index] === undefined) throw new Error(`${argument}: a value is required`);
      return argv[index];
    };
    if (argument === '--steps') options.steps = Number(value());
    else if (argument === '--warmup') options.warmup = Number(value());
    else if (argument === '--configs') options.configs = value().split(',').filter(Boolean);
    else if (argument === '--resnet50-size') options.resnet50Size = Number(value());
    else if (argument === '--max-batch') options.maxBatch = Number(value());
    else if (argument === '--allow-software') options.allowSoftware = true;
    else if (argument === '--dawn-option') options.dawnOptions.push(value());
    else throw new Error(`unknown argument ${argument}`);
  }
  if (!(Number.isInteger(options.steps) && options.steps >= 1)) throw new Error(`--steps: positive integer, got ${options.steps}`);
  if (!(Number.isInteger(options.warmup) && options.warmup >= 0)) throw new Error(`--warmup: integer ≥ 0, got ${options.warmup}`);
  if (!(Number.isInteger(options.resnet50Size) && options.resnet50Size >= 32)) throw new Error(`--resnet50-size: integer ≥ 32, got ${options.resnet50Size}`);
  if (!(options.maxBatch >= 1)) throw new Error(`--max-batch: ≥ 1, got ${options.maxBatch}`);
  for (const name of options.configs) {
    if (!(name in CONFIGURATIONS)) throw new Error(`--configs: unknown ${name} (known: ${Object.keys(CONFIGURATIONS).join(', ')})`);
  }
  return options;
}

function median(values) {
  const sorted = [...values].sort((first, second) => first - second);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const print = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);

/** Builds one configuration's model, inputs and step; `step()` resolves once the GPU finished it. */
function prepare(name, configuration, options) {
  const batch = Math.min(configuration.batch, options.maxBatch);
  const size = configuration.model === 'resnet50' ? options.resnet50Size : 32;
  const numClasses = configuration.model === 'resnet50' ? 1000 : 10;
  const network =
    configuration.model === 'resnet50'
      ? resnet50({ numClasses, head: 'dense', inputShape: [size, size, 3] })
      : resnet32({ numClasses, head: 'cosine' });
  const images = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, index) => index % numClasses), 'int32');
  const tensors = [images, labels];
  let step;
  let loss;
  if (configuration.mode === 'train') {
    let compute;
    if (configuration.model === 'resnet32') {
      // CIFAR-10-LT (imbalance factor 100) class counts, as bench/run.mjs and bench/resnet32_reference.py.
      const clsNumList = Array.from({ length: 10 }, (_, index) => Math.floor(5000 * 0.01 ** (index / 9)));
      const gcl = new GCLLoss({ clsNumList, seed: 0 });
      compute = (output) => gcl.call(output, labels);
      loss = '@longtail/gcl-loss GCLLoss (cosine, s = 30, noise_mul = 0.5)';
    } else {
      compute = (output) => crossEntropy(output, labels);
      loss = '@longtail/gcl-loss crossEntropy';
    }
    const optimizer = tf.train.momentum(0.1, 0.9);
    step = async () => {
      const value = optimizer.minimize(() => compute(network.apply(images, { training: true })), true);
      await value.data();
      value.dispose();
    };
    tensors.push({ dispose: () => optimizer.dispose() });
  } else {
    step = async () => {
      const output = tf.tidy(() => network.apply(images, { training: false }));
      await output.data();
      output.dispose();
    };
  }
  return {
    batch,
    size,
    numClasses,
    loss,
    parameters: network.countParams(),
    step,
    dispose: () => {
      for (const tensor of tensors) tensor.dispose();
      network.dispose();
    },
  };
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const base = { engine: 'longtail-webgpu', node: process.version };
  let selection;
  try {
    selection = await selectBackend({ prefer: 'webgpu', quiet: true, dawnOptions: options.dawnOptions });
  } catch (error) {
    print({ ...base, error: `selectBackend: ${error?.message ?? error}` });
    process.exitCode = 1;
    return;
  }
  if (selection.backend !== 'webgpu') {
    const attempt = selection.tried.find((entry) => entry.name === 'webgpu' && !entry.ok);
    print({ ...base, error: `webgpu unavailable: ${attempt?.error ?? selection.summary}`, summary: selection.summary });
    process.exitCode = 1;
    return;
  }
  const adapter = selection.summary;
  const software = /software adapter/.test(adapter);
  if (software && !options.allowSoftware) {
    print({ ...base, adapter, error: 'software adapter (SwiftShader/llvmpipe): pass --allow-software for a smoke test' });
    process.exitCode = 1;
    return;
  }
  const flags = { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') };

  for (const name of options.configs) {
    const configuration = CONFIGURATIONS[name];
    const record = { ...base, config: name, model: configuration.model, mode: configuration.mode };
    let prepared;
    try {
      prepared = prepare(name, configuration, options);
      Object.assign(record, { batch: prepared.batch, inputSize: prepared.size, numClasses: prepared.numClasses });
      const warmupStart = performance.now();
      for (let index = 0; index < options.warmup; index += 1) await prepared.step();
      const warmupMs = performance.now() - warmupStart;
      const timings = [];
      for (let index = 0; index < options.steps; index += 1) {
        const start = performance.now();
        await prepared.step();
        timings.push(performance.now() - start);
      }
      const medianMilliseconds = median(timings);
      const memory = tf.memory();
      print({
        ...record,
        imagesPerSecond: Number(((prepared.batch * 1000) / medianMilliseconds).toFixed(2)),
        medianStepMs: Number(medianMilliseconds.toFixed(2)),
        minStepMs: Number(Math.min(...timings).toFixed(2)),
        maxStepMs: Number(Math.max(...timings).toFixed(2)),
        steps: options.steps,
        warmup: options.warmup,
        warmupMs: Number(warmupMs.toFixed(0)),
        parameters: prepared.parameters,
        ...(prepared.loss ? { loss: prepared.loss } : {}),
        adapter,
        software,
        tfjs: tf.version.tfjs,
        flags,
        gpuMemoryMiB: memory.numBytesInGPU === undefined ? undefined : Number((memory.numBytesInGPU / 2 ** 20).toFixed(0)),
        peakRssMiB: Number((process.resourceUsage().maxRSS / 1024).toFixed(0)),
      });
    } catch (error) {
      print({ ...record, adapter, error: String(error?.message ?? error).split('\n')[0] });
      process.exitCode = 1;
    } finally {
      try {
        prepared?.dispose();
      } catch {
        // A failed configuration may leave tensors half made; the next one starts regardless.
      }
    }
  }
}

main().catch((error) => {
  print({ engine: 'longtail-webgpu', node: process.version, error: String(error?.stack ?? error) });
  process.exitCode = 1;
});
