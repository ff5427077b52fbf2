import * as tf from '@tensorflow/tfjs-core';
import { relativeCloudSizes } from './cloud-sizes.js';
import { SelfNoisedLoss } from './noise.js';
import type { LossSpec } from './registry.js';
import { focalReduction, greaterMask, weightedMeanCrossEntropy } from './reductions.js';
import {
  assertAtLeast,
  assertBoolean,
  checkClassCounts,
  checkClassWeights,
  checkCosineInputs,
  rejectUnknownOptions,
  requireNoise,
} from './validation.js';

/** Options of the angular GCL loss (journal extension, IEEE TAI 2024). */
export interface GclAngularOptions {
  /** Training images per class, `n_j`. Required. */
  clsNumList: number[];
  /** Additive angular margin on the target column. Default 0.5. */
  m?: number;
  /** Angular noise amplitude: the cloud becomes `(π/2)·epsilon·|ε|·δ_j/max δ` radians. Default 0.1. */
  epsilon?: number;
  /** Logit scale. Default 30. */
  s?: number;
  /** Use `cos(θ + margin)` only where cos > 0 and plain cos elsewhere (ArcFace's easy margin). Default false. */
  easyMargin?: boolean;
  /** Per-class loss weights, or null. Default null. */
  weight?: number[] | null;
  /**
   * The focal reduction `mean (1 − e^{−ℓ})^γ ℓ` of the per-sample weighted loss instead of the weighted mean: the
   * stage-2 classifier re-training form (the official code's `train_cls`). Default false.
   */
  focalReduction?: boolean;
  /** Focal exponent used when `focalReduction` is true. Default 0. */
  gamma?: number;
}

const ANGULAR_OPTION_KEYS = ['clsNumList', 'm', 'epsilon', 's', 'easyMargin', 'weight', 'focalReduction', 'gamma'] as const;

interface ResolvedAngularOptions {
  clsNumList: number[];
  relativeSizes: number[];
  m: number;
  epsilon: number;
  s: number;
  easyMargin: boolean;
  weight: number[] | null;
  focalReduction: boolean;
  gamma: number;
}

function resolveAngularOptions(options: GclAngularOptions, extraKeys: readonly string[] = []): ResolvedAngularOptions {
  rejectUnknownOptions(options, [...ANGULAR_OPTION_KEYS, ...extraKeys]);
  const clsNumList = checkClassCounts(options.clsNumList, 'options.clsNumList');
  const { m = 0.5, epsilon = 0.1, s = 30, easyMargin = false, focalReduction = false, gamma = 0 } = options;
  assertAtLeast(m, 0, 'options.m');
  assertAtLeast(epsilon, 0, 'options.epsilon');
  assertAtLeast(s, 0, 'options.s', true);
  assertBoolean(easyMargin, 'options.easyMargin');
  assertBoolean(focalReduction, 'options.focalReduction');
  assertAtLeast(gamma, 0, 'options.gamma');
  const weight = checkClassWeights(options.weight, clsNumList.length, 'options.weight');
  return {
    clsNumList,
    relativeSizes: relativeCloudSizes(clsNumList),
    m,
    epsilon,
    s,
    easyMargin,
    weight,
    focalReduction,
    gamma,
  };
}

function angularFromResolved(
  cosine: tf.Tensor2D,
  labels: tf.Tensor1D,
  noise: tf.Tensor2D,
  o: ResolvedAngularOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const classes = cosine.shape[1];
    const oneHotLabels = tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D;
    // Per-element angular margin: |(π/2)·ε·δ_j/max δ · noise| everywhere, plus m on the target column.
    const columnScale = tf.tensor1d(o.relativeSizes.map((d) => (Math.PI / 2) * o.epsilon * d), 'float32');
    const margin = tf.add(tf.abs(tf.mul(noise, columnScale)), tf.mul(oneHotLabels, o.m));
    const sine = tf.sqrt(tf.clipByValue(tf.sub(1, tf.square(cosine)), 0, 1));
    // cos(θ + margin) = cos θ cos margin − sin θ sin margin
    const shifted = tf.sub(tf.mul(cosine, tf.cos(margin)), tf.mul(sine, tf.sin(margin)));
    let adjusted: tf.Tensor;
    if (o.easyMargin) {
      const keep = greaterMask(cosine, tf.zerosLike(cosine));
      adjusted = tf.add(tf.mul(keep, shifted), tf.mul(tf.sub(1, keep), cosine));
    } else {
      // Where θ + margin would pass π, the official code falls back to cos − sin(π − margin).
      const threshold = tf.cos(tf.sub(Math.PI, margin));
      const keep = greaterMask(cosine, threshold);
      const fallback = tf.sub(cosine, tf.sin(tf.sub(Math.PI, margin)));
      adjusted = tf.add(tf.mul(keep, shifted), tf.mul(tf.sub(1, keep), fallback));
    }
    const logits = tf.mul(adjusted, o.s) as tf.Tensor2D;
    return o.focalReduction
      ? focalReduction(logits, labels, oneHotLabels, o.weight, o.gamma)
      : weightedMeanCrossEntropy(logits, labels, oneHotLabels, o.weight);
  });
}

/**
 * Angular Gaussian Clouded Logit loss (the journal extension's GCLAngLoss), deterministic given `noise`:
 *
 *     margin_ij = |(π/2) · epsilon · ε_ij · δ_j / max_k δ_k| + m · [j = y_i]
 *     φ_ij      = cos(θ_ij + margin_ij)                     where cos θ_ij > cos(π − margin_ij)
 *               = cos θ_ij − sin(π − margin_ij)             elsewhere  (or, with easyMargin, cos θ_ij where cos θ_ij ≤ 0)
 *     loss      = CE(s · φ_i, y_i), weighted mean — or the focal reduction when focalReduction
 *
 * Defaults: m = 0.5, epsilon = 0.1, s = 30, easyMargin = false, weight = null, focalReduction = false, gamma = 0.
 *
 * @param cosine B×C cosine similarities in [−1, 1].
 * @param labels B int32 class indices.
 * @param noise B×C draw of clamp(N(0, 1/3), −1, 1) before scaling.
 */
export function gclAngularLoss(
  cosine: tf.Tensor2D,
  labels: tf.Tensor1D,
  noise: tf.Tensor2D,
  options: GclAngularOptions,
): tf.Scalar {
  const resolved = resolveAngularOptions(options);
  checkCosineInputs(cosine, labels, noise, resolved.clsNumList.length);
  return angularFromResolved(cosine, labels, noise, resolved);
}

/** The angular GCL loss as an object that draws its own noise each call (seedable, resumable). */
export class GCLAngularLoss extends SelfNoisedLoss {
  private readonly options: ResolvedAngularOptions;

  constructor(options: GclAngularOptions & { seed?: number }) {
    const resolved = resolveAngularOptions(options, ['seed']);
    super(resolved.clsNumList.length, options.seed);
    this.options = resolved;
  }

  protected lossForNoise(cosine: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D): tf.Scalar {
    return angularFromResolved(cosine, labels, noise, this.options);
  }
}

/**
 * Registry entry of {@link gclAngularLoss} (`"gcl-angular"`): m 0.5, epsilon 0.1, s 30, the stage-2 focal reduction
 * with γ 1; cosine head required; takes cloud noise and class weights.
 */
export const gclAngularSpec: LossSpec = {
  name: 'gcl-angular',
  description: 'angular Gaussian Clouded Logit loss (journal extension, IEEE TAI 2024)',
  options: {
    m: { type: 'number', default: 0.5, minimum: 0, description: 'additive angular margin on the target column (radians, at most π/2)' },
    s: { type: 'number', default: 30, exclusiveMinimum: 0, description: 'logit scale' },
    epsilon: { type: 'number', default: 0.1, minimum: 0, description: 'angular noise scale' },
    easyMargin: { type: 'boolean', default: false, description: "ArcFace's easy margin" },
    gamma: { type: 'number', default: 1, minimum: 0, stages: [2], description: 'focal exponent of the stage-2 focal reduction' },
  },
  cloudNoise: true,
  head: { preferred: 'cosine', required: true },
  classWeights: true,
  logitScale: (options) => options.s as number,
  validate: (options) => ((options.m as number) > Math.PI / 2 ? [`m must be <= π/2 for gcl-angular, got ${options.m}`] : []),
  create: ({ clsNumList, stage, options }) => {
    const focal = stage === 2;
    return (logits, labels, { noise, weight }) =>
      gclAngularLoss(logits, labels, requireNoise(noise, 'gcl-angular'), {
        clsNumList,
        m: options.m as number,
        epsilon: options.epsilon as number,
        s: options.s as number,
        easyMargin: options.easyMargin as boolean,
        weight,
        focalReduction: focal,
        gamma: focal ? (options.gamma as number) : 0,
      });
  },
};
