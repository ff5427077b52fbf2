import * as tf from '@tensorflow/tfjs-core';

/**
 * Identity in the forward pass, zero gradient in the backward pass (PyTorch's `.detach()`).
 */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** Per-sample cross-entropy `−log softmax(logits)[y_i]` as a length-B vector. */
export function perSampleCrossEntropy(logits: tf.Tensor2D, oneHotLabels: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(oneHotLabels, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
}

/**
 * PyTorch's `F.cross_entropy(logits, y, weight)` with reduction 'mean':
 * `Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}`, or the plain mean without weights.
 */
export function weightedMeanCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  oneHotLabels: tf.Tensor2D,
  weight: number[] | null,
): tf.Scalar {
  const losses = perSampleCrossEntropy(logits, oneHotLabels);
  if (weight === null) return tf.mean(losses);
  const sampleWeights = tf.gather(tf.tensor1d(weight, 'float32'), labels);
  return tf.div(tf.sum(tf.mul(sampleWeights, losses)), tf.sum(sampleWeights));
}

/**
 * The focal reduction of the official code (`focal_loss`):
 *
 *     ℓ_i = w_{y_i} · CE_i,   p_i = exp(−ℓ_i) (no gradient),   loss = mean_i (1 − p_i)^γ · ℓ_i
 *
 * With γ = 0 this is the mean of the (weighted) per-sample losses.
 */
export function focalReduction(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  oneHotLabels: tf.Tensor2D,
  weight: number[] | null,
  gamma: number,
): tf.Scalar {
  let losses: tf.Tensor1D = perSampleCrossEntropy(logits, oneHotLabels);
  if (weight !== null) losses = tf.mul(tf.gather(tf.tensor1d(weight, 'float32'), labels), losses);
  if (gamma === 0) return tf.mean(losses);
  const confidence = tf.exp(tf.neg(stopGradient(losses)));
  return tf.mean(tf.mul(tf.pow(tf.sub(1, confidence), gamma), losses));
}

/**
 * `1` where `a > b`, else `0`, as float32, with no gradient to either input. TensorFlow.js has no gradient for
 * comparisons, so a mask that depends on a differentiated tensor must be built this way.
 */
export const greaterMask = tf.customGrad(((a: tf.Tensor, b: tf.Tensor) => ({
  value: tf.cast(tf.greater(a, b), 'float32'),
  gradFunc: () => [tf.zerosLike(a), tf.zerosLike(b)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
