import * as tf from '@tensorflow/tfjs-core';
import { ADD_RELU_KERNEL, addReluWebGpu } from './add-relu.js';
import { BATCH_NORM_TRAINING_GRAD_KERNEL, batchNormTrainingGradWebGpu } from './batch-norm-training-grad.js';
import { BATCH_NORM_TRAINING_KERNEL, batchNormTrainingWebGpu } from './batch-norm-training.js';
import { WEBGPU_BACKEND_NAME } from './program-helpers.js';

/** Kernels this package adds to the webgpu backend (the fused layer kernels of @longtail/backbones). */
export const WEBGPU_TRAINING_KERNELS = [BATCH_NORM_TRAINING_KERNEL, BATCH_NORM_TRAINING_GRAD_KERNEL, ADD_RELU_KERNEL] as const;

/**
 * Registers WGSL kernels for `LongtailBatchNormTraining`, `LongtailBatchNormTrainingGrad` and `LongtailAddRelu` on
 * the webgpu backend, so that @longtail/backbones' `batchNormTraining` and `addRelu` run one fused kernel (three
 * dispatches forward and four backward for batch norm, one for addRelu) instead of their composites of tfjs ops.
 * Idempotent; other backends are untouched. Call before or after `tf.setBackend('webgpu')`.
 */
export function registerWebGpuTrainingKernels(): void {
  const kernels: Array<[string, tf.KernelFunc]> = [
    [BATCH_NORM_TRAINING_KERNEL, batchNormTrainingWebGpu as unknown as tf.KernelFunc],
    [BATCH_NORM_TRAINING_GRAD_KERNEL, batchNormTrainingGradWebGpu as unknown as tf.KernelFunc],
    [ADD_RELU_KERNEL, addReluWebGpu as unknown as tf.KernelFunc],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    if (tf.getKernel(kernelName, WEBGPU_BACKEND_NAME) == null) {
      tf.registerKernel({ kernelName, backendName: WEBGPU_BACKEND_NAME, kernelFunc });
    }
  }
}
