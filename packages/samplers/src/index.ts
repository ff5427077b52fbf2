export { SeededRandom } from './random';
export { classCounts } from './class-counts';
export {
  balancedWeights,
  effectiveNumberWeights,
  classBasedEffectiveNumberWeights,
  normalizeWeights,
  type ClassBasedEffectiveNumberOptions,
} from './weights';
export {
  ShuffleSampler,
  WeightedClassSampler,
  ClassAwareSampler,
  type IndexSampler,
  type SamplerState,
  type WeightedClassSamplerOptions,
  type ClassAwareSamplerOptions,
} from './samplers';
export { createSampler, SAMPLER_RULES, type SamplerRule, type CreateSamplerOptions } from './create-sampler';
