/**
 * The training pipeline: stage 1 (representation learning with GCL or a baseline loss, mixup, SGD with PyTorch
 * weight decay, warm-up + step decay, optional DRW), stage 2 (classifier re-training on the frozen backbone with a
 * sampler rule and the stage-2 loss, cosine schedule), evaluation, checkpoints, metrics and the report.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as losses from '@longtail/gcl-loss';
import * as samplers from '@longtail/samplers';
import { batchCount, batches } from '@longtail/datasets';
import { isHostMemoryBackend, selectBackend } from '@longtail/backend';
import { SeededRandom } from '@longtail/samplers';
import { ConfigError, outputPathIssues, type LossConfig, type RunConfig, type WeightingRule } from './config';
import { checkpointPayloadSha256, loadCheckpoint, saveCheckpoint, type Checkpoint, type TensorRecord } from './checkpoint';
import { removeStaleTemporaryFilesSync, writeFileAtomic, writeFileAtomicSync } from './atomic';
import {
  acquireRunLock,
  checkResumeRecord,
  dataFacts,
  prepareFreshRunDirectory,
  readRunRecord,
  runDirectoryEntries,
  runRecord,
  RunDirectoryError,
  validateAllowChanged,
  writeRunRecord,
  type RunRecord,
} from './run-directory';
import { evaluatePredictions, formatPercent, writeResults, type EvaluationResult } from './evaluation';
import { MetricsLog, readMetrics } from './metrics';
import { buildModel, featuresAndLogits, headLayer, modelWeightRecords, resolveHead, restoreModelWeights } from './model';
import { TorchSgd } from './optimizer';
import { ProgressReporter, type ProgressStream } from './progress';
import { writeReport, readJsonIfExists } from './report';
import { cosineDecay, warmupStepDecay } from './schedules';
import { loadTrainingData, requireRegularFile, type TrainingData } from './data';

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
  /** A fresh run into a non-empty run directory: delete the old run's files first (otherwise refused). */
  overwrite?: boolean;
  /** With `resume`: resume-safe config keys (`RESUME_SAFE_KEYS`) allowed to differ from the run's. */
  allowChanged?: string[];
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

/**
 * The metadata of a stage checkpoint. `stage<N>-last.ckpt` is the stage's commit point: it names the run
 * (`fingerprint`), the best network so far by the SHA-256 of its payload (`best.sha256`; `stage<N>-best.ckpt` must
 * hold exactly that), and for stage 2 the stage-1 network it started from (`from`). Resume verifies all three.
 */
interface StageMeta {
  kind: 'longtail-trainer';
  stage: 1 | 2;
  /** Epochs of this stage completed. */
  epochsDone: number;
  globalStep: number;
  best: { top1: number; epoch: number; sha256: string } | null;
  rng: number[];
  noiseDraws: number;
  sampler: unknown;
  /** The run's fingerprint (run.json). */
  fingerprint: string;
  /** Stage 2: payload SHA-256 of the stage-1 network it started from (null: the model as built). */
  from: string | null;
}

/** Results file of a stage's best epoch: the evaluation plus which checkpoint it scores. */
type StageResultsFile = EvaluationResult & { stage?: number; epoch?: number; best?: boolean; checkpointSha256?: string };

/** The first non-finite value of a set of arrays (weights, batch-norm statistics, optimiser slots), or null. */
export function findNonFinite(records: readonly TensorRecord[]): { name: string; value: number; count: number; size: number } | null {
  for (const record of records) {
    const data = record.data;
    let first = Number.NaN;
    let count = 0;
    for (let i = 0; i < data.length; i++) {
      const value = data[i];
      if (value - value !== 0) {
        if (count === 0) first = value;
        count++;
      }
    }
    if (count > 0) return { name: record.name, value: first, count, size: data.length };
  }
  return null;
}

/** Throws naming the first weight with a non-finite value. */
function assertFinite(records: readonly TensorRecord[], where: string, what: string): void {
  const bad = findNonFinite(records);
  if (bad) {
    throw new Error(
      `${where}: the network diverged: ${what} ${bad.name} holds ${bad.value} (${bad.count} of ${bad.size} values not finite)` +
        `; nothing non-finite was checkpointed (lower the learning rate?)`,
    );
  }
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

/**
 * Per-class loss weights of a `weighting` rule, normalised to sum to 1 (`w / Σ w`, the method's re-weighting), or
 * null for `'none'`: balanced `1/n_j`, effective number `(1 − β)/(1 − β^{n_j})`, class-based effective number.
 */
export function classWeights(rule: WeightingRule, counts: number[]): number[] | null {
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
  if (n === 0) throw new Error('evaluation: the test set has no images (every metric would be n/a)');
  let nonFinite = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] - logits[i] !== 0) nonFinite++;
  if (nonFinite > 0) {
    throw new Error(
      `evaluation: ${nonFinite} of ${logits.length} logits are not finite: the network's weights or batch-norm statistics overflowed (diverged; lower the learning rate?)`,
    );
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

/**
 * Output directory of a config: `outputDir`, or `runs/<name>`, relative to `cwd`. A relative path must stay inside
 * `cwd` (and `name` is one path segment); an absolute `outputDir` may be anywhere. Throws a {@link ConfigError}.
 */
export function runDirectory(config: RunConfig, cwd = process.cwd()): string {
  const issues = outputPathIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
  return path.resolve(cwd, config.outputDir ?? path.join('runs', config.name));
}

/** Empty or degenerate data: an error naming the key when nothing could be measured, a warning otherwise. */
function checkData(config: RunConfig, data: TrainingData, counts: number[], log: (line: string) => void): void {
  const fileBacked = ['imagenet-lt', 'places-lt', 'inaturalist2018'].includes(config.data.dataset);
  const key = (split: 'train' | 'test') => (fileBacked ? `data.${split}Split` : 'data.dataset');
  if (data.test.length === 0) {
    throw new ConfigError([`${key('test')}: the test set of ${config.data.dataset} has no images (${data.description}): every metric would be n/a`]);
  }
  if (data.train.length === 0) throw new ConfigError([`${key('train')}: the training set of ${config.data.dataset} has no images (${data.description})`]);
  const empty = counts.flatMap((n, c) => (n === 0 ? [data.classNames[c] ?? String(c)] : []));
  if (empty.length > 0) {
    log(
      `warning: ${empty.length} of ${data.numClasses} classes have no training images (${empty.slice(0, 5).join(', ')}${empty.length > 5 ? ', …' : ''}): ` +
        `see data.imbalance.maxPerClass / data.trainLimit; their test accuracy measures nothing learnt`,
    );
  }
}

const SHORT = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

/** Loads `stage<N>-last.ckpt` for a resume and checks that it is this run's, and finite. */
async function loadStageCheckpoint(file: string, stage: 1 | 2, fingerprint: string): Promise<Checkpoint<StageMeta>> {
  const checkpoint = await loadCheckpoint<StageMeta>(file);
  const meta = checkpoint.meta;
  if (!meta || meta.kind !== 'longtail-trainer' || meta.stage !== stage) throw new RunDirectoryError(`--resume: ${file} is not a stage-${stage} checkpoint of longtail train`);
  if (meta.fingerprint !== fingerprint) {
    throw new RunDirectoryError(
      `--resume: ${file} belongs to another run (fingerprint ${SHORT(meta.fingerprint)}, this run's is ${SHORT(fingerprint)}): ` +
        `left by an earlier run in this directory? Train afresh with --overwrite`,
    );
  }
  assertFinite(checkpoint.tensors.model ?? [], file, 'weight');
  assertFinite(checkpoint.tensors.optimizer ?? [], file, 'optimizer slot');
  return checkpoint;
}

/**
 * Checks that `stage<N>-best.ckpt` holds the network its last checkpoint names. When the run stopped between the
 * two writes and the best network is the last one, queues rewriting best from last; otherwise refuses.
 */
async function verifyBest(stage: 1 | 2, last: Checkpoint<StageMeta>, file: (stage: 1 | 2, which: string) => string, repairs: Array<() => Promise<string>>): Promise<void> {
  const best = last.meta.best;
  if (best === null) return;
  const bestFile = file(stage, 'best');
  let held: Checkpoint<StageMeta> | undefined;
  let problem = 'is missing';
  if (existsSync(bestFile)) {
    try {
      held = await loadCheckpoint<StageMeta>(bestFile);
      problem = `holds another network (after epoch ${held.meta?.epochsDone}, sha256 ${SHORT(held.payloadSha256)})`;
    } catch (error) {
      problem = `is unreadable (${(error as Error).message})`;
    }
  }
  if (held?.payloadSha256 === best.sha256) return;
  if (last.payloadSha256 === best.sha256) {
    repairs.push(async () => {
      await writeFileAtomic(bestFile, readFileSync(file(stage, 'last')));
      return `resume: rewrote ${path.basename(bestFile)} from ${path.basename(file(stage, 'last'))} (the run stopped between the two writes)`;
    });
    return;
  }
  throw new RunDirectoryError(
    `--resume: the stage-${stage} checkpoints are inconsistent: ${file(stage, 'last')} names the best network of epoch ${best.epoch + 1} ` +
      `(sha256 ${SHORT(best.sha256)}), but ${bestFile} ${problem}; the run cannot be resumed exactly (train afresh with --overwrite)`,
  );
}

interface ResumePoint {
  stage: 1 | 2;
  /** The last checkpoint of the stage resumed. */
  last: Checkpoint<StageMeta>;
  stage1Last: Checkpoint<StageMeta> | null;
  repairs: Array<() => Promise<string>>;
}

/** Verifies the run's checkpoints as a set (see {@link StageMeta}); null when there is none yet. */
async function verifyCheckpointSet(config: RunConfig, fingerprint: string, file: (stage: 1 | 2, which: string) => string): Promise<ResumePoint | null> {
  const repairs: Array<() => Promise<string>> = [];
  let stage1Last: Checkpoint<StageMeta> | null = null;
  if (existsSync(file(1, 'last'))) {
    stage1Last = await loadStageCheckpoint(file(1, 'last'), 1, fingerprint);
    await verifyBest(1, stage1Last, file, repairs);
  }
  if (!existsSync(file(2, 'last'))) return stage1Last ? { stage: 1, last: stage1Last, stage1Last, repairs } : null;
  const last = await loadStageCheckpoint(file(2, 'last'), 2, fingerprint);
  if (config.stage1.epochs > 0 && (stage1Last === null || stage1Last.meta.epochsDone !== config.stage1.epochs)) {
    throw new RunDirectoryError(
      `--resume: ${file(2, 'last')} exists but stage 1 is not complete (${stage1Last ? `${stage1Last.meta.epochsDone} of ${config.stage1.epochs} epochs` : `no ${path.basename(file(1, 'last'))}`}): the checkpoints are inconsistent`,
    );
  }
  const from = stage1Last?.meta.best?.sha256 ?? null;
  if (last.meta.from !== from) {
    throw new RunDirectoryError(
      `--resume: ${file(2, 'last')} did not start from this run's best stage-1 network (it started from ${SHORT(last.meta.from)}, the best is ${SHORT(from)}): the checkpoints are inconsistent`,
    );
  }
  await verifyBest(2, last, file, repairs);
  return { stage: 2, last, stage1Last, repairs };
}

/** Reads a stage's results file if it scores the network `sha256`; undefined otherwise. */
function readStageResults(file: string, sha256: string): EvaluationResult | undefined {
  const saved = readJsonIfExists<StageResultsFile>(file);
  return saved && saved.checkpointSha256 === sha256 ? saved : undefined;
}

/**
 * Trains as configured (two-stage GCL by default), writing run.json, config.json, metrics.jsonl, checkpoints,
 * results and report.html into the run directory, every file atomically. With `resume`, continues exactly from the
 * last checkpoint (same weights, momentum, sampler and random state, so the result equals an uninterrupted run) after
 * checking that the directory holds this run (same fingerprint) and a consistent set of checkpoints; nothing is
 * rewritten before those checks pass. A fresh run needs an empty directory (or `overwrite`). The directory is locked
 * for the whole run.
 */
export async function train(config: RunConfig, options: TrainOptions = {}): Promise<TrainSummary> {
  const outputDir = runDirectory(config, options.cwd);
  const allowChanged = options.allowChanged ?? [];
  validateAllowChanged(allowChanged);
  if (allowChanged.length > 0 && !options.resume) throw new RunDirectoryError('--allow-changed applies to --resume only');
  // Synchronous: the lock is held as soon as this function returns its promise.
  const lock = acquireRunLock(outputDir);
  try {
    return await trainLocked(config, options, outputDir, allowChanged);
  } finally {
    lock.release();
  }
}

async function trainLocked(config: RunConfig, options: TrainOptions, outputDir: string, allowChanged: string[]): Promise<TrainSummary> {
  const stream = options.stream ?? process.stdout;
  const progress = new ProgressReporter({ stream, mode: config.progress });
  const log = (line: string) => progress.log(line);
  const checkpointDir = path.join(outputDir, 'checkpoints');
  // Only files of dead writers: a live process's temporary file is never touched.
  for (const directory of [outputDir, checkpointDir, path.join(outputDir, 'results')]) removeStaleTemporaryFilesSync(directory);
  if (!options.resume) {
    const removed = prepareFreshRunDirectory(outputDir, options.overwrite ?? false);
    if (removed.length > 0) log(`--overwrite: removed the old run's ${removed.join(', ')}`);
  }

  const backend = await selectComputeBackend(config.backend);
  log(backend);
  const data = options.data ?? (await loadTrainingData(config));
  const counts = countClasses(data.train.labels, data.numClasses);
  checkData(config, data, counts, log);
  log(`data: ${data.description}; ${data.train.length} training images (${Math.max(...counts)} … ${Math.min(...counts)} per class), ${data.test.length} test images`);
  const record = runRecord(config, dataFacts(data.train.labels, data.test.labels, data.numClasses));
  const file = (stage: 1 | 2, which: string) => path.join(checkpointDir, `stage${stage}-${which}.ckpt`);

  // Resume: every check before anything in the directory is rewritten.
  let resume: ResumePoint | null = null;
  let saved: RunRecord | undefined;
  if (options.resume) {
    saved = readRunRecord(outputDir);
    if (saved) {
      const changed = checkResumeRecord(outputDir, saved, record, allowChanged);
      if (changed.length > 0) log(`resume: with changed ${changed.join(', ')} (allowed)`);
      resume = await verifyCheckpointSet(config, record.fingerprint, file);
    } else if (runDirectoryEntries(checkpointDir).some((name) => name.endsWith('.ckpt'))) {
      throw new RunDirectoryError(
        `--resume: ${outputDir} has checkpoints but no ${path.basename('run.json')} (written by an older longtail, or not a run directory): ` +
          `its run cannot be verified; train afresh with --overwrite`,
      );
    }
    log(resume ? `resuming from ${path.relative(outputDir, file(resume.stage, 'last'))}` : 'resume: no checkpoint yet, starting from scratch');
    for (const repair of resume?.repairs ?? []) log(await repair());
  }
  writeRunRecord(outputDir, saved ? { ...record, createdAt: saved.createdAt } : record);
  writeFileAtomicSync(path.join(outputDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  if (config.model.pretrained) requireRegularFile(path.resolve(options.cwd ?? process.cwd(), config.model.pretrained), 'model.pretrained');
  const head = resolveHead(config.model.head, config.stage1.loss.name);
  const model = await buildModel(config.model.backbone, { numClasses: data.numClasses, head, inputShape: data.inputShape, pretrained: config.model.pretrained, seed: config.seed });
  const metrics = new MetricsLog(path.join(outputDir, 'metrics.jsonl'));
  const summary: TrainSummary = { outputDir, backend, reportPath: path.join(outputDir, 'report.html'), stopped: false };
  const cloudSizes = losses.cloudSizes(counts.map((n) => Math.max(n, 1)));
  if (!resume) metrics.truncateFrom(1, 0);

  let failed = false;
  try {
    let from: string | null = null;
    for (const stage of [1, 2] as const) {
      if (stage === 2 && !config.stage2.enabled) break;
      if (resume?.stage === 2 && stage === 1) {
        // Stage 1 is complete: its results must score its best network (a crash can come between the two writes).
        const stage1 = resume.stage1Last;
        from = resume.last.meta.from;
        if (stage1?.meta.best) {
          const resultsFile = path.join(outputDir, 'results', 'stage1.json');
          summary.stage1 = readStageResults(resultsFile, stage1.meta.best.sha256);
          if (!summary.stage1) {
            const best = await loadCheckpoint<StageMeta>(file(1, 'best'));
            restoreModelWeights(model, best.tensors.model ?? []);
            summary.stage1 = await evaluateModel(model, data, counts, config);
            await writeResults(resultsFile, summary.stage1, { stage: 1, epoch: stage1.meta.best.epoch + 1, best: true, checkpointSha256: stage1.meta.best.sha256 });
          }
        }
        continue;
      }
      if (stage === 2 && from !== null && resume?.stage !== 2) progress.log(`stage 2: starting from the best stage-1 network (sha256 ${SHORT(from)})`);
      const result = await runStage(stage, {
        config,
        model,
        data,
        counts,
        metrics,
        progress,
        outputDir,
        file,
        fingerprint: record.fingerprint,
        from: stage === 2 ? from : null,
        resume: resume?.stage === stage ? resume.last : null,
        stopAfter: options.stopAfter,
      });
      if (stage === 1) {
        summary.stage1 = result.best;
        from = result.bestSha256;
      } else summary.stage2 = result.best;
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
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await writeRunReport(outputDir, config, backend, cloudSizes, data.classNames);
    } catch (reportError) {
      // A failed run's own error is what the user must see; the report is derived.
      if (!failed) throw reportError;
      log(`report not written: ${(reportError as Error).message}`);
    } finally {
      model.dispose();
    }
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
  fingerprint: string;
  /** Stage 2: the stage-1 network it starts from (already in the model). */
  from: string | null;
  /** The verified last checkpoint to resume from, or null for a fresh stage. */
  resume: Checkpoint<StageMeta> | null;
  stopAfter?: { stage: 1 | 2; epoch: number };
}

async function runStage(stage: 1 | 2, context: StageContext): Promise<{ best?: EvaluationResult; bestSha256: string | null; stopped: boolean }> {
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
    const checkpoint = context.resume;
    restoreModelWeights(model, checkpoint.tensors.model ?? []);
    optimizer.setState(checkpoint.tensors.optimizer ?? []);
    startEpoch = checkpoint.meta.epochsDone;
    globalStep = checkpoint.meta.globalStep;
    best = checkpoint.meta.best;
    random.setState(checkpoint.meta.rng);
    noise.drawCount = checkpoint.meta.noiseDraws;
    sampler.setState(checkpoint.meta.sampler as never);
    bestResult = best ? readStageResults(resultsFile, best.sha256) : undefined;
    metrics.truncateFrom(stage, startEpoch);
  } else {
    metrics.truncateFrom(stage, 0);
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
    // The epoch's whole state, read once (asynchronously) and checked: a finite loss does not make finite weights
    // (batch-norm statistics can overflow on their own). Nothing non-finite is evaluated or checkpointed.
    const state = { model: await modelWeightRecords(model), optimizer: await optimizer.getState() };
    const where = `stage ${stage} epoch ${epoch + 1}`;
    assertFinite(state.model, where, 'weight');
    assertFinite(state.optimizer, where, 'optimizer slot');
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
    const sha256 = checkpointPayloadSha256(state);
    const isBest = result !== undefined && (best === null || result.top1 > best.top1);
    if (isBest && result) {
      best = { top1: result.top1, epoch, sha256 };
      bestResult = result;
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
      fingerprint: context.fingerprint,
      from: context.from,
    };
    const checkpoint = { meta, tensors: state };
    // `last` is the commit point of the epoch; `best` and the results follow (resume repairs a crash in between).
    await saveCheckpoint(file(stage, 'last'), checkpoint);
    if (isBest) await saveCheckpoint(file(stage, 'best'), checkpoint);
    if (config.checkpoint.keepEveryEpoch) await saveCheckpoint(file(stage, `epoch${String(epoch + 1).padStart(4, '0')}`), checkpoint);
    if (isBest && result) await writeResults(resultsFile, result, { stage, epoch: epoch + 1, best: true, checkpointSha256: sha256 });
    progress.endEpoch(
      `stage ${stage} epoch ${epoch + 1}/${epochs}: loss ${(lossSum / Math.max(images, 1)).toFixed(4)} train acc ${formatPercent(accuracySum / Math.max(images, 1))}% lr ${lr.toPrecision(3)} ` +
        `${(images / seconds).toFixed(1)} img/s` +
        (result ? ` | test top-1 ${formatPercent(result.top1)}% many ${formatPercent(result.many)} medium ${formatPercent(result.medium)} few ${formatPercent(result.few)}` : ''),
    );
    if (context.stopAfter && context.stopAfter.stage === stage && context.stopAfter.epoch === epoch + 1) {
      optimizer.dispose();
      return { best: bestResult, bestSha256: best?.sha256 ?? null, stopped: true };
    }
  }
  optimizer.dispose();
  // Stage 2 (and the final report) use the best network of this stage: the one its last checkpoint names.
  if (best !== null) {
    const checkpoint = await loadCheckpoint<StageMeta>(file(stage, 'best'));
    if (checkpoint.payloadSha256 !== best.sha256) {
      throw new RunDirectoryError(`${file(stage, 'best')} does not hold the best network of stage ${stage} (sha256 ${SHORT(checkpoint.payloadSha256)}, expected ${SHORT(best.sha256)}): changed by another process?`);
    }
    restoreModelWeights(model, checkpoint.tensors.model ?? []);
    if (!bestResult) {
      // The run stopped between the checkpoint and its results: score the best network again.
      bestResult = await evaluateModel(model, data, counts, config);
      await writeResults(resultsFile, bestResult, { stage, epoch: best.epoch + 1, best: true, checkpointSha256: best.sha256 });
    }
  }
  return { best: bestResult, bestSha256: best?.sha256 ?? null, stopped: false };
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
