import * as tf from '@tensorflow/tfjs';
import { relativeCloudSizes } from './cloud-sizes';
import { SelfNoisedLoss } from './noise';
import { focalReduction, weightedMeanCrossEntropy } from './reductions';
import {
  assertAtLeast,
  assertBoolean,
  checkClassCounts,
  checkClassWeights,
  checkCosineInputs,
  rejectUnknownOptions,
} from './validation';

/** Options of the GCL loss (cosine form). Defaults are the paper's stage-1 CIFAR values. */
export interface GclOptions {
  /** Training images per class, `n_j`. Required. */
  clsNumList: number[];
  /** Margin subtracted from the target cosine. Default 0 (stage 1); the paper uses 0.1 in stage 2. */
  m?: number;
  /** Logit scale. Default 30 (stage 1); 20 in stage 2 on CIFAR, 15 on Places-LT. */
  s?: number;
  /** Noise multiplier. Default 0.5 (CIFAR); 1.0 on Places-LT. */
  noiseMul?: number;
  /** Per-class loss weights (re-weighting), or null. Default null. */
  weight?: number[] | null;
  /** Stage-2 classifier re-training: focal reduction of the per-sample weighted loss. Default false. */
  trainCls?: boolean;
  /** Focal exponent used when `trainCls` is true. Default 0; the paper uses 1 in stage 2. */
  gamma?: number;
}

const GCL_OPTION_KEYS = ['clsNumList', 'm', 's', 'noiseMul', 'weight', 'trainCls', 'gamma'] as const;

interface ResolvedGclOptions {
  clsNumList: number[];
  relativeSizes: number[];
  m: number;
  s: number;
  noiseMul: number;
  weight: number[] | null;
  trainCls: boolean;
  gamma: number;
}

function resolveGclOptions(options: GclOptions, extraKeys: readonly string[] = []): ResolvedGclOptions {
  rejectUnknownOptions(options, [...GCL_OPTION_KEYS, ...extraKeys]);
  const clsNumList = checkClassCounts(options.clsNumList, 'options.clsNumList');
  const { m = 0, s = 30, noiseMul = 0.5, trainCls = false, gamma = 0 } = options;
  assertAtLeast(m, 0, 'options.m');
  assertAtLeast(s, 0, 'options.s', true);
  assertAtLeast(noiseMul, 0, 'options.noiseMul');
  assertBoolean(trainCls, 'options.trainCls');
  assertAtLeast(gamma, 0, 'options.gamma');
  const weight = checkClassWeights(options.weight, clsNumList.length, 'options.weight');
  return { clsNumList, relativeSizes: relativeCloudSizes(clsNumList), m, s, noiseMul, weight, trainCls, gamma };
}

function gclFromResolved(cosine: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D, o: ResolvedGclOptions): tf.Scalar {
  return tf.tidy(() => {
    const classes = cosine.shape[1];
    const oneHotLabels = tf.oneHot(labels, classes).toFloat() as tf.Tensor2D;
    // z = cos − noise_mul · |ε| · δ_j / max δ, then the margin on the target column, then the scale.
    const cloud = tf.mul(tf.abs(noise), tf.tensor1d(o.relativeSizes.map((d) => o.noiseMul * d), 'float32'));
    let adjusted = tf.sub(cosine, cloud);
    if (o.m !== 0) adjusted = tf.sub(adjusted, tf.mul(oneHotLabels, o.m));
    const logits = tf.mul(adjusted, o.s) as tf.Tensor2D;
    return o.trainCls
      ? focalReduction(logits, labels, oneHotLabels, o.weight, o.gamma)
      : weightedMeanCrossEntropy(logits, labels, oneHotLabels, o.weight);
  });
}

/**
 * Gaussian Clouded Logit loss (cosine form; Li, Cheung, Lu, CVPR 2022), deterministic given `noise`:
 *
 *     δ_j  = log(max_k n_k) − log(n_j)
 *     z_ij = cos_ij − noiseMul · |ε_ij| · δ_j / max_k δ_k − m · [j = y_i]
 *     stage 1 (trainCls false):  loss = Σ_i w_{y_i} CE(s·z_i, y_i) / Σ_i w_{y_i}     (PyTorch's weighted mean)
 *     stage 2 (trainCls true):   ℓ_i = w_{y_i} CE(s·z_i, y_i),  loss = mean_i (1 − e^{−ℓ_i})^γ ℓ_i  (e^{−ℓ} constant)
 *
 * Defaults: m = 0, s = 30, noiseMul = 0.5, weight = null, trainCls = false, gamma = 0 (stage 1, CIFAR). Stage 2 in the
 * paper: m = 0.1, s = 20, gamma = 1, trainCls = true.
 *
 * @param cosine B×C cosine similarities from a cosine classifier (float32).
 * @param labels B int32 class indices.
 * @param noise B×C draw of clamp(N(0, 1/3), −1, 1) (see `sampleCloudNoise`); its sign is ignored.
 * @returns the scalar loss; differentiable with respect to `cosine`.
 */
export function gclLoss(cosine: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D, options: GclOptions): tf.Scalar {
  const resolved = resolveGclOptions(options);
  checkCosineInputs(cosine, labels, noise, resolved.clsNumList.length);
  return gclFromResolved(cosine, labels, noise, resolved);
}

/**
 * The GCL loss as an object that draws its own noise each call, like the official `GCLLoss` module.
 * With `seed` set, the draws are reproducible and resumable (`getState`/`setState`).
 */
export class GCLLoss extends SelfNoisedLoss {
  private readonly options: ResolvedGclOptions;

  constructor(options: GclOptions & { seed?: number }) {
    const resolved = resolveGclOptions(options, ['seed']);
    super(resolved.clsNumList.length, options.seed);
    this.options = resolved;
  }

  /** Cloud sizes divided by their maximum (the per-class noise factor before `noiseMul`). */
  get relativeCloudSizes(): number[] {
    return [...this.options.relativeSizes];
  }

  protected lossForNoise(cosine: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D): tf.Scalar {
    return gclFromResolved(cosine, labels, noise, this.options);
  }
}
