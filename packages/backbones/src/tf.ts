// The tfjs namespace this package uses: tfjs-core (tensors, ops, io, serialization) and tfjs-layers (layers, models,
// initializers), together as `@tensorflow/tfjs` re-exports them, but without the converter, the data API and the
// webgl backend. Both are peer dependencies, so the application's single copy is used. The tfjs-layers names are
// listed one by one: with two `export *` the bundled declarations (tsup's dts) would import them from tfjs-core.
export * from '@tensorflow/tfjs-core';
export {
  constraints,
  initializers,
  input,
  InputSpec,
  LayersModel,
  LayerVariable,
  layers,
  loadLayersModel,
  metrics,
  model,
  models,
  regularizers,
  Sequential,
  sequential,
  SymbolicTensor,
  version_layers,
} from '@tensorflow/tfjs-layers';
export type { Shape } from '@tensorflow/tfjs-layers';
