import * as tf from '@tensorflow/tfjs';
import { freezeBackbone, unfreezeBackbone } from '@longtail/backbones';
import { batchCount, batches } from '@longtail/datasets';
import { isHostMemoryBackend } from '@longtail/backend';
import { CloudNoiseStream, type Stage } from '@longtail/gcl-loss';
import { createSampler, SeededRandom } from '@longtail/samplers';
import { checkpointPayloadSha256, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import { readStageResults, SHORT, type StageFile, type StageMeta } from './checkpoint-set.js';
import type { RunConfig } from './config.js';
import type { TrainingData } from './data.js';
import { loadOnRoot, SINGLE_PROCESS, type Replicas } from './data-parallel.js';
import { evaluateEpoch, improvesOn } from './evaluate-model.js';
import { formatPercent, writeResults, type EvaluationResult } from './evaluation.js';
import { assertFinite } from './finite.js';
import { makeLoss } from './losses.js';
import type { MetricsLog } from './metrics.js';
import { modelWeightRecords, restoreModelWeights } from './model.js';
import { TorchSgd } from './optimizer.js';
import type { ProgressReporter } from './progress.js';
import { RunDirectoryError } from './run-directory.js';
import { epochCheckpointName, stageResultsFile } from './run-layout.js';
import type { StagePlan } from './stage-plan.js';
import { readStep, trainStep, trainStepParallel } from './train-step.js';

/**
 * On GPU backends, how many steps run before their losses are read: each read waits for the device to finish, and
 * reading every step would leave it idle while JavaScript prepares the next one. The NaN check and progress are
 * that many steps late at most; nothing is checkpointed before they are read.
 */
export const GPU_STEPS_PER_READ = 8;

/** What a stage runs in: the run's model, data, logs and files, and where to resume from. */
export interface StageContext {
  config: RunConfig;
  model: tf.LayersModel;
  data: TrainingData;
  counts: number[];
  metrics: MetricsLog;
  progress: ProgressReporter;
  outputDir: string;
  file: StageFile;
  fingerprint: string;
  /** Stage 2: the stage-1 network it starts from (already in the model). */
  from: string | null;
  /** The verified last checkpoint to resume from, or null for a fresh stage. */
  resume: Checkpoint<StageMeta> | null;
  stopAfter?: { stage: Stage; epoch: number };
  /**
   * The processes of a data-parallel run (default: this one). Rank 0 holds `resume` with its tensors, the others its
   * metadata only; rank 0's state is broadcast at the start of the stage.
   */
  replicas?: Replicas;
}


/**
 * Runs one stage as its plan says: per epoch the sampler's order in batches, one {@link trainStep} per batch (losses
 * read back a few steps at a time on GPU backends), the finiteness check of the whole state, an evaluation every
 * `evaluation.everyEpochs`, the metrics lines and the checkpoints (`last` the commit point, then `best` and its
 * results). Resumes from `context.resume` exactly. Ends with the stage's best network in the model.
 */
export async function runStage(plan: StagePlan, context: StageContext): Promise<StageOutcome> {
  // Stage 2 re-trains only the classifier of the best stage-1 network (backbone frozen, in inference mode).
  if (plan.freezeBackbone) freezeBackbone(context.model);
  try {
    return await trainEpochs(plan, context);
  } finally {
    if (plan.freezeBackbone) unfreezeBackbone(context.model);
  }
}

/** The best evaluation of a stage, the payload SHA-256 of its best network, and whether it was stopped early. */
export interface StageOutcome {
  best?: EvaluationResult;
  bestSha256: string | null;
  stopped: boolean;
}

async function trainEpochs(plan: StagePlan, context: StageContext): Promise<StageOutcome> {
  const { config, model, data, counts, metrics, progress, outputDir, file } = context;
  const replicas = context.replicas ?? SINGLE_PROCESS;
  const { stage, epochs } = plan;
  const sampler = createSampler(plan.sampler, data.train.labels, { seed: config.seed * 7919 + stage });
  const random = new SeededRandom(config.seed * 104729 + stage);
  const noise = new CloudNoiseStream(config.seed * 15485863 + stage);
  const loss = makeLoss(plan.loss, counts, stage);
  const resultsFile = stageResultsFile(outputDir, stage);

  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new TorchSgd(variables, { momentum: plan.optimizer.momentum, weightDecay: plan.optimizer.weightDecay });

  let startEpoch = 0;
  let globalStep = 0;
  let best: StageMeta['best'] = null;
  let bestResult: EvaluationResult | undefined;
  if (context.resume) {
    const checkpoint = context.resume;
    if (replicas.isRoot) {
      restoreModelWeights(model, checkpoint.tensors.model ?? []);
      optimizer.setState(checkpoint.tensors.optimizer ?? []);
    }
    startEpoch = checkpoint.meta.epochsDone;
    globalStep = checkpoint.meta.globalStep;
    best = checkpoint.meta.best;
    random.setState(checkpoint.meta.rng);
    noise.drawCount = checkpoint.meta.noiseDraws;
    sampler.setState(checkpoint.meta.sampler as never);
    const bestSha256 = best?.sha256;
    bestResult = bestSha256 ? await replicas.fromRoot(() => readStageResults(resultsFile, bestSha256)) : undefined;
    metrics.truncateFrom(stage, startEpoch);
  } else {
    metrics.truncateFrom(stage, 0);
  }
  // Data parallel: every rank starts from rank 0's weights and momentum (initial, or resumed).
  await replicas.syncModel(model);
  await replicas.syncOptimizer(optimizer);
  let shareOfBatch = 1;
  const uninstallSyncBatchNorm = config.syncBatchNorm && plan.training ? replicas.installSyncBatchNorm(tf.getBackend(), () => shareOfBatch) : () => {};
  try {
    const batchSize = plan.batchSize;
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
      const weight = plan.classWeights(epoch);
      // Steps are read back a few at a time on GPU backends (each read waits for the device), every step elsewhere.
      const pending: Array<{ read: () => Promise<{ lossValue: number; accuracy: number }>; discard: () => void; count: number; stepIndex: number; globalStep: number; lr: number }> = [];
      const readsPerFlush = isHostMemoryBackend(tf.getBackend()) ? 1 : GPU_STEPS_PER_READ;
      const flush = async () => {
        for (const entry of pending.splice(0)) {
          const { lossValue, accuracy } = await entry.read();
          images += entry.count;
          lossSum += lossValue * entry.count;
          accuracySum += accuracy * entry.count;
          const seconds = (performance.now() - started) / 1000;
          metrics.append({ type: 'step', stage, epoch, step: entry.stepIndex, globalStep: entry.globalStep, loss: lossValue, accuracy, lr: entry.lr, imagesPerSecond: images / seconds, time: new Date().toISOString() });
          progress.update({ step: entry.stepIndex + 1, loss: lossSum / images, accuracy: accuracySum / images, images });
          if (!Number.isFinite(lossValue)) {
            pending.splice(0).forEach((later) => later.discard());
            throw new Error(`stage ${stage} epoch ${epoch + 1} step ${entry.stepIndex + 1}: the loss is ${lossValue} (diverged; lower the learning rate?)`);
          }
        }
      };
      for await (const batch of batches(data.train, { order, batchSize, transform: data.trainTransform, seed: config.seed, epoch: stage * 100_000 + epoch })) {
        lr = plan.learningRate(epoch, step, steps);
        const stepInput = {
          model,
          batch,
          training: plan.training,
          alpha: plan.mixupAlpha,
          random,
          noise: loss.needsNoise ? noise : null,
          loss: loss.fn,
          weight,
          variables,
          optimizer,
          lr,
        };
        const count = batch.labels.length;
        if (replicas.parallel) {
          // This rank's slice of the global batch; the others train on theirs, and the gradients are summed.
          const shard = replicas.shard(count);
          // Tested on the batch size, which every rank sees, so that all ranks stop together (an empty rank alone would
          // leave the others blocked in the batch norm's all-reduce).
          if (config.syncBatchNorm && count < replicas.size && plan.training) {
            throw new Error(`stage ${stage} epoch ${epoch + 1} step ${step + 1}: syncBatchNorm needs at least one image per rank, the batch has ${count} for ${replicas.size} ranks (use a training set whose last batch is not smaller than the number of ranks)`);
          }
          shareOfBatch = shard.weight;
          const result = await trainStepParallel({ ...stepInput, shard }, replicas);
          pending.push({ read: async () => result, discard: () => {}, count, stepIndex: step, globalStep, lr });
        } else {
          const pendingStep = trainStep(stepInput);
          pending.push({ read: () => readStep(pendingStep), discard: () => (pendingStep.loss.dispose(), pendingStep.predicted.dispose()), count, stepIndex: step, globalStep, lr });
        }
        step++;
        globalStep++;
        if (process.env.LONGTAIL_TEST_CRASH_AT_STEP !== undefined && Number(process.env.LONGTAIL_TEST_CRASH_AT_STEP) === globalStep) {
          // Test hook: this process dies as if killed after `globalStep` steps (e.g. one rank of a data-parallel job).
          process.kill(process.pid, 'SIGKILL');
        }
        if (pending.length >= readsPerFlush) await flush();
      }
      await flush();
      const seconds = (performance.now() - started) / 1000;
      // Data parallel: the ranks' weights are identical; their batch-norm statistics (per replica) become rank 0's, as
      // PyTorch DDP's broadcast of buffers does.
      await replicas.syncModel(model);
      // The epoch's whole state, read once (asynchronously) and checked: a finite loss does not make finite weights
      // (batch-norm statistics can overflow on their own). Nothing non-finite is evaluated or checkpointed.
      const state = { model: await modelWeightRecords(model), optimizer: await optimizer.getState() };
      const where = `stage ${stage} epoch ${epoch + 1}`;
      assertFinite(state.model, where, 'weight');
      assertFinite(state.optimizer, where, 'optimizer slot');
      const evaluate = (epoch + 1) % config.evaluation.everyEpochs === 0 || epoch + 1 === epochs;
      let result: EvaluationResult | undefined;
      let score: number | null = null;
      if (evaluate) ({ result, score } = await evaluateEpoch(model, data, counts, config, replicas, stage, epoch));
      metrics.append({
        type: 'epoch',
        stage,
        epoch,
        trainLoss: lossSum / Math.max(images, 1),
        trainAccuracy: accuracySum / Math.max(images, 1),
        lr,
        seconds,
        imagesPerSecond: images / seconds,
        ...(result
          ? { top1: result.top1, top5: result.top5, many: result.many, medium: result.medium, few: result.few, ece: result.calibration?.ece ?? null }
          : {}),
        ...(result?.validation ? { val: result.validation } : {}),
        time: new Date().toISOString(),
      });
      const sha256 = checkpointPayloadSha256(state);
      const isBest = result !== undefined && improvesOn(best, score, config.evaluation.select);
      if (isBest && result) {
        best = { top1: result.top1, epoch, sha256, score };
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
        ...(replicas.size > 1 ? { worldSize: replicas.size } : {}),
      };
      const checkpoint = { meta, tensors: state };
      // `last` is the commit point of the epoch; `best` and the results follow (resume repairs a crash in between).
      // Rank 0 writes; the other ranks wait for it.
      await replicas.rootWork(async () => {
        await saveCheckpoint(file(stage, 'last'), checkpoint);
        if (isBest) await saveCheckpoint(file(stage, 'best'), checkpoint);
        if (config.checkpoint.keepEveryEpoch) await saveCheckpoint(file(stage, epochCheckpointName(epoch + 1)), checkpoint);
        if (isBest && result) await writeResults(resultsFile, result, { stage, epoch: epoch + 1, best: true, checkpointSha256: sha256 });
      });
      progress.endEpoch(
        `stage ${stage} epoch ${epoch + 1}/${epochs}: loss ${(lossSum / Math.max(images, 1)).toFixed(4)} train acc ${formatPercent(accuracySum / Math.max(images, 1))}% lr ${lr.toPrecision(3)} ` +
          `${(images / seconds).toFixed(1)} img/s` +
          (result?.validation ? ` | val ${formatPercent(result.validation.balancedAccuracy)}%` : '') +
          (result ? ` | test top-1 ${formatPercent(result.top1)}% many ${formatPercent(result.many)} medium ${formatPercent(result.medium)} few ${formatPercent(result.few)}` : '') +
          (isBest && config.evaluation.select !== 'last' ? ' (best)' : ''),
      );
      if (context.stopAfter && context.stopAfter.stage === stage && context.stopAfter.epoch === epoch + 1) {
        optimizer.dispose();
        return { best: bestResult, bestSha256: best?.sha256 ?? null, stopped: true };
      }
    }
  } finally {
    uninstallSyncBatchNorm();
  }
  optimizer.dispose();
  // Stage 2 (and the final report) use the best network of this stage: the one its last checkpoint names.
  if (best !== null) {
    const checkpoint = await loadOnRoot<StageMeta>(replicas, file(stage, 'best'));
    if (checkpoint.payloadSha256 !== best.sha256) {
      throw new RunDirectoryError(`${file(stage, 'best')} does not hold the best network of stage ${stage} (sha256 ${SHORT(checkpoint.payloadSha256)}, expected ${SHORT(best.sha256)}): changed by another process?`);
    }
    restoreModelWeights(model, checkpoint.tensors.model ?? []);
    if (!bestResult) {
      // The run stopped between the checkpoint and its results: score the best network again.
      const { result: rescored } = await evaluateEpoch(model, data, counts, config, replicas, stage, best.epoch);
      bestResult = rescored;
      const scored = best;
      await replicas.rootWork(() => writeResults(resultsFile, rescored, { stage, epoch: scored.epoch + 1, best: true, checkpointSha256: scored.sha256 }));
    }
  }
  return { best: bestResult, bestSha256: best?.sha256 ?? null, stopped: false };
}
