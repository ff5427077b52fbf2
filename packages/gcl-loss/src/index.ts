export { cloudSizes, relativeCloudSizes } from './cloud-sizes';
export { gclLoss, GCLLoss, type GclOptions } from './gcl';
export { gclAngularLoss, GCLAngularLoss, type GclAngularOptions } from './gcl-angular';
export { sampleCloudNoise, CloudNoiseStream, SelfNoisedLoss, CLOUD_NOISE_STD } from './noise';
export { crossEntropy, type CrossEntropyOptions } from './cross-entropy';
export { focalLoss, type FocalOptions } from './focal';
export { ldamLoss, ldamMargins, type LdamOptions } from './ldam';
export { logitAdjustedLoss, logPriors, type LogitAdjustedOptions } from './logit-adjusted';
export { balancedSoftmaxLoss, type BalancedSoftmaxOptions } from './balanced-softmax';
export { stopGradient, perSampleCrossEntropy } from './reductions';
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
} from './registry';
export { BUILTIN_LOSSES, DEFAULT_LOSS } from './builtin-losses';
