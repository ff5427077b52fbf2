import * as tf from '@tensorflow/tfjs';
import { relativeCloudSizes } from './cloud-sizes';
import { SelfNoisedLoss } from './noise';
import { focalReduction, greaterMask, weightedMeanCrossEntropy } from './reductions';
import {
  assertAtLeast,
  assertBoolean,
  checkClassCounts,
  checkClassWeights,
  checkCosineInputs,
  rejectUnknownOptions,
} from './validation';

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
  /** Stage-2 focal reduction of the per-sample weighted loss. Default false. */
  trainCls?: boolean;
  /** Focal exponent used when `trainCls` is true. Default 0. */
  gamma?: number;
}

const ANGULAR_OPTION_KEYS = ['clsNumList', 'm', 'epsilon', 's', 'easyMargin', 'weight', 'trainCls', 'gamma'] as const;

interface ResolvedAngularOptions {
  clsNumList: number[];
  relativeSizes: number[];
  m: number;
  epsilon: number;
  s: number;
  easyMargin: boolean;
  weight: number[] | null;
  trainCls: boolean;
  gamma: number;
}

function resolveAngularOptions(options: GclAngularOptions, extraKeys: readonly string[] = []): ResolvedAngularOptions {
  rejectUnknownOptions(options, [...ANGULAR_OPTION_KEYS, ...extraKeys]);
  const clsNumList = checkClassCounts(options.clsNumList, 'options.clsNumList');
  const { m = 0.5, epsilon = 0.1, s = 30, easyMargin = false, trainCls = false, gamma = 0 } = options;
  assertAtLeast(m, 0, 'options.m');
  assertAtLeast(epsilon, 0, 'options.epsilon');
  assertAtLeast(s, 0, 'options.s', true);
  assertBoolean(easyMargin, 'options.easyMargin');
  assertBoolean(trainCls, 'options.trainCls');
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
    trainCls,
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
    const oneHotLabels = tf.oneHot(labels, classes).toFloat() as tf.Tensor2D;
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
    return o.trainCls
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
 *     loss      = CE(s · φ_i, y_i), weighted mean — or the focal reduction when trainCls
 *
 * Defaults: m = 0.5, epsilon = 0.1, s = 30, easyMargin = false, weight = null, trainCls = false, gamma = 0.
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
