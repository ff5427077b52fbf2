import * as tf from '@tensorflow/tfjs-core';
import {
  FUSED_BATCH_NORM_GRAD_KERNEL,
  fusedBatchNormForwardWasm,
  fusedBatchNormGradApplies,
  fusedBatchNormGradWasm,
} from './batch-norm.js';
import { conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from './convolution.js';
import { WASM_BACKEND_NAME } from './kernel-helpers.js';
import { leadingReductionWasm } from './reductions.js';
import { BROADCAST_SCALE_KERNEL, broadcastLayout, broadcastScaleWasm, shareCastWasm, shareIdentityWasm } from './memory-kernels.js';

/** Kernels this package adds to (or replaces in) the wasm backend. */
export const WASM_TRAINING_KERNELS = [
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  FUSED_BATCH_NORM_GRAD_KERNEL,
  BROADCAST_SCALE_KERNEL,
  'Identity',
  'Cast',
  'Mean',
  'Sum',
] as const;

function isRegisteredByUs(): boolean {
  // The custom kernel name doubles as a marker, so a second copy of this module (ESM and CJS) does not re-register.
  return tf.getKernel(FUSED_BATCH_NORM_GRAD_KERNEL, WASM_BACKEND_NAME) != null;
}

/**
 * Registers the trainable wasm kernels: `Conv2DBackpropFilter` (missing in tfjs-backend-wasm 4.22),
 * a convolution-based `Conv2DBackpropInput` (the stock one is a scalar loop), and a fused batch-norm gradient used
 * by the `FusedBatchNorm` gradient whenever the active backend has that kernel. Idempotent; other backends are
 * untouched (the batch-norm gradient falls back to the stock one for them).
 * Call before or after `tf.setBackend('wasm')`.
 */
export function registerWasmTrainingKernels(): void {
  if (isRegisteredByUs()) return;

  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: WASM_BACKEND_NAME,
    kernelFunc: conv2dBackpropFilterWasm as unknown as tf.KernelFunc,
  });

  const stockBackpropInput = tf.getKernel('Conv2DBackpropInput', WASM_BACKEND_NAME);
  if (stockBackpropInput != null) tf.unregisterKernel('Conv2DBackpropInput', WASM_BACKEND_NAME);
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: WASM_BACKEND_NAME,
    kernelFunc: conv2dBackpropInputWasm as unknown as tf.KernelFunc,
    // Keeps the stock kernel's wasm bindings alive in case something calls it through a saved reference.
    setupFunc: stockBackpropInput?.setupFunc,
  });

  tf.registerKernel({
    kernelName: FUSED_BATCH_NORM_GRAD_KERNEL,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: fusedBatchNormGradWasm as unknown as tf.KernelFunc,
  });

  tf.registerKernel({
    kernelName: BROADCAST_SCALE_KERNEL,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: broadcastScaleWasm as unknown as tf.KernelFunc,
  });

  replaceKernel('Identity', shareIdentityWasm);
  replaceKernel('Cast', shareCastWasm);
  replaceKernel('FusedBatchNorm', fusedBatchNormForwardWasm);
  replaceKernel('Mean', (args, fallback) => leadingReductionWasm(args, fallback, true));
  replaceKernel('Sum', (args, fallback) => leadingReductionWasm(args, fallback, false));

  registerFusedBatchNormGradient();
  registerReductionGradient('Mean', true);
  registerReductionGradient('Sum', false);
}

/** Swaps a stock wasm kernel for one that may delegate back to it. */
function replaceKernel(
  kernelName: string,
  implementation: (args: Parameters<tf.KernelFunc>[0], fallback: tf.KernelFunc) => tf.TensorInfo,
): void {
  const stock = tf.getKernel(kernelName, WASM_BACKEND_NAME);
  if (stock == null) return;
  tf.unregisterKernel(kernelName, WASM_BACKEND_NAME);
  tf.registerKernel({
    kernelName,
    backendName: WASM_BACKEND_NAME,
    kernelFunc: (args) => implementation(args, stock.kernelFunc),
    setupFunc: stock.setupFunc,
    disposeFunc: stock.disposeFunc,
  });
}

/**
 * Mean and Sum gradients as one broadcast (`dy / count` or `dy` repeated over the reduced axes) when the active
 * backend has the broadcast kernel and the reduced axes are all leading or all trailing; otherwise the previously
 * registered gradient (which materialises `ones(x.shape)` in JavaScript and multiplies).
 */
function registerReductionGradient(kernelName: 'Mean' | 'Sum', divideByCount: boolean): void {
  const previous = tf.getGradient(kernelName);
  if (previous == null) return;
  tf.registerGradient({
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const gradientTensor = Array.isArray(dy) ? dy[0] : dy;
      const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
      const expandedShape = x.shape.slice();
      for (const axis of axes) expandedShape[axis] = 1;
      if (
        tf.getKernel(BROADCAST_SCALE_KERNEL, tf.getBackend()) == null ||
        gradientTensor.dtype !== 'float32' ||
        broadcastLayout(expandedShape, x.shape) == null
      ) {
        return previous.gradFunc(dy, saved, attrs);
      }
      let count = 1;
      for (const axis of axes) count *= x.shape[axis];
      return {
        x: () =>
          tf.tidy(() =>
            tf
              .engine()
              .runKernel(
                BROADCAST_SCALE_KERNEL,
                { x: tf.reshape(gradientTensor, expandedShape) },
                { shape: x.shape, scale: divideByCount ? 1 / count : 1 },
              ) as tf.Tensor,
          ),
      };
    },
  });
}

/**
 * Wraps the registered `FusedBatchNorm` gradient: when the active backend has the fused gradient kernel, one kernel
 * computes all five gradients; otherwise the previously registered gradient runs unchanged.
 */
function registerFusedBatchNormGradient(): void {
  const previous = tf.getGradient('FusedBatchNorm');
  if (previous == null) return;
  tf.registerGradient({
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
      const backendName = tf.getBackend();
      const gradientTensor = Array.isArray(dy) ? dy[0] : dy;
      if (
        tf.getKernel(FUSED_BATCH_NORM_GRAD_KERNEL, backendName) == null ||
        !fusedBatchNormGradApplies(x, mean, variance, scale)
      ) {
        return previous.gradFunc(dy, saved, attrs);
      }
      const inputs: tf.NamedTensorMap = { x, mean, variance, dy: gradientTensor };
      if (scale != null) inputs.scale = scale;
      const [dx, dMean, dVariance, dScale, dOffset] = tf
        .engine()
        .runKernel(FUSED_BATCH_NORM_GRAD_KERNEL, inputs, attrs as tf.NamedAttrMap) as tf.Tensor[];
      return {
        x: () => dx,
        mean: () => tf.reshape(dMean, mean.shape),
        variance: () => tf.reshape(dVariance, variance.shape),
        scale: () => (scale == null ? tf.zeros([]) : tf.reshape(dScale, scale.shape)),
        offset: () => tf.reshape(dOffset, mean.shape),
      };
    },
  });
}
