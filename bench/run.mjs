#!/usr/bin/env node
// `npm run bench`: ResNet-32 training (SGD momentum 0.9, GCL loss, 32×32×3, batch 64 and 128) and inference
// (batch 256) images/s per available backend, each configuration in its own child process (clean peak RSS), median of
// ≥ 10 timed steps after warm-up; plus the PyTorch reference (bench/resnet32_reference.py) when
// `/usr/bin/python3 -c 'import torch'` works, and the ratio ours / PyTorch. One JSON object per line on stdout.
//
// Options: --backends native,wasm (default: tensorflow,native,wasm; cpu only on request, it runs at ~0.04 images/s;
//            webgpu only on request too: it is for GPUs, see bench/gpu/ — without one, Dawn runs on SwiftShader when
//            VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json and XDG_RUNTIME_DIR are set, very slowly)
//          --steps N (timed steps, default 10)   --warmup N (default 2)   --no-torch   --quick (steps 3, warm-up 1)
//          --max-batch N (clamp every batch, e.g. 4 for webgpu on SwiftShader; PyTorch's ratio then is left out)
//          --load N (N competing CPU-bound processes, `yes > /dev/null` each, run for the whole bench, PyTorch's part
//            too: how each degrades when the cores are shared; compare wall-clock ratios with an idle run, and
//            medianCpuMsPerStep with medianStepMs)
//          --isa avx2|scalar (native kernels at this SIMD level, and PyTorch held to AVX2 by ATEN_CPU_CAPABILITY=avx2 and
//            DNNL_MAX_CPU_ISA=AVX2: an AVX2-only machine's figures on an AVX-512 one, ours and the reference's alike)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDirectory = path.dirname(fileURLToPath(import.meta.url));
const configurations = [
  { mode: 'train', batch: 64 },
  { mode: 'train', batch: 128 },
  { mode: 'infer', batch: 256 },
];

function parseArguments(argv) {
  const options = { backends: ['tensorflow', 'native', 'wasm'], steps: 10, warmup: 2, torch: true, child: null, maxBatch: Infinity, load: 0, isa: null };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    const value = () => {
      index += 1;
      if (argv[index] === undefined) throw new Error(`${argument}: a value is required`);
      return argv[index];
    };
    if (argument === '--backends') options.backends = value().split(',').filter(Boolean);
    else if (argument === '--steps') options.steps = Number(value());
    else if (argument === '--warmup') options.warmup = Number(value());
    else if (argument === '--no-torch') options.torch = false;
    else if (argument === '--quick') Object.assign(options, { steps: 3, warmup: 1 });
    else if (argument === '--max-batch') options.maxBatch = Number(value());
    else if (argument === '--load') options.load = Number(value());
    else if (argument === '--isa') options.isa = value();
    else if (argument === '--child') options.child = JSON.parse(value());
    else throw new Error(`unknown argument ${argument}`);
  }
  if (!(Number.isInteger(options.steps) && options.steps >= 1)) throw new Error(`--steps: positive integer, got ${options.steps}`);
  if (!(Number.isInteger(options.warmup) && options.warmup >= 0)) throw new Error(`--warmup: integer ≥ 0, got ${options.warmup}`);
  if (!(options.maxBatch >= 1)) throw new Error(`--max-batch: ≥ 1, got ${options.maxBatch}`);
  if (!(Number.isInteger(options.load) && options.load >= 0)) throw new Error(`--load: integer ≥ 0, got ${options.load}`);
  if (options.isa !== null && options.isa !== 'avx2' && options.isa !== 'scalar') throw new Error(`--isa: avx2 or scalar, got ${options.isa}`);
  return options;
}

function median(values) {
  const sorted = [...values].sort((first, second) => first - second);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** ResNet-32 from @longtail/backbones when built, else the stand-in in this folder (same architecture). */
async function loadModelFactory() {
  try {
    const backbones = await import('@longtail/backbones');
    return { source: '@longtail/backbones', create: () => backbones.resnet32({ numClasses: 10, head: 'cosine' }) };
  } catch (error) {
    const standIn = await import('./resnet32-standin.mjs');
    return {
      source: `bench/resnet32-standin.mjs (@longtail/backbones unavailable: ${String(error.message).split('\n')[0]})`,
      create: () => standIn.resnet32({ numClasses: 10 }),
    };
  }
}

/** GCL loss from @longtail/gcl-loss when built, else cross-entropy of 30·cosine (reported in the output). */
async function loadLoss(tf) {
  // CIFAR-10-LT (imbalance factor 100) class counts.
  const clsNumList = Array.from({ length: 10 }, (_, index) => Math.floor(5000 * 0.01 ** (index / 9)));
  try {
    const { GCLLoss } = await import('@longtail/gcl-loss');
    const loss = new GCLLoss({ clsNumList, seed: 0 });
    return { source: '@longtail/gcl-loss GCLLoss', compute: (cosine, labels) => loss.call(cosine, labels) };
  } catch (error) {
    return {
      source: `cross-entropy of 30·cosine (@longtail/gcl-loss unavailable: ${String(error.message).split('\n')[0]})`,
      compute: (cosine, labels) => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), tf.mul(cosine, 30)),
    };
  }
}

async function runChild({ backend, mode, batch, steps, warmup, isa }) {
  const tf = await import('@tensorflow/tfjs');
  const { selectBackend } = await import('@longtail/backend');
  const selection = await selectBackend({ prefer: backend, quiet: true });
  if (isa && selection.backend === 'native') (await import('@longtail/backend-native')).setSimdLevel(isa);
  const base = { backend, mode, batch, backendSummary: selection.summary, ...(isa ? { isa } : {}) };
  if (selection.backend !== backend) {
    return { ...base, skipped: selection.tried.find((attempt) => attempt.name === backend && !attempt.ok)?.error ?? 'unavailable' };
  }
  // Each step ends by reading its result, so the time includes the device's work. On webgpu a synchronous read throws
  // in Node: read asynchronously there (the CPU backends keep dataSync, as their figures always have).
  const read = backend === 'webgpu' ? (tensor) => tensor.data() : (tensor) => tensor.dataSync();
  const model = await loadModelFactory();
  const network = model.create();
  const images = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 1);
  const timings = [];
  const cpuTimings = [];
  let lossSource;
  if (mode === 'train') {
    const loss = await loadLoss(tf);
    lossSource = loss.source;
    const labels = tf.tensor1d(Array.from({ length: batch }, (_, index) => index % 10), 'int32');
    const optimizer = tf.train.momentum(0.1, 0.9);
    const step = async () => {
      const value = optimizer.minimize(() => loss.compute(network.apply(images, { training: true }), labels), true);
      await read(value);
      value.dispose();
    };
    for (let index = 0; index < warmup; index += 1) await step();
    for (let index = 0; index < steps; index += 1) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      await step();
      timings.push(performance.now() - start);
      const cpu = process.cpuUsage(cpuStart);
      cpuTimings.push((cpu.user + cpu.system) / 1000);
    }
  } else {
    const infer = async () => {
      const output = tf.tidy(() => network.apply(images, { training: false }));
      await read(output);
      output.dispose();
    };
    for (let index = 0; index < Math.max(1, warmup); index += 1) await infer();
    for (let index = 0; index < steps; index += 1) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      await infer();
      timings.push(performance.now() - start);
      const cpu = process.cpuUsage(cpuStart);
      cpuTimings.push((cpu.user + cpu.system) / 1000);
    }
  }
  const medianMilliseconds = median(timings);
  return {
    ...base,
    imagesPerSecond: Number(((batch * 1000) / medianMilliseconds).toFixed(2)),
    medianStepMs: Number(medianMilliseconds.toFixed(1)),
    // CPU time (all threads) per step: robust when other processes share the cores.
    medianCpuMsPerStep: Number(median(cpuTimings).toFixed(1)),
    steps,
    warmup,
    peakRssMiB: Number((process.resourceUsage().maxRSS / 1024).toFixed(0)),
    model: model.source,
    ...(lossSource ? { loss: lossSource } : {}),
  };
}

/** The environment of the PyTorch reference: held to AVX2 with `--isa avx2` (ATen's kernels and oneDNN's). */
function torchEnvironment(options) {
  return options.isa === 'avx2' ? { ...process.env, ATEN_CPU_CAPABILITY: 'avx2', DNNL_MAX_CPU_ISA: 'AVX2' } : process.env;
}

/** `count` CPU-bound processes (`yes > /dev/null`) until `stop()`. */
function competingLoad(count) {
  const children = Array.from({ length: count }, () => spawn('yes', { stdio: ['ignore', 'ignore', 'ignore'] }));
  return { stop: () => children.forEach((child) => child.kill('SIGKILL')) };
}

function runTorch(options) {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return { skipped: `${python} not found` };
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { skipped: `import torch failed: ${probe.stderr.trim().split('\n').pop()}` };
  const run = spawnSync(
    python,
    [path.join(benchDirectory, 'resnet32_reference.py'), '--steps', String(options.steps), '--warmup', String(Math.max(1, options.warmup))],
    { encoding: 'utf8', maxBuffer: 16 * 2 ** 20, env: torchEnvironment(options) },
  );
  if (run.status !== 0) return { skipped: `resnet32_reference.py failed: ${run.stderr.trim().split('\n').pop()}` };
  return { results: run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line)) };
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.child) {
    process.stdout.write(`${JSON.stringify(await runChild(options.child))}\n`);
    return;
  }
  const print = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
  print({
    kind: 'environment',
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAverage: os.loadavg().map((value) => Number(value.toFixed(2))),
    steps: options.steps,
    warmup: options.warmup,
    competingProcesses: options.load,
    ...(options.isa ? { isa: options.isa } : {}),
  });
  const load = competingLoad(options.load);
  try {
    await measure(options, print);
  } finally {
    load.stop();
  }
}

async function measure(options, print) {

  const torch = options.torch ? runTorch(options) : { skipped: '--no-torch' };
  const torchResults = new Map();
  if (torch.results) {
    for (const record of torch.results) {
      torchResults.set(`${record.mode}:${record.batch}`, record);
      print({ kind: 'result', ...record });
    }
  } else {
    print({ kind: 'result', backend: 'pytorch', skipped: torch.skipped });
  }

  for (const backend of options.backends) {
    for (const { mode, batch } of configurations) {
      const configuration = { mode, batch: Math.min(batch, options.maxBatch) };
      const child = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', JSON.stringify({ backend, ...configuration, steps: options.steps, warmup: options.warmup, isa: options.isa })],
        { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 },
      );
      const line = child.stdout.split('\n').filter(Boolean).pop();
      let record;
      try {
        record = JSON.parse(line ?? '');
      } catch {
        record = { backend, ...configuration, skipped: `child failed (exit ${child.status}): ${child.stderr.trim().split('\n').slice(-3).join(' | ')}` };
      }
      const reference = torchResults.get(`${configuration.mode}:${configuration.batch}`);
      if (record.imagesPerSecond !== undefined && reference?.imagesPerSecond) {
        record.pytorchImagesPerSecond = reference.imagesPerSecond;
        record.ratioToPytorch = Number((record.imagesPerSecond / reference.imagesPerSecond).toFixed(3));
        // Same ratio by CPU time (PyTorch's CPU ms / ours): what the code costs, whatever else runs on the machine.
        if (record.medianCpuMsPerStep && reference.medianCpuMsPerStep) {
          record.cpuTimeRatioToPytorch = Number((reference.medianCpuMsPerStep / record.medianCpuMsPerStep).toFixed(3));
        }
      }
      print({ kind: 'result', ...record });
      if (record.skipped) break;
    }
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exitCode = 1;
});
