import type { IndexSampler } from './samplers.js';
import { getSampler } from './registry.js';
import { checkLabels, rejectUnknownOptions } from './validation.js';

/**
 * A sampling rule's name: a built-in (`none`, `balanced`, `effective-number`, `class-based-effective-number`,
 * `class-aware`) or one added with `registerSampler` / `registerWeightRule` (see `samplerNames()`).
 */
export type SamplerRule = 'none' | 'balanced' | 'effective-number' | 'class-based-effective-number' | 'class-aware' | (string & {});

export interface CreateSamplerOptions {
  seed: number;
  /** Indices per epoch for the weighted rules. Default: the dataset length. */
  numSamples?: number;
  /** β of 'effective-number'. Default 0.9999. */
  beta?: number;
  /** β_a, β_b of 'class-based-effective-number'. Defaults 0.9999, 1e-5. */
  betaA?: number;
  betaB?: number;
  /** Samples per visit of 'class-aware'. Default 4. */
  samplesPerClass?: number;
}

/**
 * Builds the sampler of a rule:
 * - `'none'`: a fresh permutation each epoch;
 * - `'balanced'`, `'effective-number'`, `'class-based-effective-number'`: dataset-length draws with replacement,
 *   P(index) ∝ the class weight of that rule (computed over the classes that have samples);
 * - `'class-aware'`: the class-aware cycle;
 * - any rule added with `registerSampler` or `registerWeightRule` (the registry in `registry.ts`).
 */
export function createSampler(rule: SamplerRule, labels: ArrayLike<number>, options: CreateSamplerOptions): IndexSampler {
  rejectUnknownOptions(options, ['seed', 'numSamples', 'beta', 'betaA', 'betaB', 'samplesPerClass']);
  const spec = getSampler(rule);
  return spec.create(checkLabels(labels), options);
}
