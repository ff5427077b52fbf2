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
//          --rounds N (default 1): N rounds, each running every configuration as PyTorch then each backend, one after
//            the other, so that each ratio compares runs minutes apart at most; a shared or throttled machine drifts by
//            ±20 % over a bench. Reported: medians over the rounds (images/s, step and CPU times) and the median of the
//            per-round ratios, with the per-round figures in `byRound`.
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
  const options = { backends: ['tensorflow', 'native', 'wasm'], steps: 10, warmup: 2, torch: true, child: null, maxBatch: Infinity, load: 0, isa: null, rounds: 1 };
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
    else if (argument === '--rounds') options.rounds = Number(value());
    else if (argument === '--child') options.child = JSON.parse(value());
    else throw new Error(`unknown argument ${argument}`);
  }
  if (!(Number.isInteger(options.steps) && options.steps >= 1)) throw new Error(`--steps: positive integer, got ${options.steps}`);
  if (!(Number.isInteger(options.warmup) && options.warmup >= 0)) throw new Error(`--warmup: integer ≥ 0, got ${options.warmup}`);
  if (!(options.maxBatch >= 1)) throw new Error(`--max-batch: ≥ 1, got ${options.maxBatch}`);
  if (!(Number.isInteger(options.load) && options.load >= 0)) throw new Error(`--load: integer ≥ 0, got ${options.load}`);
  if (!(Number.isInteger(options.rounds) && options.rounds >= 1)) throw new Error(`--rounds: positive integer, got ${options.rounds}`);
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
  let backendSummary = selection.summary;
  if (isa && selection.backend === 'native') {
    const native = await import('@longtail/backend-native');
    native.setSimdLevel(isa);
    backendSummary = `${selection.summary}, kernels held to ${native.getSimdLevel()}`;
  }
  const base = { backend, mode, batch, backendSummary, ...(isa ? { isa } : {}) };
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

/** Whether Debian's PyTorch is usable: `null` if so, else why not. */
function torchUnavailable() {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return `${python} not found`;
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `import torch failed: ${probe.stderr.trim().split('\n').pop()}`;
}

/** PyTorch's figures for one configuration (bench/resnet32_reference.py --only mode:batch). */
function runTorch(options, { mode, batch }) {
  const run = spawnSync(
    '/usr/bin/python3',
    [
      path.join(benchDirectory, 'resnet32_reference.py'),
      '--steps', String(options.steps),
      '--warmup', String(Math.max(1, options.warmup)),
      '--only', `${mode}:${batch}`,
    ],
    { encoding: 'utf8', maxBuffer: 16 * 2 ** 20, env: torchEnvironment(options) },
  );
  if (run.status !== 0) return { backend: 'pytorch', mode, batch, skipped: `resnet32_reference.py failed: ${run.stderr.trim().split('\n').pop()}` };
  return JSON.parse(run.stdout.split('\n').filter(Boolean).pop());
}

/** One configuration of one of our backends, in a child process of its own. */
function runOurs(options, backend, configuration) {
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', JSON.stringify({ backend, ...configuration, steps: options.steps, warmup: options.warmup, isa: options.isa })],
    { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 },
  );
  const line = child.stdout.split('\n').filter(Boolean).pop();
  try {
    return JSON.parse(line ?? '');
  } catch {
    return { backend, ...configuration, skipped: `child failed (exit ${child.status}): ${child.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
}

/** The rounds' records of one (backend, configuration) as one: medians of the timings, the first record's rest. */
function combineRounds(records) {
  const [first] = records;
  if (records.length === 1 || first.skipped) return first;
  const middle = (key) => Number(median(records.map((record) => record[key])).toFixed(key === 'imagesPerSecond' ? 2 : 1));
  return {
    ...first,
    imagesPerSecond: middle('imagesPerSecond'),
    medianStepMs: middle('medianStepMs'),
    medianCpuMsPerStep: middle('medianCpuMsPerStep'),
    peakRssMiB: Math.max(...records.map((record) => record.peakRssMiB)),
    rounds: records.length,
    byRound: records.map((record) => record.imagesPerSecond),
  };
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
    rounds: options.rounds,
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
  const torchSkipped = options.torch ? torchUnavailable() : '--no-torch';
  const key = (backend, configuration) => `${backend}:${configuration.mode}:${configuration.batch}`;
  const records = new Map();
  const add = (record, configuration) => {
    const list = records.get(key(record.backend, configuration)) ?? [];
    list.push(record);
    records.set(key(record.backend, configuration), list);
  };
  // Per-round ratios: ours / PyTorch's images per second, and PyTorch's CPU time / ours, from neighbouring runs.
  const ratios = new Map();
  const skippedBackends = new Set();
  // --max-batch can make two configurations one (both training batches clamped to 4): measured once.
  const shown = configurations
    .map(({ mode, batch }) => ({ mode, batch: Math.min(batch, options.maxBatch) }))
    .filter((configuration, index, all) => all.findIndex((other) => key('', other) === key('', configuration)) === index);
  for (let round = 0; round < options.rounds; round += 1) {
    for (const configuration of shown) {
      const reference = torchSkipped === null ? runTorch(options, configuration) : null;
      if (reference) add(reference, configuration);
      for (const backend of options.backends) {
        if (skippedBackends.has(backend)) continue;
        const record = runOurs(options, backend, configuration);
        add(record, configuration);
        if (record.skipped) {
          skippedBackends.add(backend);
          continue;
        }
        if (reference?.imagesPerSecond && record.imagesPerSecond !== undefined) {
          const list = ratios.get(key(backend, configuration)) ?? [];
          list.push({
            speed: record.imagesPerSecond / reference.imagesPerSecond,
            cpu: record.medianCpuMsPerStep && reference.medianCpuMsPerStep ? reference.medianCpuMsPerStep / record.medianCpuMsPerStep : undefined,
          });
          ratios.set(key(backend, configuration), list);
        }
      }
    }
  }

  if (torchSkipped !== null) print({ kind: 'result', backend: 'pytorch', skipped: torchSkipped });
  const torchResults = new Map();
  for (const configuration of shown) {
    const list = records.get(key('pytorch', configuration));
    if (!list) continue;
    const combined = combineRounds(list);
    torchResults.set(key('pytorch', configuration), combined);
    print({ kind: 'result', ...combined });
  }
  for (const backend of options.backends) {
    for (const configuration of shown) {
      const list = records.get(key(backend, configuration));
      if (!list) continue;
      const record = combineRounds(list);
      const reference = torchResults.get(key('pytorch', configuration));
      const roundRatios = ratios.get(key(backend, configuration));
      if (roundRatios && reference?.imagesPerSecond) {
        record.pytorchImagesPerSecond = reference.imagesPerSecond;
        record.ratioToPytorch = Number(median(roundRatios.map((ratio) => ratio.speed)).toFixed(3));
        // Same ratio by CPU time (PyTorch's CPU ms / ours): what the code costs, whatever else runs on the machine.
        const cpuRatios = roundRatios.map((ratio) => ratio.cpu).filter((ratio) => ratio !== undefined);
        if (cpuRatios.length > 0) record.cpuTimeRatioToPytorch = Number(median(cpuRatios).toFixed(3));
        if (roundRatios.length > 1) record.ratioByRound = roundRatios.map((ratio) => Number(ratio.speed.toFixed(3)));
      }
      print({ kind: 'result', ...record });
    }
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exitCode = 1;
});
