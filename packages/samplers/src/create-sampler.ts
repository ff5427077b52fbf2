import { classCounts } from './class-counts';
import { ClassAwareSampler, type IndexSampler, ShuffleSampler, WeightedClassSampler } from './samplers';
import { checkLabels, rejectUnknownOptions } from './validation';
import { balancedWeights, classBasedEffectiveNumberWeights, effectiveNumberWeights } from './weights';

/** The sampling rules of the GCL code base. */
export type SamplerRule = 'none' | 'balanced' | 'effective-number' | 'class-based-effective-number' | 'class-aware';

export const SAMPLER_RULES: readonly SamplerRule[] = [
  'none',
  'balanced',
  'effective-number',
  'class-based-effective-number',
  'class-aware',
];

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
 * - `'class-aware'`: the class-aware cycle.
 */
export function createSampler(rule: SamplerRule, labels: ArrayLike<number>, options: CreateSamplerOptions): IndexSampler {
  rejectUnknownOptions(options, ['seed', 'numSamples', 'beta', 'betaA', 'betaB', 'samplesPerClass']);
  const values = checkLabels(labels);
  const { seed, numSamples } = options;
  switch (rule) {
    case 'none':
      return new ShuffleSampler({ length: values.length, seed });
    case 'class-aware':
      return new ClassAwareSampler({ labels: values, seed, samplesPerClass: options.samplesPerClass });
    case 'balanced':
    case 'effective-number':
    case 'class-based-effective-number': {
      const counts = classCounts(values);
      const present = counts.filter((n) => n > 0);
      const presentWeights =
        rule === 'balanced'
          ? balancedWeights(present)
          : rule === 'effective-number'
            ? effectiveNumberWeights(present, options.beta)
            : classBasedEffectiveNumberWeights(present, { betaA: options.betaA, betaB: options.betaB });
      let k = 0;
      const classWeights = counts.map((n) => (n > 0 ? presentWeights[k++] : 0));
      return new WeightedClassSampler({ labels: values, classWeights, numSamples, seed });
    }
    default:
      throw new RangeError(`rule must be one of ${SAMPLER_RULES.map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(rule)}`);
  }
}
