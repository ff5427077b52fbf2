import { checkBeta, checkCounts, rejectUnknownOptions } from './validation.js';
import type { WeightRuleSpec } from './registry.js';

/**
 * Class-balanced weights `w_j = 1 / n_j` (the reference's BalancedDatasetSampler).
 *
 * @param counts training images per class, positive integers.
 */
export function balancedWeights(counts: number[]): number[] {
  return checkCounts(counts).map((n) => 1 / n);
}

/**
 * Effective-number weights (Cui et al. 2019): `w_j = (1 − β) / (1 − β^{n_j})`, β = 0.9999 by default.
 *
 * @param counts training images per class, positive integers.
 * @param beta in [0, 1); the paper's 0.9999.
 */
export function effectiveNumberWeights(counts: number[], beta = 0.9999): number[] {
  const n = checkCounts(counts);
  checkBeta(beta, 'beta');
  return n.map((c) => (1 - beta) / (1 - Math.pow(beta, c)));
}

export interface ClassBasedEffectiveNumberOptions {
  /** Base β. Default 0.9999. */
  betaA?: number;
  /** How much β grows with the (normalised) cloud size. Default 1e-5. */
  betaB?: number;
}

/**
 * Class-based effective-number weights, the GCL paper's stage-2 sampler:
 *
 *     δ_j = log max n − log n_j, rescaled to [0, 1]:  δ̂_j = (δ_j − min δ) / (max δ − min δ)
 *     β_j = β_a + β_b · δ̂_j,    w_j = (1 − β_j) / (1 − β_j^{n_j})
 *
 * As in the official code, δ and β are computed in float32 (numpy keeps the float32 dtype of `log(n)`) and the weight
 * in float64 from that float32 β. Equal counts give δ̂ = 0 (the official code would divide 0 by 0).
 * Defaults β_a = 0.9999, β_b = 1e-5.
 */
export function classBasedEffectiveNumberWeights(
  counts: number[],
  options: ClassBasedEffectiveNumberOptions = {},
): number[] {
  const n = checkCounts(counts);
  rejectUnknownOptions(options, ['betaA', 'betaB']);
  const { betaA = 0.9999, betaB = 1e-5 } = options;
  checkBeta(betaA, 'options.betaA');
  if (typeof betaB !== 'number' || !Number.isFinite(betaB) || betaB < 0) {
    throw new RangeError(`options.betaB must be a finite number >= 0, got ${String(betaB)}`);
  }
  const f = Math.fround;
  const logCounts = n.map((c) => f(Math.log(f(c))));
  const logMax = Math.max(...logCounts);
  const delta = logCounts.map((l) => f(logMax - l));
  const low = Math.min(...delta);
  const range = f(Math.max(...delta) - low);
  const scaled = delta.map((d) => (range > 0 ? f(f(d - low) / range) : 0));
  const betas = scaled.map((d) => f(f(betaA) + f(f(betaB) * d)));
  betas.forEach((b, j) => {
    if (!(b < 1)) throw new RangeError(`β for class ${j} is ${b} (betaA + betaB must stay below 1)`);
  });
  return n.map((c, j) => (1 - betas[j]) / (1 - Math.pow(betas[j], c)));
}

/** Weights divided by their sum, as the reference's re-weighting (RW) rules pass them to the loss. */
export function normalizeWeights(weights: number[]): number[] {
  if (!Array.isArray(weights) || weights.length === 0) throw new TypeError('weights must be a non-empty array');
  weights.forEach((w, j) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new RangeError(`weights[${j}] must be a finite number >= 0, got ${String(w)}`);
    }
  });
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError('weights must not be all zero');
  return weights.map((w) => w / total);
}

/** Registry entry `"balanced"`: {@link balancedWeights}, `1/n_j`. */
export const balancedRule: WeightRuleSpec = {
  name: 'balanced',
  description: 'class-balanced weights 1/n_j',
  weights: (counts) => balancedWeights(counts),
};

/** Registry entry `"effective-number"`: {@link effectiveNumberWeights}, `(1 − β)/(1 − β^{n_j})` (option `beta`). */
export const effectiveNumberRule: WeightRuleSpec = {
  name: 'effective-number',
  description: 'effective-number weights (1 − β)/(1 − β^n_j), β 0.9999 (Cui et al. 2019)',
  weights: (counts, options) => effectiveNumberWeights(counts, options.beta),
};

/** Registry entry `"class-based-effective-number"`: {@link classBasedEffectiveNumberWeights} (options `betaA`, `betaB`). */
export const classBasedEffectiveNumberRule: WeightRuleSpec = {
  name: 'class-based-effective-number',
  description: "class-based effective-number weights, β growing with the cloud size (GCL's stage-2 sampler)",
  weights: (counts, options) => classBasedEffectiveNumberWeights(counts, { betaA: options.betaA, betaB: options.betaB }),
};
