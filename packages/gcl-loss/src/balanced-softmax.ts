import * as tf from '@tensorflow/tfjs-core';
import { offsetCrossEntropy } from './logit-adjusted.js';
import type { LossSpec } from './registry.js';
import { checkClassCountMatches, checkClassCounts, checkLabels, checkScores, rejectUnknownOptions } from './validation.js';

export interface BalancedSoftmaxOptions {
  /** Training images per class. Required. */
  clsNumList: number[];
}

/**
 * Balanced softmax (Ren et al. 2020): `CE(logit_j + log n_j, y)`. Equal to logit adjustment with τ = 1 (the
 * normalising constant `log Σ n` cancels in the softmax).
 *
 * @param logits B×C float32 scores.
 * @param labels B int32 class indices.
 */
export function balancedSoftmaxLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, options: BalancedSoftmaxOptions): tf.Scalar {
  rejectUnknownOptions(options, ['clsNumList']);
  const counts = checkClassCounts(options?.clsNumList, 'options.clsNumList');
  const [batch, classes] = checkScores(logits, 'logits');
  checkClassCountMatches(classes, counts.length, 'logits', 'options.clsNumList');
  checkLabels(labels, batch, classes);
  return offsetCrossEntropy(logits, labels, counts.map((n) => Math.log(n)));
}

/** Registry entry of {@link balancedSoftmaxLoss} (`"balanced-softmax"`): no options; dense head; no class weights. */
export const balancedSoftmaxSpec: LossSpec = {
  name: 'balanced-softmax',
  description: 'balanced softmax (Ren et al. 2020)',
  options: {},
  cloudNoise: false,
  head: { preferred: 'dense', required: false },
  classWeights: false,
  create: ({ clsNumList }) => (logits, labels) => balancedSoftmaxLoss(logits, labels, { clsNumList }),
};
