#!/usr/bin/env node
// `npm run parity`: training parity of the TensorFlow.js library code with PyTorch, step by step.
//
// The JavaScript side drives the real trainer code (`trainStep` + `readStep` from the built @longtail/trainer, `makeLoss`,
// `TorchSgd`, the samplers, batcher and transforms, the lr schedules as `runStage` computes them) for N stage-1 steps
// (GCL stage-1 loss, mixup, the whole network in training mode) and M stage-2 steps (frozen backbone, batch norm in
// inference mode, only the cosine classifier trained with the stage-2 GCL loss and focal reduction). It records every
// step's inputs — the images after augmentation, labels, mixup λ and permutation (through a wrapper around the
// SeededRandom), both GCL noise draws (through a wrapper around the CloudNoiseStream) and the lr — and streams them
// to bench/parity/reference.py, an independent PyTorch ResNet + GCL written from the method page that starts from the
// same weights (exportStateDict → encodeSafetensors → file) and trains on exactly those inputs.
//
// Prints JSON lines: one per step {stage, step, lossOurs, lossTorch, relativeDifference}, one per stage end with the
// parameter comparison, and last a summary with maxRelativeLossDifference and maxRelativeParameterDifference (every
// weight and running statistic at the end, PyTorch names, relative = max|a − b| / max|b| per tensor, max over tensors).
//
// Options: --steps N (stage 1, default 10)  --stage2-steps M (default 3)  --batch B (default 16)
//          --backbone resnet32|resnet20 (default resnet32)  --backend native|wasm|webgpu|cpu|tensorflow (default native)
//          --dataset fashion-mnist-lt|synthetic (default synthetic)  --seed S (default 0)
//          --stage2-weighting none|balanced|effective-number|class-based-effective-number (stage-2 loss weights;
//            default none, the trainer's default — its stage-2 rebalancing is the sampler)
//          --imbalance F (default 0.01)  --input-size N (synthetic only, default 16)  --threads N (PyTorch threads, default 2)
//          --torch-dtype float32|float64 (float64: measure how far float32 rounding alone carries the runs apart)
//          --shadow (also train a float64 PyTorch copy: reports ours vs float64 and PyTorch float32 vs float64, the
//            rounding-noise floor of a float32 run, as the summary's float32Floor {loss, parameters}; slower)
//
// Conditioning: a ReLU network trained in float32 parts from float64 (and from any other float32 implementation) at
// discrete events — a pre-activation within rounding noise of the kink flips its mask and moves a gradient by that
// element's dy (1e-3…1e-2 relative for a batch-norm β, whose gradient is a cancelling sum and whose value starts at 0).
// Whether such an event happens in 13 steps depends on the configuration and the seed: at the defaults (lr 0.1,
// batch 16, 16×16 synthetic) PyTorch float32 itself lands 3e-3…6e-3 (loss) and 5e-2 (parameters) from float64, so a
// 1e-3 bound is below the floor there. examples/test/parity.test.ts uses a configuration whose floor is ~1e-6.
// Always read a result against float32Floor (--shadow).
//          --lr X --momentum X --weight-decay X (stage-1 optimiser overrides, for diagnosis; default the trainer's)
//          --without-kernels K1,K2 (diagnosis: unregister these kernels of the active backend; a cpu kernel of the same
//            name replaces one, a fused Longtail* kernel is just removed so that its caller takes the tfjs-ops path)
//          --tolerance T (default 1e-3; the summary says whether both maxima are within it)  --keep (keep the temp files)
//          --quiet (summary line only)
// webgpu without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp/xdg (slow).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.PARITY_PYTHON ?? '/usr/bin/python3';

function parseArguments(argv) {
  const options = {
    steps: 10,
    stage2Steps: 3,
    batch: 16,
    backbone: 'resnet32',
    backend: 'native',
    dataset: 'synthetic',
    seed: 0,
    stage2Weighting: 'none',
    imbalance: 0.01,
    inputSize: 16,
    threads: 2,
    torchDtype: 'float32',
    tolerance: 1e-3,
    keep: false,
    quiet: false,
    shadow: false,
    optimizer: {},
    withoutKernels: [],
  };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index];
    const value = () => {
      index += 1;
      if (argv[index] === undefined) throw new Error(`${argument}: a value is required`);
      return argv[index];
    };
    const integer = (minimum) => {
      const raw = value();
      const number = Number(raw);
      if (!Number.isInteger(number) || number < minimum) throw new Error(`${argument}: an integer ≥ ${minimum}, got ${raw}`);
      return number;
    };
    if (argument === '--steps') options.steps = integer(0);
    else if (argument === '--stage2-steps') options.stage2Steps = integer(0);
    else if (argument === '--batch') options.batch = integer(2);
    else if (argument === '--backbone') options.backbone = value();
    else if (argument === '--backend') options.backend = value();
    else if (argument === '--dataset') options.dataset = value();
    else if (argument === '--seed') options.seed = integer(0);
    else if (argument === '--stage2-weighting') options.stage2Weighting = value();
    else if (argument === '--imbalance') options.imbalance = Number(value());
    else if (argument === '--input-size') options.inputSize = integer(8);
    else if (argument === '--threads') options.threads = integer(1);
    else if (argument === '--torch-dtype') options.torchDtype = value();
    else if (argument === '--tolerance') options.tolerance = Number(value());
    else if (argument === '--keep') options.keep = true;
    else if (argument === '--shadow') options.shadow = true;
    else if (argument === '--without-kernels') options.withoutKernels = value().split(',').filter(Boolean);
    else if (argument === '--lr') options.optimizer.lr = Number(value());
    else if (argument === '--momentum') options.optimizer.momentum = Number(value());
    else if (argument === '--weight-decay') options.optimizer.weightDecay = Number(value());
    else if (argument === '--quiet') options.quiet = true;
    else throw new Error(`unknown argument ${argument} (see the header of bench/parity/run.mjs)`);
  }
  if (!['resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110'].includes(options.backbone)) throw new Error(`--backbone: a CIFAR ResNet (resnet20, resnet32, …), got ${options.backbone}`);
  if (!['fashion-mnist-lt', 'synthetic'].includes(options.dataset)) throw new Error(`--dataset: fashion-mnist-lt or synthetic, got ${options.dataset}`);
  if (!['float32', 'float64'].includes(options.torchDtype)) throw new Error(`--torch-dtype: float32 or float64, got ${options.torchDtype}`);
  if (options.steps + options.stage2Steps === 0) throw new Error('nothing to do: --steps and --stage2-steps are both 0');
  return options;
}

/** A message of the protocol reference.py reads: 8-byte LE header length, JSON header, raw little-endian payloads. */
function encodeMessage(header, tensors = []) {
  const described = { ...header, tensors: tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })) };
  const json = Buffer.from(JSON.stringify(described), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  if (os.endianness() !== 'LE') throw new Error('parity: a little-endian machine is assumed');
  return Buffer.concat([length, json, ...tensors.map(({ values }) => Buffer.from(values.buffer, values.byteOffset, values.byteLength))]);
}

/** A SeededRandom stand-in that records what trainStep draws: mixup's λ and permutation. */
function recordingRandom(inner) {
  const record = { lambda: null, permutation: null };
  return {
    record,
    random: {
      beta: (alpha, beta) => (record.lambda = inner.beta(alpha, beta)),
      permutation: (n) => (record.permutation = inner.permutation(n)),
    },
  };
}

/** A CloudNoiseStream stand-in that keeps each draw alive past trainStep's tidy so its values can be read after the step. */
function recordingNoise(tf, inner) {
  const draws = [];
  return {
    draws,
    noise: {
      next(shape) {
        const tensor = inner.next(shape);
        draws.push(tf.keep(tensor));
        return tensor;
      },
    },
  };
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const started = performance.now();
  const tf = await import('@tensorflow/tfjs');
  let trainer;
  try {
    trainer = await import('@longtail/trainer');
  } catch (error) {
    throw new Error(`@longtail/trainer is not built (npx turbo run build --filter=@longtail/trainer...): ${error.message}`);
  }
  const backbones = await import('@longtail/backbones');
  const samplers = await import('@longtail/samplers');
  const datasets = await import('@longtail/datasets');
  const losses = await import('@longtail/gcl-loss');
  const { trainStep, readStep, makeLoss, TorchSgd, warmupStepDecay, cosineDecay, resolveConfig, loadTrainingData, selectComputeBackend } = trainer;
  // The functions the trainer's stage plan calls: the samplers' class weights, the backbones' classifier layer.
  const { classWeights } = samplers;
  const { classifierLayer } = backbones;

  const print = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
  const backendSummary = await selectComputeBackend(options.backend);
  for (const name of options.withoutKernels) {
    const active = tf.getBackend();
    if (!tf.getKernel(name, active)) throw new Error(`--without-kernels: ${name} is not a kernel of ${active}`);
    tf.unregisterKernel(name, active);
    const cpu = tf.getKernel(name, 'cpu');
    if (cpu && active !== 'cpu') tf.registerKernel({ ...cpu, backendName: active });
  }
  const stage1Epochs = 200;
  const stage2Epochs = 30;
  const config = resolveConfig({
    seed: options.seed,
    backend: options.backend,
    data: {
      dataset: options.dataset,
      imbalance: { factor: options.imbalance },
      ...(options.dataset === 'synthetic' ? { inputSize: options.inputSize } : {}),
    },
    model: { backbone: options.backbone, head: 'cosine' },
    stage1: { epochs: stage1Epochs, batchSize: options.batch, optimizer: options.optimizer },
    stage2: { epochs: stage2Epochs, batchSize: options.batch, loss: { name: 'gcl', weighting: options.stage2Weighting } },
  });
  const data = await loadTrainingData(config);
  const counts = new Array(data.numClasses).fill(0);
  for (const label of data.train.labels) counts[label] += 1;

  const directory = mkdtempSync(path.join(os.tmpdir(), 'longtail-parity-'));
  const model = backbones[options.backbone]({ numClasses: data.numClasses, head: 'cosine', inputShape: data.inputShape, seed: options.seed });
  // Training-mode batch-norm forwards so far: PyTorch's num_batches_tracked, which reference.py compares exactly.
  let batchesTracked = 0;
  /** The model's state as a PyTorch state dict in a .safetensors file (reference.py loads it strictly). */
  const saveStateDict = async (name) => {
    const file = path.join(directory, name);
    writeFileSync(file, backbones.encodeSafetensors(await backbones.exportStateDict(model, { numBatchesTracked: batchesTracked })));
    return file;
  };
  const initialWeights = await saveStateDict('initial.safetensors');

  // The PyTorch side, fed over its stdin as the steps run.
  const child = spawn(PYTHON, [path.join(here, 'reference.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  let childGone = null;
  exited.then((status) => (childGone = status));
  const send = async (buffer) => {
    if (childGone) throw new Error(`reference.py exited early (${JSON.stringify(childGone)})`);
    if (!child.stdin.write(buffer)) {
      await Promise.race([new Promise((resolve) => child.stdin.once('drain', resolve)), exited]);
      if (childGone) throw new Error(`reference.py exited early (${JSON.stringify(childGone)})`);
    }
  };
  child.stdin.on('error', () => {});

  // Our losses by step index; Python's lines are matched to them as they arrive.
  const ours = new Map();
  const stepResults = [];
  const compares = [];
  const lines = readline.createInterface({ input: child.stdout });
  const linesDone = new Promise((resolve) => lines.on('close', resolve));
  lines.on('line', (line) => {
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      process.stderr.write(`reference.py: ${line}\n`);
      return;
    }
    if (record.kind === 'step') {
      const mine = ours.get(record.index);
      const relativeDifference = Math.abs(mine.lossOurs - record.lossTorch) / Math.abs(record.lossTorch);
      const result = { stage: record.stage, step: record.step, lossOurs: mine.lossOurs, lossTorch: record.lossTorch, relativeDifference };
      if (record.lossFloat64 !== undefined) {
        result.lossFloat64 = record.lossFloat64;
        result.torchVsFloat64 = Math.abs(record.lossTorch - record.lossFloat64) / Math.abs(record.lossFloat64);
      }
      if (Math.abs(record.lrRecorded - record.lrMethod) > 1e-12 * Math.max(1, Math.abs(record.lrMethod))) {
        result.lrMismatch = { ours: record.lrRecorded, method: record.lrMethod };
      }
      stepResults.push(result);
      if (!options.quiet) print(result);
    } else if (record.kind === 'compare') {
      compares.push(record);
      if (!options.quiet) {
        const { stage, maxRelativeParameterDifference, worstParameter, largest, oursVsFloat64, torchVsFloat64 } = record;
        print({ stage, endOfStage: true, maxRelativeParameterDifference, worstParameter, largest, ...(oursVsFloat64 ? { oursVsFloat64, torchVsFloat64 } : {}) });
      }
    }
  });

  const stageSettings = (stage) => {
    const settings = stage === 1 ? config.stage1 : config.stage2;
    return {
      lr: settings.optimizer.lr,
      momentum: settings.optimizer.momentum,
      weightDecay: settings.optimizer.weightDecay,
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      alpha: settings.mixup.alpha,
      // Stage-1 GCL has no focal exponent (no focal reduction): 0, as the official criterion ignores it there.
      loss: { name: settings.loss.name, m: settings.loss.m, s: settings.loss.s, noiseMul: settings.loss.noiseMul, gamma: settings.loss.gamma ?? 0, weighting: settings.loss.weighting },
      ...(stage === 1 ? { schedule: config.stage1.schedule } : { scheduleType: config.stage2.schedule.type }),
    };
  };
  await send(
    encodeMessage({
      kind: 'init',
      weights: initialWeights,
      config: {
        backbone: options.backbone,
        numClasses: data.numClasses,
        inputShape: data.inputShape,
        counts,
        threads: options.threads,
        dtype: options.torchDtype,
        shadow: options.shadow,
        stage1: stageSettings(1),
        stage2: stageSettings(2),
      },
    }),
  );

  // The stage loop of pipeline.ts `runStage`, cut after the requested number of steps.
  let index = 0;
  for (const stage of [1, 2]) {
    const wanted = stage === 1 ? options.steps : options.stage2Steps;
    if (wanted === 0) continue;
    const settings = stage === 1 ? config.stage1 : config.stage2;
    const samplerRule = settings.sampler;
    const sampler = samplers.createSampler(samplerRule, data.train.labels, { seed: config.seed * 7919 + stage });
    const { random, record: drawn } = recordingRandom(new samplers.SeededRandom(config.seed * 104729 + stage));
    const loss = makeLoss(settings.loss, counts, stage);
    const { noise, draws } = recordingNoise(tf, new losses.CloudNoiseStream(config.seed * 15485863 + stage));
    const weight = classWeights(settings.loss.weighting, counts);
    const headWeights = new Set(classifierLayer(model).trainableWeights.map((w) => w.name));
    const trainable = model.trainableWeights.filter((w) => stage === 1 || headWeights.has(w.name));
    const variables = trainable.map((w) => w.read());
    const optimizer = new TorchSgd(variables, { momentum: settings.optimizer.momentum, weightDecay: settings.optimizer.weightDecay });
    let done = 0;
    for (let epoch = 0; done < wanted; epoch++) {
      const order = sampler.sample();
      const steps = datasets.batchCount(order.length, settings.batchSize);
      let step = 0;
      for await (const batch of datasets.batches(data.train, { order, batchSize: settings.batchSize, transform: data.trainTransform, seed: config.seed, epoch: stage * 100_000 + epoch })) {
        let lr;
        if (stage === 1) {
          const schedule = config.stage1.schedule;
          const perStep = !Number.isInteger(schedule.warmupEpochs);
          lr = warmupStepDecay(epoch, { lr: settings.optimizer.lr, ...schedule }, perStep ? (step + 1) / steps : 1);
        } else {
          lr = config.stage2.schedule.type === 'cosine' ? cosineDecay(epoch, { lr: settings.optimizer.lr, totalEpochs: settings.epochs }) : settings.optimizer.lr;
        }
        drawn.lambda = null;
        drawn.permutation = null;
        draws.length = 0;
        const pending = trainStep({ model, batch, training: stage === 1, alpha: settings.mixup.alpha, random, noise: loss.needsNoise ? noise : null, loss: loss.fn, weight, variables, optimizer, lr });
        const { lossValue } = await readStep(pending);
        const noiseValues = [];
        for (const tensor of draws) {
          noiseValues.push({ shape: tensor.shape.slice(), values: Float32Array.from(await tensor.data()) });
          tensor.dispose();
        }
        if (noiseValues.length === 0) throw new Error('parity: the stage loss drew no GCL noise (not a GCL loss?)');
        ours.set(index, { lossOurs: lossValue });
        const tensors = [
          { name: 'images', dtype: 'F32', shape: batch.shape.slice(), values: batch.images },
          { name: 'labels', dtype: 'I32', shape: [batch.labels.length], values: Int32Array.from(batch.labels) },
          { name: 'noiseA', dtype: 'F32', shape: noiseValues[0].shape, values: noiseValues[0].values },
        ];
        if (drawn.permutation) tensors.push({ name: 'permutation', dtype: 'I32', shape: [drawn.permutation.length], values: Int32Array.from(drawn.permutation) });
        if (noiseValues[1]) tensors.push({ name: 'noiseB', dtype: 'F32', shape: noiseValues[1].shape, values: noiseValues[1].values });
        await send(encodeMessage({ kind: 'step', index, stage, epoch, step, lr, lambda: pending.lambda, lossOurs: lossValue }, tensors));
        index += 1;
        step += 1;
        done += 1;
        if (stage === 1) batchesTracked += 1;
        if (done >= wanted) break;
      }
    }
    optimizer.dispose();
    await send(encodeMessage({ kind: 'compare', stage, weights: await saveStateDict(`stage${stage}.safetensors`) }));
  }
  await send(encodeMessage({ kind: 'end' }));
  child.stdin.end();
  const status = await exited;
  await linesDone;
  if (status.code !== 0) throw new Error(`reference.py failed (${JSON.stringify(status)})`);
  if (stepResults.length !== index) throw new Error(`reference.py answered ${stepResults.length} of ${index} steps`);

  let worstStep = stepResults[0];
  for (const result of stepResults) if (!(result.relativeDifference <= worstStep.relativeDifference)) worstStep = result;
  const final = compares[compares.length - 1];
  const maxRelativeLossDifference = worstStep.relativeDifference;
  const lrMismatches = stepResults.filter((result) => result.lrMismatch).length;
  print({
    summary: true,
    maxRelativeLossDifference,
    worstLossStep: { stage: worstStep.stage, step: worstStep.step },
    maxRelativeParameterDifference: final.maxRelativeParameterDifference,
    worstParameter: final.worstParameter,
    largestParameterDifferences: final.largest,
    parametersCompared: final.tensors,
    parametersMissing: final.missing,
    batchesTrackedMismatches: final.batchesTrackedMismatches,
    stageParameterDifferences: compares.map((c) => ({ stage: c.stage, maxRelativeParameterDifference: c.maxRelativeParameterDifference, worstParameter: c.worstParameter, ...(c.oursVsFloat64 ? { oursVsFloat64: c.oursVsFloat64, torchVsFloat64: c.torchVsFloat64 } : {}) })),
    ...(options.shadow
      ? {
          maxRelativeLossDifferenceTorchVsFloat64: Math.max(...stepResults.map((r) => r.torchVsFloat64)),
          maxRelativeLossDifferenceOursVsFloat64: Math.max(...stepResults.map((r) => Math.abs(r.lossOurs - r.lossFloat64) / Math.abs(r.lossFloat64))),
          // The float32 floor of this configuration: how far PyTorch float32 itself lands from float64 (loss, and the
          // final parameters). A tolerance below it cannot be met by any float32 implementation.
          float32Floor: {
            loss: Math.max(...stepResults.map((r) => r.torchVsFloat64)),
            parameters: final.torchVsFloat64?.maxRelativeParameterDifference,
          },
        }
      : {}),
    tolerance: options.tolerance,
    withinTolerance: maxRelativeLossDifference <= options.tolerance && final.maxRelativeParameterDifference <= options.tolerance && lrMismatches === 0,
    lrMismatches,
    stage1Steps: options.steps,
    stage2Steps: options.stage2Steps,
    batch: options.batch,
    backbone: options.backbone,
    dataset: options.dataset,
    trainImages: data.train.length,
    counts,
    seed: options.seed,
    torchDtype: options.torchDtype,
    backend: backendSummary,
    ...(options.withoutKernels.length > 0 ? { withoutKernels: options.withoutKernels } : {}),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  });
  model.dispose();
  if (!options.keep) rmSync(directory, { recursive: true, force: true });
  else process.stderr.write(`parity: files kept in ${directory}\n`);
}

main().catch((error) => {
  process.stderr.write(`parity: ${error.stack ?? error}\n`);
  process.exit(1);
});
