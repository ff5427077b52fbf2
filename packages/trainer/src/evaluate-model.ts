import * as tf from '@tensorflow/tfjs';
import { forwardWithFeatures } from '@longtail/backbones';
import { batches } from '@longtail/datasets';
import type { Stage } from '@longtail/gcl-loss';
import type { RunConfig } from './config.js';
import { finalStageOf, probabilityScale } from './losses.js';
import type { ImageDataset, TrainingData } from './data.js';
import { SINGLE_PROCESS, type Replicas } from './data-parallel.js';
import { evaluatePredictions, validationSummary, type EvaluationResult } from './evaluation.js';

/** A split a run scores: the test set, or the validation split (`TrainingData.val`). */
export type EvaluationSplit = 'test' | 'val';

/** The data set of a split; throws when the run has no validation split. */
function splitData(data: TrainingData, split: EvaluationSplit): ImageDataset {
  if (split === 'test') return data.test;
  if (!data.val) throw new Error('evaluation: this run has no validation split (evaluation.select "val" or temperature scaling makes one)');
  return data.val;
}

/**
 * The logits of every image of a split (inference mode, `evaluation.batchSize` images at a time, the evaluation
 * transform) and their labels, in the split's order. Non-finite logits are an error (a diverged network), as is an
 * empty split.
 *
 * Data parallel (`replicas`): each rank scores its contiguous share (`shardRange`) and the logits and labels are
 * gathered in rank order (the single-process order), so every rank holds all of them.
 */
export async function scoreSplit(
  model: tf.LayersModel,
  data: TrainingData,
  config: RunConfig,
  replicas: Replicas = SINGLE_PROCESS,
  split: EvaluationSplit = 'test',
): Promise<{ logits: Float32Array; labels: Int32Array }> {
  const dataset = splitData(data, split);
  const total = dataset.length;
  const { start, end } = replicas.shard(total);
  const n = end - start;
  let logits = new Float32Array(n * data.numClasses);
  let labels = new Int32Array(n);
  let offset = 0;
  const order = replicas.parallel ? Int32Array.from({ length: n }, (_, i) => start + i) : undefined;
  for await (const batch of batches(dataset, { order, batchSize: config.evaluation.batchSize, transform: data.evalTransform, seed: config.seed })) {
    const scores = tf.tidy(() => forwardWithFeatures(model, tf.tensor4d(batch.images, batch.shape), { training: false }).logits);
    try {
      logits.set((await scores.data()) as Float32Array, offset * data.numClasses);
    } finally {
      scores.dispose();
    }
    labels.set(batch.labels, offset);
    offset += batch.labels.length;
  }
  if (replicas.parallel) {
    logits = await replicas.gather(logits);
    labels = await replicas.gather(labels);
  }
  const name = split === 'test' ? 'the test set' : 'the validation split';
  if (total === 0) throw new Error(`evaluation: ${name} has no images (every metric would be n/a)`);
  let nonFinite = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] - logits[i] !== 0) nonFinite++;
  if (nonFinite > 0) {
    throw new Error(
      `evaluation: ${nonFinite} of ${logits.length} logits on ${name} are not finite: the network's weights or batch-norm statistics overflowed (diverged; lower the learning rate?)`,
    );
  }
  return { logits, labels };
}

/** Multiplies logits by `scale` in place (a cosine head's outputs by the loss's `s`). */
export function scaleLogits(logits: Float32Array, scale: number): Float32Array {
  if (scale !== 1) for (let i = 0; i < logits.length; i++) logits[i] *= scale;
  return logits;
}

/**
 * Scores a split (the test set by default, see {@link scoreSplit}) and evaluates the scores: top-1, top-5, per class,
 * many/medium/few against the training counts, calibration (ECE over `evaluation.calibrationBins` bins) of
 * `softmax(probabilityScale · outputs)` with the scale of `stage`'s loss (default the run's final stage), the
 * probabilities the network was trained to give.
 */
export async function evaluateModel(
  model: tf.LayersModel,
  data: TrainingData,
  counts: number[],
  config: RunConfig,
  replicas: Replicas = SINGLE_PROCESS,
  options: { split?: EvaluationSplit; stage?: Stage } = {},
): Promise<EvaluationResult> {
  const { logits, labels } = await scoreSplit(model, data, config, replicas, options.split ?? 'test');
  scaleLogits(logits, probabilityScale(config, options.stage ?? finalStageOf(config)));
  return evaluatePredictions({ logits, labels, numClasses: data.numClasses }, counts, {
    manyThreshold: config.evaluation.manyThreshold,
    fewThreshold: config.evaluation.fewThreshold,
    classNames: data.classNames,
    calibrationBins: config.evaluation.calibrationBins,
  });
}

/**
 * The evaluation of one epoch as a stage records it: the test result, plus (`evaluation.select` `val`) the validation
 * figures, and the selection record of `evaluation.select` with the score the stage compares epochs by — the
 * validation mean per-class accuracy (`val`; the test set is scored for the curves and the report but never chosen
 * on), the test top-1 (`test`), or none (`last`: every evaluated epoch replaces the previous one).
 *
 * @param stage the stage whose network it is (its loss's probability scale)
 * @param epoch 0-based epoch of the stage
 */
export async function evaluateEpoch(
  model: tf.LayersModel,
  data: TrainingData,
  counts: number[],
  config: RunConfig,
  replicas: Replicas,
  stage: Stage,
  epoch: number,
): Promise<{ result: EvaluationResult; score: number | null }> {
  const mode = config.evaluation.select;
  const result = await evaluateModel(model, data, counts, config, replicas, { split: 'test', stage });
  let score: number | null = null;
  if (mode === 'val') {
    const validation = validationSummary(await evaluateModel(model, data, counts, config, replicas, { split: 'val', stage }));
    result.validation = validation;
    score = validation.balancedAccuracy ?? validation.top1;
  } else if (mode === 'test') {
    score = result.top1;
  }
  result.selection = { mode, epoch: epoch + 1, score, ...(mode === 'val' && data.valSource ? { validationSource: data.valSource } : {}) };
  return { result, score };
}

/** Whether an epoch scored `score` replaces the stage's `best` so far under `evaluation.select` (`last`: always). */
export function improvesOn(best: { top1: number; score?: number | null } | null, score: number | null, mode: RunConfig['evaluation']['select']): boolean {
  if (mode === 'last' || best === null) return true;
  // A best without a score predates selection: it was chosen on test top-1, comparable only under `test`.
  const previous = best.score ?? (mode === 'test' ? best.top1 : null);
  if (previous === null) return true;
  return score !== null && score > previous;
}
