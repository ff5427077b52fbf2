import * as tf from '@tensorflow/tfjs-core';
import { assertAtLeast, checkCosineInputs } from './validation.js';

/** Standard deviation of GCL's noise draw, N(0, 1/3) before clamping (so ±1 is three standard deviations). */
export const CLOUD_NOISE_STD = 1 / 3;

/**
 * The noise GCL draws each step: `clamp(N(0, σ = 1/3), −1, 1)`, one value per element of the B×C batch.
 *
 * @param shape `[batch, classes]`.
 * @param seed seeds TensorFlow.js' generator; the same seed gives the same draw.
 */
export function sampleCloudNoise(shape: [number, number], seed?: number): tf.Tensor2D {
  if (seed !== undefined && !Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  // tfjs takes a falsy seed (0) for "no seed" and draws from Math.random, yet seeds its generator with the seed's
  // string form: passing that string makes 0 a seed like any other and leaves every other seed's draw unchanged.
  const generatorSeed = seed === undefined ? undefined : (String(seed) as unknown as number);
  return tf.tidy(() => tf.clipByValue(tf.randomNormal(shape, 0, CLOUD_NOISE_STD, 'float32', generatorSeed), -1, 1)) as tf.Tensor2D;
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

/**
 * A loss that draws its own cloud noise each call, like the official modules: subclasses give the loss for a given
 * noise draw. With a seed the draws are reproducible and resumable (`getState`/`setState`).
 */
export abstract class SelfNoisedLoss {
  private readonly noise: CloudNoiseStream;

  protected constructor(
    private readonly numClasses: number,
    seed: number | undefined,
  ) {
    if (seed !== undefined) assertAtLeast(seed, 0, 'options.seed');
    this.noise = new CloudNoiseStream(seed);
  }

  /** The loss for one noise draw; inputs are already validated. */
  protected abstract lossForNoise(cosine: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D): tf.Scalar;

  /** The loss of one batch with a fresh noise draw. */
  call(cosine: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
    // The noise is drawn with cosine's shape, so checking cosine as its own noise checks everything.
    checkCosineInputs(cosine, labels, cosine, this.numClasses);
    const noise = this.noise.next(cosine.shape as [number, number]);
    try {
      return this.lossForNoise(cosine, labels, noise);
    } finally {
      noise.dispose();
    }
  }

  /** The noise stream's position, for checkpoints. */
  getState(): { drawCount: number } {
    return { drawCount: this.noise.drawCount };
  }

  setState(state: { drawCount: number }): void {
    assertAtLeast(state?.drawCount, 0, 'state.drawCount');
    this.noise.drawCount = state.drawCount;
  }
}
