/**
 * The training pipeline: stage 1 (representation learning with GCL or a baseline loss, mixup, SGD with PyTorch
 * weight decay, warm-up + step decay, optional DRW), stage 2 (classifier re-training on the frozen backbone with a
 * sampler rule and the stage-2 loss, cosine schedule), evaluation, checkpoints, metrics and the report.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import * as losses from '@longtail/gcl-loss';
import * as samplers from '@longtail/samplers';
import { batchCount, batches } from '@longtail/datasets';
import { isHostMemoryBackend, selectBackend } from '@longtail/backend';
import { SeededRandom } from '@longtail/samplers';
import type { LossConfig, RunConfig, WeightingRule } from './config';
import { loadCheckpoint, removeStaleTemporaryFiles, saveCheckpoint } from './checkpoint';
import { evaluatePredictions, formatPercent, writeResults, type EvaluationResult } from './evaluation';
import { MetricsLog, readMetrics } from './metrics';
import { buildModel, featuresAndLogits, headLayer, modelWeightRecords, resolveHead, restoreModelWeights } from './model';
import { TorchSgd } from './optimizer';
import { ProgressReporter, type ProgressStream } from './progress';
import { writeReport, readJsonIfExists } from './report';
import { cosineDecay, warmupStepDecay } from './schedules';
import { loadTrainingData, type TrainingData } from './data';

export interface TrainOptions {
  /** Continue from the last checkpoint in the output directory. */
  resume?: boolean;
  /** Where progress goes (default process.stdout). */
  stream?: ProgressStream;
  /** Base directory for a relative `outputDir` (default process.cwd()). */
  cwd?: string;
  /** Pre-loaded data (tests); default: loaded from the config. */
  data?: TrainingData;
  /** Stop (as if killed) after finishing this epoch of this stage: for resume tests. */
  stopAfter?: { stage: 1 | 2; epoch: number };
}

export interface TrainSummary {
  outputDir: string;
  backend: string;
  stage1?: EvaluationResult;
  stage2?: EvaluationResult;
  final?: EvaluationResult;
  reportPath: string;
  stopped: boolean;
}

/**
 * On GPU backends, how many steps run before their losses are read: each read waits for the device to finish, and
 * reading every step would leave it idle while JavaScript prepares the next one. The NaN check and progress are
 * that many steps late at most; nothing is checkpointed before they are read.
 */
export const GPU_STEPS_PER_READ = 8;

interface StageMeta {
  kind: 'longtail-trainer';
  stage: 1 | 2;
  /** Epochs of this stage completed. */
  epochsDone: number;
  globalStep: number;
  best: { top1: number; epoch: number } | null;
  rng: number[];
  noiseDraws: number;
  sampler: unknown;
}

/**
 * Makes the configured backend the active tfjs backend through `@longtail/backend`'s `selectBackend`: `auto` tries
 * the fastest first (tfjs-node-gpu, webgpu on a hardware adapter, tfjs-node, the native kernel pack, wasm, cpu); a named backend is tried first and must load
 * (otherwise this throws with the reason, rather than silently training elsewhere).
 * @returns the one-line summary, e.g. `backend: native (avx2, 2 threads); tfjs-node-gpu unavailable: …`.
 */
export async function selectComputeBackend(name: RunConfig['backend']): Promise<string> {
  const selection = await selectBackend(name === 'auto' ? { quiet: true } : { prefer: name, quiet: true });
  if (selection.preferenceFailed) {
    throw new Error(`--backend ${name} is not available: ${selection.summary} (use --backend auto to take the fastest available)`);
  }
  await tf.ready();
  return selection.summary;
}

function classWeights(rule: WeightingRule, counts: number[]): number[] | null {
  if (rule === 'none') return null;
  const raw =
    rule === 'balanced'
      ? samplers.balancedWeights(counts)
      : rule === 'effective-number'
        ? samplers.effectiveNumberWeights(counts)
        : samplers.classBasedEffectiveNumberWeights(counts);
  return samplers.normalizeWeights(raw);
}

type LossFunction = (logits: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D | null, weight: number[] | null) => tf.Scalar;

/** The loss of a stage as one function; GCL forms take the cloud noise. */
export function makeLoss(loss: LossConfig, counts: number[], stage: 1 | 2): { fn: LossFunction; needsNoise: boolean } {
  const clsNumList = counts.map((n) => Math.max(n, 1));
  switch (loss.name) {
    case 'gcl':
      return {
        needsNoise: true,
        fn: (logits, labels, noise, weight) =>
          losses.gclLoss(logits, labels, noise!, { clsNumList, m: loss.m, s: loss.s, noiseMul: loss.noiseMul, weight, trainCls: stage === 2, gamma: loss.gamma }),
      };
    case 'gcl-angular':
      return {
        needsNoise: true,
        fn: (logits, labels, noise, weight) =>
          losses.gclAngularLoss(logits, labels, noise!, {
            clsNumList,
            m: loss.m,
            epsilon: loss.epsilon,
            s: loss.s,
            easyMargin: loss.easyMargin,
            weight,
            trainCls: stage === 2,
            gamma: loss.gamma,
          }),
      };
    case 'ce':
      return { needsNoise: false, fn: (logits, labels, _n, weight) => losses.crossEntropy(logits, labels, { weight }) };
    case 'focal':
      return { needsNoise: false, fn: (logits, labels, _n, weight) => losses.focalLoss(logits, labels, { gamma: loss.gamma, weight }) };
    case 'ldam':
      return { needsNoise: false, fn: (logits, labels, _n, weight) => losses.ldamLoss(logits, labels, { clsNumList, maxM: loss.maxM, s: loss.s, weight }) };
    case 'logit-adjusted':
      return { needsNoise: false, fn: (logits, labels) => losses.logitAdjustedLoss(logits, labels, { clsNumList, tau: loss.tau }) };
    case 'balanced-softmax':
      return { needsNoise: false, fn: (logits, labels) => losses.balancedSoftmaxLoss(logits, labels, { clsNumList }) };
  }
}

/** Scores the whole test set and evaluates them. */
export async function evaluateModel(model: tf.LayersModel, data: TrainingData, counts: number[], config: RunConfig): Promise<EvaluationResult> {
  const n = data.test.length;
  const logits = new Float32Array(n * data.numClasses);
  const labels = new Int32Array(n);
  let offset = 0;
  for await (const batch of batches(data.test, { batchSize: config.evaluation.batchSize, transform: data.evalTransform, seed: config.seed })) {
    const scores = tf.tidy(() => featuresAndLogits(model, tf.tensor4d(batch.images, batch.shape), false).logits);
    try {
      logits.set((await scores.data()) as Float32Array, offset * data.numClasses);
    } finally {
      scores.dispose();
    }
    labels.set(batch.labels, offset);
    offset += batch.labels.length;
  }
  return evaluatePredictions({ logits, labels, numClasses: data.numClasses }, counts, {
    manyThreshold: config.evaluation.manyThreshold,
    fewThreshold: config.evaluation.fewThreshold,
    classNames: data.classNames,
  });
}

function countClasses(labels: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

/** Output directory of a config: `outputDir`, or `runs/<name>`, relative to `cwd`. */
export function runDirectory(config: RunConfig, cwd = process.cwd()): string {
  return path.resolve(cwd, config.outputDir ?? path.join('runs', config.name));
}

/**
 * Trains as configured (two-stage GCL by default), writing config.json, metrics.jsonl, checkpoints, results and
 * report.html into the run directory. With `resume`, continues exactly from the last checkpoint: same weights,
 * momentum, sampler and random state, so the result equals an uninterrupted run.
 */
export async function train(config: RunConfig, options: TrainOptions = {}): Promise<TrainSummary> {
  const stream = options.stream ?? process.stdout;
  const progress = new ProgressReporter({ stream, mode: config.progress });
  const log = (line: string) => progress.log(line);
  const outputDir = runDirectory(config, options.cwd);
  const checkpointDir = path.join(outputDir, 'checkpoints');
  mkdirSync(checkpointDir, { recursive: true });
  await removeStaleTemporaryFiles(checkpointDir);

  const backend = await selectComputeBackend(config.backend);
  log(backend);
  const data = options.data ?? (await loadTrainingData(config));
  const counts = countClasses(data.train.labels, data.numClasses);
  log(`data: ${data.description}; ${data.train.length} training images (${Math.max(...counts)} … ${Math.min(...counts)} per class), ${data.test.length} test images`);
  writeFileSync(path.join(outputDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const head = resolveHead(config.model.head, config.stage1.loss.name);
  const model = await buildModel(config.model.backbone, { numClasses: data.numClasses, head, inputShape: data.inputShape, pretrained: config.model.pretrained });
  const metrics = new MetricsLog(path.join(outputDir, 'metrics.jsonl'));
  const file = (stage: 1 | 2, which: string) => path.join(checkpointDir, `stage${stage}-${which}.ckpt`);
  const summary: TrainSummary = { outputDir, backend, reportPath: path.join(outputDir, 'report.html'), stopped: false };
  const cloudSizes = losses.cloudSizes(counts.map((n) => Math.max(n, 1)));

  let resumeStage: 1 | 2 | null = null;
  if (options.resume) {
    if (config.stage2.enabled && existsSync(file(2, 'last'))) resumeStage = 2;
    else if (existsSync(file(1, 'last'))) resumeStage = 1;
    log(resumeStage ? `resuming from ${path.relative(outputDir, file(resumeStage, 'last'))}` : 'resume: no checkpoint yet, starting from scratch');
  } else {
    metrics.truncateFrom(1, 0);
  }

  try {
    for (const stage of [1, 2] as const) {
      if (stage === 2 && !config.stage2.enabled) break;
      if (resumeStage === 2 && stage === 1) {
        summary.stage1 = readJsonIfExists<EvaluationResult>(path.join(outputDir, 'results', 'stage1.json'));
        continue;
      }
      const result = await runStage(stage, {
        config,
        model,
        data,
        counts,
        metrics,
        progress,
        outputDir,
        file,
        resume: resumeStage === stage,
        stopAfter: options.stopAfter,
      });
      if (stage === 1) summary.stage1 = result.best;
      else summary.stage2 = result.best;
      if (result.stopped) {
        summary.stopped = true;
        return summary;
      }
    }
    summary.final = summary.stage2 ?? summary.stage1;
    if (summary.final) {
      await writeResults(path.join(outputDir, 'results.json'), summary.final, { stage: summary.stage2 ? 2 : 1, dataset: config.data.dataset });
      log(
        `final (${summary.stage2 ? 'stage 2' : 'stage 1'}, best epoch): top-1 ${formatPercent(summary.final.top1)}%  many ${formatPercent(summary.final.many)}  medium ${formatPercent(
          summary.final.medium,
        )}  few ${formatPercent(summary.final.few)}`,
      );
    }
  } finally {
    await writeRunReport(outputDir, config, backend, cloudSizes, data.classNames);
    model.dispose();
  }
  log(`report: ${summary.reportPath}`);
  return summary;
}

/** Writes report.html from the files of a run directory. */
export async function writeRunReport(outputDir: string, config: unknown, backend: string | undefined, cloudSizes?: number[], classNames?: string[]): Promise<string> {
  const evaluations = [1, 2]
    .map((stage) => ({ label: `stage ${stage} (best)`, result: readJsonIfExists<EvaluationResult>(path.join(outputDir, 'results', `stage${stage}.json`)) }))
    .filter((e): e is { label: string; result: EvaluationResult } => e.result !== undefined);
  const last = evaluations[evaluations.length - 1]?.result;
  const clouds = cloudSizes ?? (last ? losses.cloudSizes(last.trainCounts.map((n) => Math.max(n, 1))) : undefined);
  const target = path.join(outputDir, 'report.html');
  const name = (config as { name?: string } | undefined)?.name ?? path.basename(outputDir);
  await writeReport(target, {
    title: `longtail run: ${name}`,
    generatedAt: new Date().toISOString(),
    config,
    metrics: readMetrics(path.join(outputDir, 'metrics.jsonl')),
    evaluations,
    cloudSizes: clouds,
    classNames: classNames ?? last?.classNames,
    backend,
  });
  return target;
}

interface StageContext {
  config: RunConfig;
  model: tf.LayersModel;
  data: TrainingData;
  counts: number[];
  metrics: MetricsLog;
  progress: ProgressReporter;
  outputDir: string;
  file: (stage: 1 | 2, which: string) => string;
  resume: boolean;
  stopAfter?: { stage: 1 | 2; epoch: number };
}

async function runStage(stage: 1 | 2, context: StageContext): Promise<{ best?: EvaluationResult; stopped: boolean }> {
  const { config, model, data, counts, metrics, progress, outputDir, file } = context;
  const settings = stage === 1 ? config.stage1 : config.stage2;
  const epochs = settings.epochs;
  const samplerRule = stage === 1 ? config.stage1.sampler : config.stage2.sampler;
  const sampler = samplers.createSampler(samplerRule, data.train.labels, { seed: config.seed * 7919 + stage });
  const random = new SeededRandom(config.seed * 104729 + stage);
  const noise = new losses.CloudNoiseStream(config.seed * 15485863 + stage);
  const loss = makeLoss(settings.loss, counts, stage);
  const baseWeight = classWeights(settings.loss.weighting, counts);
  const drwWeight = stage === 1 && config.stage1.drw.epoch !== null ? classWeights(config.stage1.drw.weighting, counts) : null;
  const resultsFile = path.join(outputDir, 'results', `stage${stage}.json`);

  // Stage 2 re-trains only the classifier of the best stage-1 network, backbone in inference mode.
  const headWeights = new Set(headLayer(model).trainableWeights.map((w) => w.name));
  const trainable = model.trainableWeights.filter((w) => stage === 1 || headWeights.has(w.name));
  const variables = trainable.map((w) => w.read() as tf.Variable);
  const optimizer = new TorchSgd(variables, { momentum: settings.optimizer.momentum, weightDecay: settings.optimizer.weightDecay });

  let startEpoch = 0;
  let globalStep = 0;
  let best: StageMeta['best'] = null;
  let bestResult: EvaluationResult | undefined;
  if (context.resume) {
    const checkpoint = await loadCheckpoint<StageMeta>(file(stage, 'last'));
    restoreModelWeights(model, checkpoint.tensors.model ?? []);
    optimizer.setState(checkpoint.tensors.optimizer ?? []);
    startEpoch = checkpoint.meta.epochsDone;
    globalStep = checkpoint.meta.globalStep;
    best = checkpoint.meta.best;
    random.setState(checkpoint.meta.rng);
    noise.drawCount = checkpoint.meta.noiseDraws;
    sampler.setState(checkpoint.meta.sampler as never);
    bestResult = readJsonIfExists<EvaluationResult>(resultsFile);
    metrics.truncateFrom(stage, startEpoch);
  } else {
    metrics.truncateFrom(stage, 0);
    if (stage === 2 && existsSync(file(1, 'best'))) {
      const checkpoint = await loadCheckpoint<StageMeta>(file(1, 'best'));
      restoreModelWeights(model, checkpoint.tensors.model ?? []);
      progress.log(`stage 2: starting from the best stage-1 network (epoch ${checkpoint.meta.epochsDone})`);
    }
  }

  const batchSize = settings.batchSize;
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    const order = sampler.sample();
    const steps = batchCount(order.length, batchSize);
    progress.startEpoch(`stage ${stage} epoch ${epoch + 1}/${epochs}`, steps);
    const started = performance.now();
    let images = 0;
    let lossSum = 0;
    let accuracySum = 0;
    let step = 0;
    let lr = 0;
    const weight = drwWeight && epoch >= (config.stage1.drw.epoch as number) ? drwWeight : baseWeight;
    // Steps are read back a few at a time on GPU backends (each read waits for the device), every step elsewhere.
    const pending: Array<{ step: PendingStep; count: number; stepIndex: number; globalStep: number; lr: number }> = [];
    const readsPerFlush = isHostMemoryBackend(tf.getBackend()) ? 1 : GPU_STEPS_PER_READ;
    const flush = async () => {
      for (const entry of pending.splice(0)) {
        const { lossValue, accuracy } = await readStep(entry.step);
        images += entry.count;
        lossSum += lossValue * entry.count;
        accuracySum += accuracy * entry.count;
        const seconds = (performance.now() - started) / 1000;
        metrics.append({ type: 'step', stage, epoch, step: entry.stepIndex, globalStep: entry.globalStep, loss: lossValue, accuracy, lr: entry.lr, imagesPerSecond: images / seconds, time: new Date().toISOString() });
        progress.update({ step: entry.stepIndex + 1, loss: lossSum / images, accuracy: accuracySum / images, images });
        if (!Number.isFinite(lossValue)) {
          pending.splice(0).forEach((later) => (later.step.loss.dispose(), later.step.predicted.dispose()));
          throw new Error(`stage ${stage} epoch ${epoch + 1} step ${entry.stepIndex + 1}: the loss is ${lossValue} (diverged; lower the learning rate?)`);
        }
      }
    };
    for await (const batch of batches(data.train, { order, batchSize, transform: data.trainTransform, seed: config.seed, epoch: stage * 100_000 + epoch })) {
      if (stage === 1) {
        const schedule = config.stage1.schedule;
        // A fractional (compressed) warm-up ramps per step; an integer one per epoch as the official code.
        const perStep = !Number.isInteger(schedule.warmupEpochs);
        lr = warmupStepDecay(epoch, { lr: settings.optimizer.lr, ...schedule }, perStep ? (step + 1) / steps : 1);
      } else {
        lr = config.stage2.schedule.type === 'cosine' ? cosineDecay(epoch, { lr: settings.optimizer.lr, totalEpochs: epochs }) : settings.optimizer.lr;
      }
      const pendingStep = trainStep({
        model,
        batch,
        training: stage === 1,
        alpha: settings.mixup.alpha,
        random,
        noise: loss.needsNoise ? noise : null,
        loss: loss.fn,
        weight,
        variables,
        optimizer,
        lr,
      });
      pending.push({ step: pendingStep, count: batch.labels.length, stepIndex: step, globalStep, lr });
      step++;
      globalStep++;
      if (pending.length >= readsPerFlush) await flush();
    }
    await flush();
    const seconds = (performance.now() - started) / 1000;
    const evaluate = (epoch + 1) % config.evaluation.everyEpochs === 0 || epoch + 1 === epochs;
    let result: EvaluationResult | undefined;
    if (evaluate) result = await evaluateModel(model, data, counts, config);
    metrics.append({
      type: 'epoch',
      stage,
      epoch,
      trainLoss: lossSum / Math.max(images, 1),
      trainAccuracy: accuracySum / Math.max(images, 1),
      lr,
      seconds,
      imagesPerSecond: images / seconds,
      ...(result ? { top1: result.top1, top5: result.top5, many: result.many, medium: result.medium, few: result.few } : {}),
      time: new Date().toISOString(),
    });
    const isBest = result !== undefined && (best === null || result.top1 > best.top1);
    if (isBest && result) {
      best = { top1: result.top1, epoch };
      bestResult = result;
      await writeResults(resultsFile, result, { stage, epoch: epoch + 1, best: true });
    }
    const meta: StageMeta = {
      kind: 'longtail-trainer',
      stage,
      epochsDone: epoch + 1,
      globalStep,
      best,
      rng: random.getState(),
      noiseDraws: noise.drawCount,
      sampler: sampler.getState(),
    };
    const checkpoint = { meta, tensors: { model: await modelWeightRecords(model), optimizer: await optimizer.getState() } };
    await saveCheckpoint(file(stage, 'last'), checkpoint);
    if (isBest) await saveCheckpoint(file(stage, 'best'), checkpoint);
    if (config.checkpoint.keepEveryEpoch) await saveCheckpoint(file(stage, `epoch${String(epoch + 1).padStart(4, '0')}`), checkpoint);
    progress.endEpoch(
      `stage ${stage} epoch ${epoch + 1}/${epochs}: loss ${(lossSum / Math.max(images, 1)).toFixed(4)} train acc ${formatPercent(accuracySum / Math.max(images, 1))}% lr ${lr.toPrecision(3)} ` +
        `${(images / seconds).toFixed(1)} img/s` +
        (result ? ` | test top-1 ${formatPercent(result.top1)}% many ${formatPercent(result.many)} medium ${formatPercent(result.medium)} few ${formatPercent(result.few)}` : ''),
    );
    if (context.stopAfter && context.stopAfter.stage === stage && context.stopAfter.epoch === epoch + 1) {
      optimizer.dispose();
      return { best: bestResult, stopped: true };
    }
  }
  optimizer.dispose();
  // Stage 2 (and the final report) use the best network of this stage.
  if (existsSync(file(stage, 'best'))) {
    const checkpoint = await loadCheckpoint<StageMeta>(file(stage, 'best'));
    restoreModelWeights(model, checkpoint.tensors.model ?? []);
  }
  return { best: bestResult ?? readJsonIfExists<EvaluationResult>(resultsFile), stopped: false };
}

interface StepInput {
  model: tf.LayersModel;
  batch: { images: Float32Array; labels: Int32Array; shape: [number, number, number, number] };
  training: boolean;
  alpha: number;
  random: SeededRandom;
  noise: { next(shape: [number, number]): tf.Tensor2D } | null;
  loss: LossFunction;
  weight: number[] | null;
  variables: tf.Variable[];
  optimizer: TorchSgd;
  lr: number;
}

/** What {@link trainStep} leaves on the device: the step's loss and predictions, read later by {@link readStep}. */
export interface PendingStep {
  /** The (mixup-weighted) loss of the step. */
  loss: tf.Scalar;
  /** argmax of the logits, one class per image. */
  predicted: tf.Tensor1D;
  /** Mixup's λ (1 without mixup). */
  lambda: number;
  labelsA: Int32Array;
  labelsB: Int32Array;
}

/**
 * One SGD step with mixup (`λ L(y_a) + (1 − λ) L(y_b)`, λ ~ Beta(α, α), a random permutation pairs the batch;
 * GCL draws independent noise for each term as the official criterion is called twice).
 *
 * Reads nothing back: the batch is uploaded once, and the loss and predictions stay on the device as a
 * {@link PendingStep} until {@link readStep} awaits them, so that a GPU backend runs steps back to back instead of
 * waiting for each one to finish (the caller disposes the step through `readStep`).
 */
export function trainStep(input: StepInput): PendingStep {
  const { model, batch, training, alpha, random, noise, loss, weight, variables, optimizer, lr } = input;
  const size = batch.labels.length;
  const lambda = alpha > 0 ? random.beta(alpha, alpha) : 1;
  const permutation = alpha > 0 ? random.permutation(size) : null;
  const labelsB = permutation ? Int32Array.from(permutation, (p) => batch.labels[p]) : batch.labels;
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.images, batch.shape);
    const mixed = permutation ? (tf.add(tf.mul(x, lambda), tf.mul(tf.gather(x, tf.tensor1d(permutation, 'int32')), 1 - lambda)) as tf.Tensor4D) : x;
    const ya = tf.tensor1d(batch.labels, 'int32');
    const yb = tf.tensor1d(labelsB, 'int32');
    const classes = model.outputs[0].shape[1] as number;
    const noiseA = noise ? noise.next([size, classes]) : null;
    const noiseB = noise && permutation ? noise.next([size, classes]) : null;
    let predicted: tf.Tensor1D | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const { logits } = featuresAndLogits(model, mixed, training);
      predicted = tf.keep(tf.argMax(logits, 1) as tf.Tensor1D);
      const first = loss(logits, ya, noiseA, weight);
      if (!permutation) return first;
      return tf.add(tf.mul(first, lambda), tf.mul(loss(logits, yb, noiseB, weight), 1 - lambda)) as tf.Scalar;
    }, variables);
    optimizer.step(grads, lr);
    return { loss: value, predicted: predicted as unknown as tf.Tensor1D, lambda, labelsA: batch.labels, labelsB };
  });
}

/** Awaits a {@link trainStep}'s loss and predictions (an asynchronous read), disposes them, and scores the step. */
export async function readStep(step: PendingStep): Promise<{ lossValue: number; accuracy: number }> {
  try {
    const [lossValues, predicted] = await Promise.all([step.loss.data(), step.predicted.data()]);
    let hitsA = 0;
    let hitsB = 0;
    for (let i = 0; i < predicted.length; i++) {
      if (predicted[i] === step.labelsA[i]) hitsA++;
      if (predicted[i] === step.labelsB[i]) hitsB++;
    }
    const size = step.labelsA.length;
    return { lossValue: lossValues[0], accuracy: (step.lambda * hitsA + (1 - step.lambda) * hitsB) / size };
  } finally {
    step.loss.dispose();
    step.predicted.dispose();
  }
}
