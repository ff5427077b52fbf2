import * as tf from '@tensorflow/tfjs';
import { forwardWithFeatures } from '@longtail/backbones';
import { batches } from '@longtail/datasets';
import type { RunConfig } from './config.js';
import type { TrainingData } from './data.js';
import { SINGLE_PROCESS, type Replicas } from './data-parallel.js';
import { evaluatePredictions, type EvaluationResult } from './evaluation.js';

/**
 * Scores the whole test set (inference mode, `evaluation.batchSize` images at a time) and evaluates the scores:
 * top-1, top-5, per class, many/medium/few against the training counts. Non-finite logits are an error (a diverged
 * network), as is an empty test set.
 *
 * Data parallel (`replicas`): each rank scores its contiguous share of the test set (`shardRange`), the logits and
 * labels are gathered in rank order (the single-process order), and every rank evaluates them, so all ranks hold
 * the same result.
 */
export async function evaluateModel(model: tf.LayersModel, data: TrainingData, counts: number[], config: RunConfig, replicas: Replicas = SINGLE_PROCESS): Promise<EvaluationResult> {
  const total = data.test.length;
  const { start, end } = replicas.shard(total);
  const n = end - start;
  let logits = new Float32Array(n * data.numClasses);
  let labels = new Int32Array(n);
  let offset = 0;
  const order = replicas.parallel ? Int32Array.from({ length: n }, (_, i) => start + i) : undefined;
  for await (const batch of batches(data.test, { order, batchSize: config.evaluation.batchSize, transform: data.evalTransform, seed: config.seed })) {
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
  if (total === 0) throw new Error('evaluation: the test set has no images (every metric would be n/a)');
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
