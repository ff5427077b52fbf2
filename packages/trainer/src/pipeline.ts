/**
 * The training pipeline, composed: the run directory (lock, run record, fresh or resumed), the data and the network,
 * then each stage of the config's stage plan (`stage-plan.ts`) through the stage runner (`stage-runner.ts`), the
 * final results and the report. Losses, samplers, data sets and backbones come from the library packages'
 * registries; nothing here knows one by name.
 */
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { getDataset, manyMediumFew } from '@longtail/datasets';
import { cloudSizes, type Stage } from '@longtail/gcl-loss';
import { classCounts } from '@longtail/samplers';
import { removeStaleTemporaryFilesSync, writeFileAtomicSync } from './atomic.js';
import { selectComputeBackend } from './backend-selection.js';
import { loadCheckpoint } from './checkpoint.js';
import { readStageResults, SHORT, verifyCheckpointSet, type ResumePoint, type StageFile, type StageMeta } from './checkpoint-set.js';
import { ConfigError, type RunConfig } from './config.js';
import { loadTrainingData, needsValidation, requireRegularFile, type TrainingData } from './data.js';
import { joinReplicas, launcherWorldSize, loadOnRoot, SINGLE_PROCESS, type Replicas } from './data-parallel.js';
import { evaluateEpoch, scaleLogits, scoreSplit } from './evaluate-model.js';
import { calibration, fitTemperature, type TemperatureScaling } from './calibration.js';
import { formatPercent, writeResults, type EvaluationResult, type SelectionMode } from './evaluation.js';
import { probabilityScale, resolveHead } from './losses.js';
import { MetricsLog, readMetrics } from './metrics.js';
import { buildModel, restoreModelWeights } from './model.js';
import { ProgressReporter, type ProgressStream } from './progress.js';
import { readJsonIfExists, writeReport } from './report.js';
import {
  acquireRunLock,
  checkResumeRecord,
  dataFacts,
  prepareFreshRunDirectory,
  readRunRecord,
  RUN_RECORD_FILE,
  runDirectoryEntries,
  runRecord,
  RunDirectoryError,
  validateAllowChanged,
  writeRunRecord,
  type RunRecord,
} from './run-directory.js';
import { CHECKPOINT_DIRECTORY, checkpointFile, CONFIG_FILE, METRICS_FILE, REPORT_FILE, RESULTS_DIRECTORY, RESULTS_FILE, runDirectory, stageResultsFile } from './run-layout.js';
import { runStage } from './stage-runner.js';
import { settingWarnings } from './setting-warnings.js';
import { stagePlans } from './stage-plan.js';

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
  stopAfter?: { stage: Stage; epoch: number };
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
  /** This process's rank in a data-parallel run (0 for one process): only rank 0 prints and writes files. */
  rank: number;
}

/** Empty or degenerate data: an error naming the key when nothing could be measured; warnings about settings known to fail on it. */
function checkData(config: RunConfig, data: TrainingData, counts: number[], log: (line: string) => void): void {
  const fileBacked = getDataset(config.data.dataset).fileBacked;
  const key = (split: 'train' | 'test') => (fileBacked ? `data.${split}Split` : 'data.dataset');
  if (data.test.length === 0) {
    throw new ConfigError([`${key('test')}: the test set of ${config.data.dataset} has no images (${data.description}): every metric would be n/a`]);
  }
  if (data.train.length === 0) throw new ConfigError([`${key('train')}: the training set of ${config.data.dataset} has no images (${data.description})`]);
  const valCounts = data.val ? classCounts(data.val.labels, data.numClasses) : undefined;
  for (const warning of settingWarnings(config, counts, valCounts)) log(`warning: ${warning}`);
}

/**
 * Trains as configured (two-stage GCL by default), writing run.json, config.json, metrics.jsonl, checkpoints,
 * results and report.html into the run directory, every file atomically. With `resume`, continues exactly from the
 * last checkpoint (same weights, momentum, sampler and random state, so the result equals an uninterrupted run) after
 * checking that the directory holds this run (same fingerprint) and a consistent set of checkpoints; nothing is
 * rewritten before those checks pass. A fresh run needs an empty directory (or `overwrite`). The directory is locked
 * for the whole run.
 *
 * Started under a launcher of several processes (`mpirun -np N`, `srun`), trains data-parallel (see
 * `data-parallel.ts` and docs/distributed.md): every rank calls `train` with the same config; rank 0 alone prints,
 * locks and writes the directory, and every rank returns the same results (`rank` says which process it is).
 */
export async function train(config: RunConfig, options: TrainOptions = {}): Promise<TrainSummary> {
  const outputDir = runDirectory(config, options.cwd);
  const allowChanged = options.allowChanged ?? [];
  validateAllowChanged(allowChanged);
  if (allowChanged.length > 0 && !options.resume) throw new RunDirectoryError('--allow-changed applies to --resume only');
  // Under a launcher (mpirun -np N, srun): data parallel; @longtail/distributed is loaded only then.
  const replicas = launcherWorldSize() > 1 ? await joinReplicas() : SINGLE_PROCESS;
  // Synchronous for one process: the lock is held as soon as this function returns its promise. Data parallel:
  // rank 0 alone owns the run directory.
  const lock = replicas.isRoot ? acquireRunLock(outputDir) : null;
  try {
    return await trainLocked(config, options, outputDir, allowChanged, replicas);
  } finally {
    lock?.release();
  }
}

const SILENT: ProgressStream = { write: () => true, isTTY: false };

async function trainLocked(config: RunConfig, options: TrainOptions, outputDir: string, allowChanged: string[], replicas: Replicas): Promise<TrainSummary> {
  const { isRoot } = replicas;
  // Only rank 0 prints.
  const stream = isRoot ? (options.stream ?? process.stdout) : SILENT;
  const progress = new ProgressReporter({ stream, mode: isRoot ? config.progress : 'none' });
  const log = (line: string) => progress.log(line);
  const checkpointDir = path.join(outputDir, CHECKPOINT_DIRECTORY);
  if (isRoot) {
    // Only files of dead writers: a live process's temporary file is never touched.
    for (const directory of [outputDir, checkpointDir, path.join(outputDir, RESULTS_DIRECTORY)]) removeStaleTemporaryFilesSync(directory);
    if (!options.resume) {
      const removed = prepareFreshRunDirectory(outputDir, options.overwrite ?? false);
      if (removed.length > 0) log(`--overwrite: removed the old run's ${removed.join(', ')}`);
    }
  }

  const backend = await selectComputeBackend(config.backend);
  log(backend);
  if (replicas.parallel) {
    log(
      `data parallel: ${replicas.size} processes, each a slice of every global batch (stage-1 batch ${config.stage1.batchSize}); ` +
        `batch norm ${config.syncBatchNorm ? 'synchronised over all processes (syncBatchNorm)' : 'per process'}`,
    );
  }
  const data = options.data ?? (await loadTrainingData(config));
  if (needsValidation(config) && !data.val) {
    throw new ConfigError([
      `evaluation.select: the run needs a validation split (${config.evaluation.select === 'val' ? 'evaluation.select is "val"' : 'evaluation.temperatureScaling is on'}) and the data given to train() have none (TrainingData.val)`,
    ]);
  }
  const counts = classCounts(data.train.labels, data.numClasses);
  checkData(config, data, counts, log);
  const validation = data.val
    ? `, ${data.val.length} validation images (${data.valSource === 'hold-out' ? `a stratified hold-out of ${config.data.valFraction} of each class` : 'the data set\'s own'})`
    : '';
  log(`data: ${data.description}; ${data.train.length} training images (${Math.max(...counts)} … ${Math.min(...counts)} per class)${validation}, ${data.test.length} test images`);
  log(`selection: ${SELECTION_LINE[config.evaluation.select]}`);
  const record = runRecord(config, dataFacts(data.train.labels, data.test.labels, data.numClasses));
  const file: StageFile = (stage, which) => checkpointFile(outputDir, stage, which);

  // Resume: every check before anything in the directory is rewritten.
  let resume: ResumePoint | null = null;
  let saved: RunRecord | undefined;
  if (options.resume && isRoot) {
    saved = readRunRecord(outputDir);
    if (saved) {
      const changed = checkResumeRecord(outputDir, saved, record, allowChanged);
      if (changed.length > 0) log(`resume: with changed ${changed.join(', ')} (allowed)`);
      resume = await verifyCheckpointSet(config, record.fingerprint, file);
    } else if (runDirectoryEntries(checkpointDir).some((name) => name.endsWith('.ckpt'))) {
      throw new RunDirectoryError(
        `--resume: ${outputDir} has checkpoints but no ${RUN_RECORD_FILE} (written by an older longtail, or not a run directory): ` +
          `its run cannot be verified; train afresh with --overwrite`,
      );
    }
    const trainedOn = resume?.last.meta.worldSize ?? 1;
    if (resume && trainedOn !== replicas.size) {
      throw new RunDirectoryError(
        `--resume: ${outputDir} was trained by ${trainedOn} process${trainedOn === 1 ? '' : 'es'}, this job has ${replicas.size}: ` +
          `resume at the same world size (${trainedOn === 1 ? 'without a launcher' : `mpirun -np ${trainedOn}`}), since per-process batch norm depends on it`,
      );
    }
    log(resume ? `resuming from ${path.relative(outputDir, file(resume.stage, 'last'))}` : 'resume: no checkpoint yet, starting from scratch');
    for (const repair of resume?.repairs ?? []) log(await repair());
  }
  if (isRoot) {
    writeRunRecord(outputDir, saved ? { ...record, createdAt: saved.createdAt } : record);
    writeFileAtomicSync(path.join(outputDir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  }
  if (replicas.parallel && options.resume) {
    // The other ranks learn where the run resumes (metadata only: rank 0's tensors are broadcast by the stage).
    const meta = (point: ResumePoint['last'] | null) => (point ? { meta: point.meta, tensors: {}, payloadSha256: point.payloadSha256 } : null);
    const shared = await replicas.fromRoot(() => (resume ? { stage: resume.stage, last: meta(resume.last)!, stage1Last: meta(resume.stage1Last) } : null));
    if (!isRoot) resume = shared ? { ...shared, repairs: [] } : null;
  }

  if (config.model.pretrained) requireRegularFile(path.resolve(options.cwd ?? process.cwd(), config.model.pretrained), 'model.pretrained');
  const head = resolveHead(config.model.head, config.stage1.loss.name);
  const model = await buildModel(config.model.backbone, { numClasses: data.numClasses, head, inputShape: data.inputShape, pretrained: config.model.pretrained, seed: config.seed });
  // Only rank 0 writes metrics.
  const metrics = isRoot ? new MetricsLog(path.join(outputDir, METRICS_FILE)) : ({ filePath: '', append() {}, truncateFrom() {} } as unknown as MetricsLog);
  const summary: TrainSummary = { outputDir, backend, reportPath: path.join(outputDir, REPORT_FILE), stopped: false, rank: replicas.rank };
  const clouds = cloudSizes(counts.map((n) => Math.max(n, 1)));
  if (!resume) metrics.truncateFrom(1, 0);

  let failed = false;
  try {
    // The best network of the previous stage, which the next one starts from (null before the first).
    let from: string | null = null;
    let finalStage: Stage | null = null;
    for (const plan of stagePlans(config, counts)) {
      const key = `stage${plan.stage}` as const;
      if (resume && plan.stage < resume.stage) {
        // A stage the run completed (stage 1 when stage 2 resumes): its results must score its best network (a crash
        // can come between the two writes).
        const done = resume.stage1Last;
        from = resume.last.meta.from;
        if (done?.meta.best) {
          const resultsFile = stageResultsFile(outputDir, plan.stage);
          const doneBest = done.meta.best;
          summary[key] = await replicas.fromRoot(() => readStageResults(resultsFile, doneBest.sha256));
          if (!summary[key]) {
            const best = await loadOnRoot<StageMeta>(replicas, file(plan.stage, 'best'));
            restoreModelWeights(model, best.tensors.model ?? []);
            const { result: rescored } = await evaluateEpoch(model, data, counts, config, replicas, plan.stage, doneBest.epoch);
            summary[key] = rescored;
            await replicas.rootWork(() => writeResults(resultsFile, rescored, { stage: plan.stage, epoch: doneBest.epoch + 1, best: true, checkpointSha256: doneBest.sha256 }));
          }
          finalStage = plan.stage;
        }
        continue;
      }
      if (from !== null && resume?.stage !== plan.stage) progress.log(`stage ${plan.stage}: starting from the best stage-${plan.stage - 1} network (sha256 ${SHORT(from)})`);
      const result = await runStage(plan, {
        config,
        model,
        data,
        counts,
        metrics,
        progress,
        outputDir,
        file,
        fingerprint: record.fingerprint,
        from,
        resume: resume?.stage === plan.stage ? resume.last : null,
        stopAfter: options.stopAfter,
        replicas,
      });
      summary[key] = result.best;
      if (result.best) finalStage = plan.stage;
      from = result.bestSha256;
      if (result.stopped) {
        summary.stopped = true;
        return summary;
      }
    }
    summary.final = finalStage === null ? undefined : summary[`stage${finalStage}`];
    if (summary.final && finalStage !== null && config.evaluation.temperatureScaling) {
      summary.final = { ...summary.final, temperatureScaling: await temperatureScaling(model, data, counts, config, replicas, finalStage, file(finalStage, 'best')) };
      const fitted = summary.final.temperatureScaling!;
      if (fitted.temperature < 0.0101 || fitted.temperature > 99) {
        log(`warning: the fitted temperature ${fitted.temperature.toPrecision(3)} is at the end of the search range [0.01, 100]: the validation split is too small or too easy to calibrate on`);
      }
      log(
        `temperature scaling: T = ${fitted.temperature.toFixed(3)} (fitted on ${fitted.fittedOn} validation images); test ECE ${formatPercent(fitted.before.ece)}% → ${formatPercent(fitted.after.ece)}%, ` +
          `NLL ${fitted.before.nll.toFixed(4)} → ${fitted.after.nll.toFixed(4)}`,
      );
    }
    if (summary.final) {
      const final = summary.final;
      await replicas.rootWork(() => writeResults(path.join(outputDir, RESULTS_FILE), final, { stage: finalStage, dataset: config.data.dataset }));
      const chosen = final.selection ? SELECTED_BY[final.selection.mode](final.selection.epoch) : 'best epoch';
      log(
        `final (stage ${finalStage}, ${chosen}): top-1 ${formatPercent(summary.final.top1)}%  many ${formatPercent(summary.final.many)}  medium ${formatPercent(
          summary.final.medium,
        )}  few ${formatPercent(summary.final.few)}`,
      );
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      // Rank 0 writes the report; after a failure the others may not be here, so only a good run waits for it.
      if (failed) {
        if (isRoot) await writeRunReport(outputDir, config, backend, clouds, data.classNames);
      } else {
        await replicas.rootWork(async () => void (await writeRunReport(outputDir, config, backend, clouds, data.classNames)));
      }
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

/** What `evaluation.select` does, in words (logged when a run starts). */
const SELECTION_LINE: Record<SelectionMode, string> = {
  val: 'each stage reports, and stage 2 starts from, the epoch of best mean per-class accuracy on the validation split (the test set is scored, never chosen on)',
  test: 'each stage reports the epoch of best test top-1 (the official code\'s and the paper\'s protocol: optimistic, the test set chooses)',
  last: 'each stage reports its last evaluated epoch',
};

/** How a run's reported epoch was chosen, in words (the log's final line). */
const SELECTED_BY: Record<SelectionMode, (epoch: number) => string> = {
  val: (epoch) => `epoch ${epoch}, selected on the validation split`,
  test: (epoch) => `epoch ${epoch}, selected on the test set: the paper's protocol`,
  last: (epoch) => `last epoch, ${epoch}`,
};

/**
 * Temperature scaling of the final network (the best checkpoint of the final stage): T fitted on the validation
 * split's logits (the outputs × the stage's probability scale) by minimum NLL, then the test calibration with T = 1 and with T.
 */
async function temperatureScaling(
  model: LayersModel,
  data: TrainingData,
  counts: number[],
  config: RunConfig,
  replicas: Replicas,
  stage: Stage,
  bestFile: string,
): Promise<TemperatureScaling> {
  const best = await loadOnRoot<StageMeta>(replicas, bestFile);
  restoreModelWeights(model, best.tensors.model ?? []);
  // On the probabilities the network was trained to give (a cosine head's outputs × s): T = 1 is the reported result.
  const scale = probabilityScale(config, stage);
  const val = await scoreSplit(model, data, config, replicas, 'val');
  const temperature = fitTemperature(scaleLogits(val.logits, scale), val.labels, data.numClasses);
  const test = await scoreSplit(model, data, config, replicas, 'test');
  scaleLogits(test.logits, scale);
  const groups = manyMediumFew(counts, { manyAbove: config.evaluation.manyThreshold, fewBelow: config.evaluation.fewThreshold });
  const bins = config.evaluation.calibrationBins;
  const before = calibration(test.logits, test.labels, data.numClasses, groups, { bins });
  const after = calibration(test.logits, test.labels, data.numClasses, groups, { bins, temperature });
  return { temperature, fittedOn: val.labels.length, before: { ece: before.ece, classwiseEce: before.classwiseEce, nll: before.nll, eceByGroup: before.eceByGroup }, after };
}

/** Writes report.html from the files of a run directory. */
export async function writeRunReport(outputDir: string, config: unknown, backend: string | undefined, knownCloudSizes?: number[], classNames?: string[]): Promise<string> {
  const evaluations = ([1, 2] as const)
    .map((stage) => ({ stage, result: readJsonIfExists<EvaluationResult>(stageResultsFile(outputDir, stage)) }))
    .filter((e): e is { stage: 1 | 2; result: EvaluationResult } => e.result !== undefined)
    .map(({ stage, result }) => ({ stage, label: `stage ${stage} (${result.selection?.mode === 'last' ? 'last' : 'best'})`, result }));
  // Temperature scaling is fitted after training and recorded in results.json only: shown with the final stage.
  const final = readJsonIfExists<EvaluationResult & { stage?: number }>(path.join(outputDir, RESULTS_FILE));
  const finalEntry = evaluations.find((entry) => entry.stage === final?.stage);
  if (final?.temperatureScaling && finalEntry) finalEntry.result = { ...finalEntry.result, temperatureScaling: final.temperatureScaling };
  const last = evaluations[evaluations.length - 1]?.result;
  const clouds = knownCloudSizes ?? (last ? cloudSizes(last.trainCounts.map((n) => Math.max(n, 1))) : undefined);
  const target = path.join(outputDir, REPORT_FILE);
  const name = (config as { name?: string } | undefined)?.name ?? path.basename(outputDir);
  await writeReport(target, {
    title: `longtail run: ${name}`,
    generatedAt: new Date().toISOString(),
    config,
    metrics: readMetrics(path.join(outputDir, METRICS_FILE)),
    evaluations: evaluations.map(({ label, result }) => ({ label, result })),
    cloudSizes: clouds,
    classNames: classNames ?? last?.classNames,
    backend,
  });
  return target;
}

