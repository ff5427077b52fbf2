import * as tf from '@tensorflow/tfjs-core';
import { weightedMeanCrossEntropy } from './reductions.js';
import type { LossSpec } from './registry.js';
import {
  assertAtLeast,
  checkClassCountMatches,
  checkClassCounts,
  checkLabels,
  checkScores,
  rejectUnknownOptions,
} from './validation.js';

export interface LogitAdjustedOptions {
  /** Training images per class. Required. */
  clsNumList: number[];
  /** Strength of the adjustment. Default 1. */
  tau?: number;
}

/** `log prior_j = log(n_j / Σ n)`, the offset logit adjustment adds (scaled by τ). */
export function logPriors(clsNumList: number[]): number[] {
  const counts = checkClassCounts(clsNumList, 'clsNumList');
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((n) => Math.log(n / total));
}

/** Shared by logit adjustment and balanced softmax: CE of `logits + offset_j`. */
export function offsetCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, offsets: number[]): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const shifted = tf.add(logits, tf.tensor1d(offsets, 'float32')) as tf.Tensor2D;
    return weightedMeanCrossEntropy(shifted, labels, tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D, null);
  });
}

/**
 * Logit-adjusted loss (Menon et al. 2021): `CE(logit_j + τ · log prior_j, y)`. Default τ = 1.
 *
 * @param logits B×C float32 scores.
 * @param labels B int32 class indices.
 */
export function logitAdjustedLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, options: LogitAdjustedOptions): tf.Scalar {
  rejectUnknownOptions(options, ['clsNumList', 'tau']);
  const counts = checkClassCounts(options?.clsNumList, 'options.clsNumList');
  const { tau = 1 } = options;
  assertAtLeast(tau, 0, 'options.tau');
  const [batch, classes] = checkScores(logits, 'logits');
  checkClassCountMatches(classes, counts.length, 'logits', 'options.clsNumList');
  checkLabels(labels, batch, classes);
  return offsetCrossEntropy(logits, labels, logPriors(counts).map((p) => tau * p));
}

/** Registry entry of {@link logitAdjustedLoss} (`"logit-adjusted"`): τ 1; dense head; no class weights. */
export const logitAdjustedSpec: LossSpec = {
  name: 'logit-adjusted',
  description: 'logit-adjusted loss (Menon et al. 2021)',
  options: {
    tau: { type: 'number', default: 1, minimum: 0, description: 'logit-adjustment temperature τ' },
  },
  cloudNoise: false,
  head: { preferred: 'dense', required: false },
  classWeights: false,
  create: ({ clsNumList, options }) => (logits, labels) => logitAdjustedLoss(logits, labels, { clsNumList, tau: options.tau as number }),
};
