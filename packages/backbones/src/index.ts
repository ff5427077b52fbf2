export {
  addRelu,
  batchNormInference,
  batchNormTraining,
  fusedLayerKernelNames,
  getBatchNormReducer,
  setBatchNormReducer,
  syncBatchNormTraining,
  type BatchNormActivation,
  type BatchNormReducer,
  type BatchNormTrainingResult,
} from './batch-norm.js';
export {
  AddRelu,
  BackboneModel,
  NormedLinear,
  OptionAShortcut,
  TorchBatchNorm,
  TorchConv2D,
  l2Normalize,
  registerBackboneLayers,
  type BaseLayerArgs,
  type NormedLinearArgs,
  type OptionAShortcutArgs,
  type TorchBatchNormArgs,
  type TorchConv2DArgs,
} from './layers.js';
export {
  initializeWeights,
  normedLinearInitialValues,
  type InitializationOptions,
  type InitializationScheme,
} from './initialization.js';
export {
  backbones,
  resnet20,
  resnet32,
  resnet44,
  resnet56,
  resnet110,
  resnet50,
  resnet101,
  resnet152,
  resnext50_32x4d,
  resnext101_32x8d,
  type BackboneFactory,
  type BackboneName,
  type BackboneOptions,
  type HeadKind,
} from './models.js';
export {
  classifierLayer,
  forwardWithFeatures,
  freezeBackbone,
  unfreezeBackbone,
  type FeaturesAndLogits,
  type ForwardOptions,
} from './features.js';
export { fileSystemHandler, loadModel, saveModel } from './file-system-io.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsFile,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsInput,
  type SafetensorsTensor,
} from './safetensors.js';
export {
  exportStateDict,
  loadPyTorchWeights,
  loadStateDict,
  stateDictShapes,
  type ExportedTensor,
  type ExportStateDictOptions,
  type LoadStateDictOptions,
  type LoadStateDictReport,
  type TorchTensor,
} from './state-dict.js';
export { tiny } from './tiny.js';
export {
  registerBackbone,
  getBackbone,
  backboneNames,
  listBackbones,
  BUILTIN_BACKBONES,
  DEFAULT_BACKBONE,
  type BackboneSpec,
} from './registry.js';
