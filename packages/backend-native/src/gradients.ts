import * as tf from '@tensorflow/tfjs-core';

import { fusedKernelNames } from './kernels.js';

// Gradients in tfjs are registered per kernel name for all backends. These overrides take a fused
// native kernel when the active backend is 'native' and the case is supported, and otherwise run
// exactly the ops of tfjs-core 4.22's own gradient (copied below, Apache-2.0), so other backends
// compute what they computed before.

type GradientFunction = tf.GradConfig['gradFunc'];

function onNative(...tensors: Array<tf.Tensor | undefined>): boolean {
  return tf.getBackend() === 'native' && tensors.every((t) => t === undefined || t.dtype === 'float32');
}

// tfjs-core/src/gradients/Relu_grad.ts
const reluGradient: GradientFunction = (dy, saved) => {
  const [x] = saved;
  const gradient = dy as tf.Tensor;
  if (onNative(x, gradient) && x.size === gradient.size) {
    return { x: () => tf.engine().runKernel(fusedKernelNames.reluGrad, { dy: gradient, x }) as tf.Tensor };
  }
  return { x: () => tf.mul(gradient, tf.cast(tf.step(x), 'float32')) };
};

// tfjs-core/src/gradients/Square_grad.ts
const squareGradient: GradientFunction = (dy, saved) => {
  const [x] = saved;
  const gradient = dy as tf.Tensor;
  if (onNative(x, gradient) && x.size === gradient.size) {
    return { x: () => tf.engine().runKernel(fusedKernelNames.squareGrad, { dy: gradient, x }) as tf.Tensor };
  }
  return { x: () => tf.mul(gradient, tf.mul(tf.cast(x, 'float32'), 2)) };
};

// tfjs-core/src/gradients/Mean_grad.ts
const meanGradient: GradientFunction = (dy, saved, attrs) => {
  const [x] = saved;
  const gradient = dy as tf.Tensor;
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  const reduceShape = tf.backend_util.computeOutAndReduceShapes(x.shape, axes)[1];
  const reduceSize = tf.util.sizeFromShape(reduceShape);
  const expandedShape = x.shape.slice();
  for (const axis of axes) expandedShape[axis] = 1;
  if (onNative(gradient)) {
    return {
      x: () =>
        tf.engine().runKernel(
          fusedKernelNames.meanGrad,
          { dy: tf.reshape(gradient, expandedShape) },
          { shape: x.shape, expandedShape, reduceSize } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
    };
  }
  return {
    x: () => tf.div(tf.mul(tf.reshape(gradient, expandedShape), tf.ones(x.shape, 'float32')), reduceSize),
  };
};

// tfjs-core/src/gradients/FusedBatchNorm_grad.ts
const batchNormGradient: GradientFunction = (dy, saved, attrs) => {
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const [x, mean, variance, scale] = saved as Array<tf.Tensor | undefined> as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor?];
  const gradient = dy as tf.Tensor;
  const channels = x.shape[x.shape.length - 1];
  const perChannel = (t: tf.Tensor | undefined) => t === undefined || (t.rank === 1 && t.shape[0] === channels);
  if (
    onNative(x, gradient, mean, variance, scale) &&
    x.rank >= 1 &&
    gradient.size === x.size &&
    perChannel(mean) &&
    perChannel(variance) &&
    perChannel(scale)
  ) {
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
  }
  const scaleValue = scale == null ? tf.scalar(1) : scale;
  const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
  const tileShape: number[] = [];
  if (mean.rank === 1) {
    for (let i = 0; i < x.shape.length - 1; ++i) tileShape.push(x.shape[i]);
    tileShape.push(1);
  }
  const xMinusMean = tf.sub(x, mean);
  const dyTimesScaleValue = tf.mul(gradient, scaleValue);
  const oneOverSqrtVariance = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
  const minusHalfRCube = tf.mul(
    tf.mul(tf.mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance),
    tf.scalar(-0.5),
  );
  const derX = () => {
    if (mean.rank === 1) {
      return tf.reshape(
        tf.mul(tf.mul(gradient, tf.tile(tf.reshape(oneOverSqrtVariance, [1, 1, 1, mean.shape[0]]), tileShape)), scaleValue),
        x.shape,
      );
    }
    return tf.reshape(tf.mul(tf.mul(gradient, oneOverSqrtVariance), scaleValue), x.shape);
  };
  const derMean = () => {
    let meanDer = tf.mul(tf.mul(oneOverSqrtVariance, tf.scalar(-1)), dyTimesScaleValue);
    if (mean.rank === 1) meanDer = tf.sum(meanDer, reductionAxes);
    return tf.reshape(meanDer, mean.shape);
  };
  const derVariance = () => {
    let varianceDer = tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScaleValue);
    if (mean.rank === 1) varianceDer = tf.sum(varianceDer, reductionAxes);
    return tf.reshape(varianceDer, mean.shape);
  };
  const derScale = () => {
    const xMinusMean2TimesRsqrt = tf.mul(xMinusMean, oneOverSqrtVariance);
    let scaleDer = tf.mul(gradient, xMinusMean2TimesRsqrt);
    if (mean.rank === 1) scaleDer = tf.sum(scaleDer, reductionAxes);
    return tf.reshape(scaleDer, mean.shape);
  };
  const derOffset = () => {
    let offsetDer = gradient;
    if (mean.rank === 1) offsetDer = tf.sum(offsetDer, reductionAxes);
    return tf.reshape(offsetDer, mean.shape);
  };
  return { x: derX, mean: derMean, variance: derVariance, scale: derScale, offset: derOffset };
};

let installed = false;

/** Installs the gradient overrides (once per process). */
export function installNativeGradients(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient({ kernelName: tf.Relu, inputsToSave: ['x'], gradFunc: reluGradient });
  tf.registerGradient({ kernelName: tf.Mean, inputsToSave: ['x'], gradFunc: meanGradient });
  tf.registerGradient({ kernelName: tf.Square, inputsToSave: ['x'], gradFunc: squareGradient });
  tf.registerGradient({
    kernelName: tf.FusedBatchNorm,
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: batchNormGradient,
  });
}
