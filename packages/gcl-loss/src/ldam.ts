import * as tf from '@tensorflow/tfjs-core';
import { weightedMeanCrossEntropy } from './reductions.js';
import type { LossSpec } from './registry.js';
import {
  assertAtLeast,
  checkClassCountMatches,
  checkClassCounts,
  checkClassWeights,
  checkLabels,
  checkScores,
  rejectUnknownOptions,
} from './validation.js';

export interface LdamOptions {
  /** Training images per class. Required. */
  clsNumList: number[];
  /** Largest margin (given to the rarest class). Default 0.5. */
  maxM?: number;
  /** Logit scale. Default 30. */
  s?: number;
  /** Per-class weights (DRW switches these on late in training), or null. Default null. */
  weight?: number[] | null;
}

/**
 * Per-class LDAM margins `m_j = maxM · n_j^{−1/4} / max_k n_k^{−1/4}` (Cao et al. 2019).
 */
export function ldamMargins(clsNumList: number[], maxM = 0.5): number[] {
  const counts = checkClassCounts(clsNumList, 'clsNumList');
  assertAtLeast(maxM, 0, 'maxM');
  const raw = counts.map((n) => 1 / Math.sqrt(Math.sqrt(n)));
  const largest = Math.max(...raw);
  return raw.map((r) => (r * maxM) / largest);
}

/**
 * Label-distribution-aware margin loss: `CE(s · (x − m_y · onehot(y)), y)` with PyTorch's weighted mean.
 * Defaults: maxM = 0.5, s = 30, weight = null.
 *
 * @param logits B×C float32 scores (cosines when used with a normalised classifier).
 * @param labels B int32 class indices.
 */
export function ldamLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, options: LdamOptions): tf.Scalar {
  rejectUnknownOptions(options, ['clsNumList', 'maxM', 's', 'weight']);
  const counts = checkClassCounts(options?.clsNumList, 'options.clsNumList');
  const { maxM = 0.5, s = 30 } = options;
  assertAtLeast(maxM, 0, 'options.maxM');
  assertAtLeast(s, 0, 'options.s', true);
  const [batch, classes] = checkScores(logits, 'logits');
  checkClassCountMatches(classes, counts.length, 'logits', 'options.clsNumList');
  checkLabels(labels, batch, classes);
  const weight = checkClassWeights(options.weight, classes, 'options.weight');
  const margins = ldamMargins(counts, maxM);
  return tf.tidy(() => {
    const oneHotLabels = tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D;
    const shifted = tf.sub(logits, tf.mul(oneHotLabels, tf.tensor1d(margins, 'float32')));
    return weightedMeanCrossEntropy(tf.mul(shifted, s) as tf.Tensor2D, labels, oneHotLabels, weight);
  });
}

/** Registry entry of {@link ldamLoss} (`"ldam"`): maxM 0.5, s 30; cosine head by default; takes class weights (DRW). */
export const ldamSpec: LossSpec = {
  name: 'ldam',
  description: 'label-distribution-aware margin loss (Cao et al. 2019)',
  options: {
    maxM: { type: 'number', default: 0.5, exclusiveMinimum: 0, description: 'largest margin (given to the rarest class)' },
    s: { type: 'number', default: 30, exclusiveMinimum: 0, description: 'logit scale' },
  },
  cloudNoise: false,
  head: { preferred: 'cosine', required: false },
  classWeights: true,
  logitScale: (options) => options.s as number,
  create: ({ clsNumList, options }) => (logits, labels, { weight }) =>
    ldamLoss(logits, labels, { clsNumList, maxM: options.maxM as number, s: options.s as number, weight }),
};
