import * as tf from '@tensorflow/tfjs-core';
import { weightedMeanCrossEntropy } from './reductions.js';
import type { LossSpec } from './registry.js';
import { checkClassWeights, checkLabels, checkScores, rejectUnknownOptions } from './validation.js';

export interface CrossEntropyOptions {
  /** Per-class weights (re-weighting), or null. Default null. */
  weight?: number[] | null;
}

/**
 * Softmax cross-entropy with PyTorch's weighted mean: `Σ_i w_{y_i} CE_i / Σ_i w_{y_i}` (plain mean without weights).
 *
 * @param logits B×C float32 scores.
 * @param labels B int32 class indices.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, options: CrossEntropyOptions = {}): tf.Scalar {
  rejectUnknownOptions(options, ['weight']);
  const [batch, classes] = checkScores(logits, 'logits');
  checkLabels(labels, batch, classes);
  const weight = checkClassWeights(options.weight, classes, 'options.weight');
  return tf.tidy(() => weightedMeanCrossEntropy(logits, labels, tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D, weight));
}

/** Registry entry of {@link crossEntropy} (`"ce"`): no options; dense head; takes class weights. */
export const crossEntropySpec: LossSpec = {
  name: 'ce',
  description: 'softmax cross-entropy',
  options: {},
  cloudNoise: false,
  head: { preferred: 'dense', required: false },
  classWeights: true,
  create: () => (logits, labels, { weight }) => crossEntropy(logits, labels, { weight }),
};
