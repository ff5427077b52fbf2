import * as tf from '@tensorflow/tfjs-core';
import { relativeCloudSizes } from './cloud-sizes.js';
import { SelfNoisedLoss } from './noise.js';
import type { LossSpec } from './registry.js';
import { focalReduction, weightedMeanCrossEntropy } from './reductions.js';
import {
  assertAtLeast,
  assertBoolean,
  checkClassCounts,
  checkClassWeights,
  checkCosineInputs,
  rejectUnknownOptions,
  requireNoise,
} from './validation.js';

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
  /**
   * The focal reduction `mean (1 − e^{−ℓ})^γ ℓ` of the per-sample weighted loss instead of the weighted mean: the
   * stage-2 classifier re-training form (the official code's `train_cls`). Default false.
   */
  focalReduction?: boolean;
  /** Focal exponent used when `focalReduction` is true. Default 0; the paper uses 1 in stage 2. */
  gamma?: number;
}

const GCL_OPTION_KEYS = ['clsNumList', 'm', 's', 'noiseMul', 'weight', 'focalReduction', 'gamma'] as const;

interface ResolvedGclOptions {
  clsNumList: number[];
  relativeSizes: number[];
  m: number;
  s: number;
  noiseMul: number;
  weight: number[] | null;
  focalReduction: boolean;
  gamma: number;
}

function resolveGclOptions(options: GclOptions, extraKeys: readonly string[] = []): ResolvedGclOptions {
  rejectUnknownOptions(options, [...GCL_OPTION_KEYS, ...extraKeys]);
  const clsNumList = checkClassCounts(options.clsNumList, 'options.clsNumList');
  const { m = 0, s = 30, noiseMul = 0.5, focalReduction = false, gamma = 0 } = options;
  assertAtLeast(m, 0, 'options.m');
  assertAtLeast(s, 0, 'options.s', true);
  assertAtLeast(noiseMul, 0, 'options.noiseMul');
  assertBoolean(focalReduction, 'options.focalReduction');
  assertAtLeast(gamma, 0, 'options.gamma');
  const weight = checkClassWeights(options.weight, clsNumList.length, 'options.weight');
  return { clsNumList, relativeSizes: relativeCloudSizes(clsNumList), m, s, noiseMul, weight, focalReduction, gamma };
}

function gclFromResolved(cosine: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D, o: ResolvedGclOptions): tf.Scalar {
  return tf.tidy(() => {
    const classes = cosine.shape[1];
    const oneHotLabels = tf.cast(tf.oneHot(labels, classes), 'float32') as tf.Tensor2D;
    // z = cos − noise_mul · |ε| · δ_j / max δ, then the margin on the target column, then the scale.
    const cloud = tf.mul(tf.abs(noise), tf.tensor1d(o.relativeSizes.map((d) => o.noiseMul * d), 'float32'));
    let adjusted = tf.sub(cosine, cloud);
    if (o.m !== 0) adjusted = tf.sub(adjusted, tf.mul(oneHotLabels, o.m));
    const logits = tf.mul(adjusted, o.s) as tf.Tensor2D;
    return o.focalReduction
      ? focalReduction(logits, labels, oneHotLabels, o.weight, o.gamma)
      : weightedMeanCrossEntropy(logits, labels, oneHotLabels, o.weight);
  });
}

/**
 * Gaussian Clouded Logit loss (cosine form; Li, Cheung, Lu, CVPR 2022), deterministic given `noise`:
 *
 *     δ_j  = log(max_k n_k) − log(n_j)
 *     z_ij = cos_ij − noiseMul · |ε_ij| · δ_j / max_k δ_k − m · [j = y_i]
 *     stage 1 (focalReduction false):  loss = Σ_i w_{y_i} CE(s·z_i, y_i) / Σ_i w_{y_i}     (PyTorch's weighted mean)
 *     stage 2 (focalReduction true):   ℓ_i = w_{y_i} CE(s·z_i, y_i),  loss = mean_i (1 − e^{−ℓ_i})^γ ℓ_i  (e^{−ℓ} constant)
 *
 * Defaults: m = 0, s = 30, noiseMul = 0.5, weight = null, focalReduction = false, gamma = 0 (stage 1, CIFAR). Stage 2 in the
 * paper: m = 0.1, s = 20, gamma = 1, focalReduction = true.
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

/**
 * Registry entry of {@link gclLoss} (`"gcl"`): the paper's stage-1 defaults (m 0, s 30, noiseMul 0.5) and stage-2
 * defaults (m 0.1, s 20, focal reduction with γ 1); cosine head required; takes cloud noise and class weights.
 */
export const gclSpec: LossSpec = {
  name: 'gcl',
  description: 'Gaussian Clouded Logit loss, cosine form (Li et al. 2022)',
  options: {
    m: { type: 'number', default: 0, stageDefaults: { 2: 0.1 }, minimum: 0, description: 'margin subtracted from the target cosine' },
    s: { type: 'number', default: 30, stageDefaults: { 2: 20 }, exclusiveMinimum: 0, description: 'logit scale' },
    noiseMul: { type: 'number', default: 0.5, minimum: 0, description: 'noise multiplier of the Gaussian clouds' },
    gamma: { type: 'number', default: 1, minimum: 0, stages: [2], description: 'focal exponent of the stage-2 focal reduction' },
  },
  cloudNoise: true,
  head: { preferred: 'cosine', required: true },
  classWeights: true,
  logitScale: (options) => options.s as number,
  create: ({ clsNumList, stage, options }) => {
    const focal = stage === 2;
    return (logits, labels, { noise, weight }) =>
      gclLoss(logits, labels, requireNoise(noise, 'gcl'), {
        clsNumList,
        m: options.m as number,
        s: options.s as number,
        noiseMul: options.noiseMul as number,
        weight,
        focalReduction: focal,
        gamma: focal ? (options.gamma as number) : 0,
      });
  },
};
