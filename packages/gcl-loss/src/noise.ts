import * as tf from '@tensorflow/tfjs';

/** Standard deviation of GCL's noise draw, N(0, 1/3) before clamping (so ±1 is three standard deviations). */
export const CLOUD_NOISE_STD = 1 / 3;

/**
 * The noise GCL draws each step: `clamp(N(0, σ = 1/3), −1, 1)`, one value per element of the B×C batch.
 *
 * @param shape `[batch, classes]`.
 * @param seed seeds TensorFlow.js' generator; the same seed gives the same draw.
 */
export function sampleCloudNoise(shape: [number, number], seed?: number): tf.Tensor2D {
  return tf.tidy(() => tf.clipByValue(tf.randomNormal(shape, 0, CLOUD_NOISE_STD, 'float32', seed), -1, 1)) as tf.Tensor2D;
}

/**
 * A seeded stream of noise draws: draw k uses seed `seed + k`, so a stream can be saved (`drawCount`) and resumed
 * exactly. Without a seed each draw is unseeded.
 */
export class CloudNoiseStream {
  /** How many draws have been made; part of the state a checkpoint saves. */
  drawCount = 0;

  constructor(readonly seed?: number) {}

  next(shape: [number, number]): tf.Tensor2D {
    const seed = this.seed === undefined ? undefined : this.seed + this.drawCount;
    this.drawCount += 1;
    return sampleCloudNoise(shape, seed);
  }
}
