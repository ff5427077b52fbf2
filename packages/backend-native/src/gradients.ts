import * as tf from '@tensorflow/tfjs-core';

import { fusedKernelNames } from './kernels.js';

// Gradients in tfjs are registered per kernel name for all backends. Each override here wraps the gradient that was
// registered before it (tfjs' own, or another package's wrapper such as @longtail/backend's wasm path): it takes a
// fused native kernel when the active backend is 'native' and the case is supported, and otherwise calls the previous
// gradient unchanged, so other backends compute exactly what they computed before.

type GradientFunction = tf.GradConfig['gradFunc'];

function onNative(...tensors: Array<tf.Tensor | undefined>): boolean {
  return tf.getBackend() === 'native' && tensors.every((t) => t === undefined || t.dtype === 'float32');
}

const reluGradient = (previous: GradientFunction): GradientFunction => (dy, saved, attrs) => {
  const [x] = saved;
  const gradient = dy as tf.Tensor;
  if (onNative(x, gradient) && x.size === gradient.size) {
    return { x: () => tf.engine().runKernel(fusedKernelNames.reluGrad, { dy: gradient, x }) as tf.Tensor };
  }
  return previous(dy, saved, attrs);
};

const squareGradient = (previous: GradientFunction): GradientFunction => (dy, saved, attrs) => {
  const [x] = saved;
  const gradient = dy as tf.Tensor;
  if (onNative(x, gradient) && x.size === gradient.size) {
    return { x: () => tf.engine().runKernel(fusedKernelNames.squareGrad, { dy: gradient, x }) as tf.Tensor };
  }
  return previous(dy, saved, attrs);
};

const meanGradient = (previous: GradientFunction): GradientFunction => (dy, saved, attrs) => {
  const [x] = saved;
  const gradient = dy as tf.Tensor;
  if (!onNative(gradient)) return previous(dy, saved, attrs);
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const reduceShape = tf.backend_util.computeOutAndReduceShapes(x.shape, axes)[1];
  const reduceSize = tf.util.sizeFromShape(reduceShape);
  const expandedShape = x.shape.slice();
  for (const axis of axes) expandedShape[axis] = 1;
  return {
    x: () =>
      tf.engine().runKernel(
        fusedKernelNames.meanGrad,
        { dy: tf.reshape(gradient, expandedShape) },
        { shape: x.shape, expandedShape, reduceSize } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor,
  };
};

const batchNormGradient = (previous: GradientFunction): GradientFunction => (dy, saved, attrs) => {
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const [x, mean, variance, scale] = saved as Array<tf.Tensor | undefined> as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor?];
  const gradient = dy as tf.Tensor;
  const channels = x.shape[x.shape.length - 1];
  const perChannel = (t: tf.Tensor | undefined) => t === undefined || (t.rank === 1 && t.shape[0] === channels);
  if (
    !onNative(x, gradient, mean, variance, scale) ||
    x.rank < 1 ||
    gradient.size !== x.size ||
    !perChannel(mean) ||
    !perChannel(variance) ||
    !perChannel(scale)
  ) {
    return previous(dy, saved, attrs);
  }
  const inputs: tf.NamedTensorMap = { x, dy: gradient, mean, variance };
  if (scale) inputs.scale = scale;
  const [dx, dMean, dVariance, dScale, dOffset] = tf
    .engine()
    .runKernel(fusedKernelNames.batchNormGrad, inputs, { varianceEpsilon }) as tf.Tensor[];
  return {
    x: () => dx,
    mean: () => dMean,
    variance: () => dVariance,
    scale: () => dScale,
    offset: () => dOffset,
  };
};

let installed = false;

/**
 * Wraps the Relu, Mean, Square and FusedBatchNorm gradients (once per process). A kernel without a registered
 * gradient (tfjs' gradients not loaded) is left alone.
 */
export function installNativeGradients(): void {
  if (installed) return;
  installed = true;
  const wrappers: Array<[string, (previous: GradientFunction) => GradientFunction]> = [
    [tf.Relu, reluGradient],
    [tf.Mean, meanGradient],
    [tf.Square, squareGradient],
    [tf.FusedBatchNorm, batchNormGradient],
  ];
  for (const [kernelName, wrap] of wrappers) {
    const previous = tf.getGradient(kernelName);
    if (previous == null) continue;
    tf.registerGradient({ ...previous, kernelName, gradFunc: wrap(previous.gradFunc) });
  }
}
