export { SeededRandom } from './random.js';
export { classCounts } from './class-counts.js';
export {
  balancedWeights,
  effectiveNumberWeights,
  classBasedEffectiveNumberWeights,
  normalizeWeights,
  type ClassBasedEffectiveNumberOptions,
} from './weights.js';
export {
  ShuffleSampler,
  WeightedClassSampler,
  ClassAwareSampler,
  type IndexSampler,
  type SamplerState,
  type WeightedClassSamplerOptions,
  type ClassAwareSamplerOptions,
} from './samplers.js';
export { createSampler, type SamplerRule, type CreateSamplerOptions } from './create-sampler.js';
export {
  registerSampler,
  registerWeightRule,
  getSampler,
  getWeightRule,
  samplerNames,
  weightRuleNames,
  weightingNames,
  listSamplers,
  listWeightRules,
  weightedSampler,
  classWeights,
  NO_WEIGHTING,
  BUILTIN_SAMPLERS,
  BUILTIN_WEIGHT_RULES,
  DEFAULT_SAMPLERS,
  DEFAULT_DRW_WEIGHTING,
  type SamplerSpec,
  type WeightRuleSpec,
  type WeightRuleOptions,
} from './registry.js';
