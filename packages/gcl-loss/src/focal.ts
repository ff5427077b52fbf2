import * as tf from '@tensorflow/tfjs-core';
import { focalReduction } from './reductions.js';
import type { LossSpec } from './registry.js';
import { assertAtLeast, checkClassWeights, checkLabels, checkScores, rejectUnknownOptions } from './validation.js';

export interface FocalOptions {
  /** Focusing exponent γ. Default 1 (the value the GCL paper compares with). */
  gamma?: number;
  /** Per-class weights, or null. Default null. */
  weight?: number[] | null;
}

/**
 * Focal loss as the reference code computes it (Lin et al. 2017, with the detached modulating factor):
 *
 *     ℓ_i = w_{y_i} CE_i,   loss = mean_i (1 − e^{−ℓ_i})^γ ℓ_i      (e^{−ℓ_i} carries no gradient)
 *
 * @param logits B×C float32 scores.
 * @param labels B int32 class indices.
 */
export function focalLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, options: FocalOptions = {}): tf.Scalar {
  rejectUnknownOptions(options, ['gamma', 'weight']);
  const [batch, classes] = checkScores(logits, 'logits');
  checkLabels(labels, batch, classes);
  const { gamma = 1 } = options;
  assertAtLeast(gamma, 0, 'options.gamma');
  const weight = checkClassWeights(options.weight, classes, 'options.weight');
  return tf.tidy(() =>
    focalReduction(logits, labels, tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D, weight, gamma),
  );
}

/** Registry entry of {@link focalLoss} (`"focal"`): γ 1; dense head; takes class weights. */
export const focalSpec: LossSpec = {
  name: 'focal',
  description: 'focal loss (Lin et al. 2017)',
  options: {
    gamma: { type: 'number', default: 1, minimum: 0, description: 'focusing exponent γ' },
  },
  cloudNoise: false,
  head: { preferred: 'dense', required: false },
  classWeights: true,
  create: ({ options }) => (logits, labels, { weight }) => focalLoss(logits, labels, { gamma: options.gamma as number, weight }),
};
