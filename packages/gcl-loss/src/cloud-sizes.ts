import { checkClassCounts } from './validation.js';

/**
 * Cloud sizes of GCL: the amplitude of each class's Gaussian logit perturbation,
 *
 *     δ_j = log(max_k n_k) − log(n_j)        (natural log)
 *
 * so the most frequent class gets 0 and the rarest the largest cloud. Equal counts give all zeros (never NaN).
 *
 * @param clsNumList training images per class, positive integers.
 * @returns δ_j per class, in float64.
 */
export function cloudSizes(clsNumList: number[]): number[] {
  const counts = checkClassCounts(clsNumList, 'clsNumList');
  const logMax = Math.log(Math.max(...counts));
  return counts.map((n) => logMax - Math.log(n));
}

/**
 * Cloud sizes divided by their maximum, in [0, 1]: the per-column factor the loss multiplies the noise by.
 * All zeros when every class has the same count (the official code divides 0 by 0 there; no noise is the limit
 * that keeps the loss finite and equal to plain cross-entropy).
 */
export function relativeCloudSizes(clsNumList: number[]): number[] {
  const sizes = cloudSizes(clsNumList);
  const largest = Math.max(...sizes);
  return largest > 0 ? sizes.map((d) => d / largest) : sizes.map(() => 0);
}
