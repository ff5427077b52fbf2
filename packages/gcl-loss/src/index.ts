export { cloudSizes, relativeCloudSizes } from './cloud-sizes.js';
export { gclLoss, GCLLoss, type GclOptions } from './gcl.js';
export { gclAngularLoss, GCLAngularLoss, type GclAngularOptions } from './gcl-angular.js';
export { sampleCloudNoise, CloudNoiseStream, SelfNoisedLoss, CLOUD_NOISE_STD } from './noise.js';
export { crossEntropy, type CrossEntropyOptions } from './cross-entropy.js';
export { focalLoss, type FocalOptions } from './focal.js';
export { ldamLoss, ldamMargins, type LdamOptions } from './ldam.js';
export { logitAdjustedLoss, logPriors, type LogitAdjustedOptions } from './logit-adjusted.js';
export { balancedSoftmaxLoss, type BalancedSoftmaxOptions } from './balanced-softmax.js';
export { stopGradient, perSampleCrossEntropy } from './reductions.js';
export {
  registerLoss,
  getLoss,
  lossNames,
  listLosses,
  lossOptionsFor,
  lossDefaultsFor,
  type LossSpec,
  type LossContext,
  type LossFunction,
  type LossInputs,
  type LossOptionSchema,
  type LossOptionValues,
  type LossHead,
  type Stage,
} from './registry.js';
export { BUILTIN_LOSSES, DEFAULT_LOSS } from './builtin-losses.js';
