export {
  BACKEND_NAMES,
  defaultBackendCandidates,
  isHostMemoryBackend,
  selectBackend,
  summarizeAttempts,
  type BackendAttempt,
  type BackendCandidate,
  type BackendLoader,
  type BackendName,
  type BackendSelection,
  type LoadedBackend,
  type SelectBackendOptions,
} from './select-backend.js';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './wasm/register.js';
export {
  describeAdapter,
  formatAdapter,
  setUpWebGpuBackend,
  swiftShaderIcdPath,
  vulkanDriverInstalled,
  type WebGpuAdapterSummary,
  type WebGpuSetup,
  type WebGpuSetupOptions,
} from './webgpu/setup.js';
export { registerWebGpuTrainingKernels, WEBGPU_TRAINING_KERNELS } from './webgpu/register.js';
export { installedWasmPath, setUpWasmBackend, type WasmSetup } from './wasm/setup.js';
export { conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from './wasm/convolution.js';
export { FUSED_BATCH_NORM_GRAD_KERNEL } from './wasm/batch-norm.js';
export { BROADCAST_SCALE_KERNEL } from './wasm/memory-kernels.js';
