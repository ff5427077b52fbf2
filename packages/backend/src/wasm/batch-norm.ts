import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, heapFloat32, reshapeWasm, runWasmKernel, sizeOf, type TensorInfo } from './kernel-helpers.js';

/** Name of the fused batch-norm gradient kernel registered for the wasm backend. */
export const FUSED_BATCH_NORM_GRAD_KERNEL = 'LongtailFusedBatchNormGrad';

/** True when the fused gradient applies: float32, statistics over every axis but the last. */
export function fusedBatchNormGradApplies(
  x: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  scale: tf.Tensor | undefined,
): boolean {
  const channels = x.shape[x.shape.length - 1];
  const perChannel = (tensor: tf.Tensor | undefined): boolean =>
    tensor == null ||
    (tensor.size === channels && tensor.shape.slice(0, -1).every((dimension) => dimension === 1));
  return (
    x.dtype === 'float32' &&
    x.rank >= 2 &&
    perChannel(mean) &&
    perChannel(variance) &&
    perChannel(scale) &&
    (scale == null || scale.shape[scale.shape.length - 1] === channels)
  );
}

/** Per-channel sum over every axis but the last, through the wasm Sum kernel (pooling-based, see reductions.ts). */
function channelSum(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const axes = x.shape.slice(0, -1).map((_, axis) => axis);
  return runWasmKernel(backend, 'Sum', { x }, { axis: axes, keepDims: false });
}

/**
 * All five gradients of `y = (x − mean) · scale / sqrt(variance + ε) + offset` (statistics per last-axis channel)
 * in one kernel, replacing the ~20 element-wise ops and the slow wasm Tile of the generic gradient.
 * With `r = 1 / sqrt(variance + ε)`, `S0 = Σ dy`, `S1 = Σ dy · (x − mean)` per channel:
 * `dx = dy · scale · r`, `dmean = −scale · r · S0`, `dvariance = −½ · scale · r³ · S1`, `dscale = r · S1`,
 * `doffset = S0`. Full-size work is three SIMD element-wise ops and two pooling reductions; only per-channel
 * arithmetic runs in JavaScript.
 */
export function fusedBatchNormGradWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const { x, mean, variance, scale, dy } = args.inputs as Record<string, TensorInfo | undefined>;
  if (x == null || mean == null || variance == null || dy == null) {
    throw new Error('inputs: x, mean, variance and dy are required');
  }
  const varianceEpsilon = Number((args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 0.001);
  const channels = x.shape[x.shape.length - 1];
  const meanVector = reshapeWasm(backend, mean, [channels]);
  const centered = runWasmKernel(backend, 'Sub', { a: x, b: meanVector });
  disposeIntermediates(backend, meanVector);
  const product = runWasmKernel(backend, 'Multiply', { a: dy, b: centered });
  disposeIntermediates(backend, centered);
  const sumDyCenteredInfo = channelSum(backend, product);
  disposeIntermediates(backend, product);
  const sumDyInfo = channelSum(backend, dy);

  const inputScale = backend.makeOutput([channels], 'float32');
  const dMean = backend.makeOutput([channels], 'float32');
  const dVariance = backend.makeOutput([channels], 'float32');
  const dScale = backend.makeOutput([channels], 'float32');
  const dOffset = backend.makeOutput([channels], 'float32');
  const varianceValues = heapFloat32(backend, variance);
  const scaleValues = scale == null ? null : heapFloat32(backend, scale);
  const sumDy = heapFloat32(backend, sumDyInfo);
  const sumDyCentered = heapFloat32(backend, sumDyCenteredInfo);
  const inputScaleValues = heapFloat32(backend, inputScale);
  const dMeanValues = heapFloat32(backend, dMean);
  const dVarianceValues = heapFloat32(backend, dVariance);
  const dScaleValues = heapFloat32(backend, dScale);
  const dOffsetValues = heapFloat32(backend, dOffset);
  for (let channel = 0; channel < channels; channel += 1) {
    const reciprocalStd = 1 / Math.sqrt(varianceValues[channel] + varianceEpsilon);
    const gamma = scaleValues == null ? 1 : scaleValues[channel];
    inputScaleValues[channel] = gamma * reciprocalStd;
    dMeanValues[channel] = -gamma * reciprocalStd * sumDy[channel];
    dVarianceValues[channel] = -0.5 * gamma * reciprocalStd * reciprocalStd * reciprocalStd * sumDyCentered[channel];
    dScaleValues[channel] = reciprocalStd * sumDyCentered[channel];
    dOffsetValues[channel] = sumDy[channel];
  }
  disposeIntermediates(backend, sumDyInfo, sumDyCenteredInfo);
  const dx = runWasmKernel(backend, 'Multiply', { a: dy, b: inputScale });
  disposeIntermediates(backend, inputScale);
  return [dx, dMean, dVariance, dScale, dOffset];
}

/**
 * Training-mode batch norm forward as one XNNPACK 1×1 depthwise convolution with bias:
 * `y = x · k + (offset − mean · k)`, `k = scale / sqrt(variance + ε)`. Falls back to the stock kernel for
 * non-4-D input.
 */
export function fusedBatchNormForwardWasm(
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap },
  fallback: tf.KernelFunc,
): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, mean, variance, scale, offset } = args.inputs as Record<string, TensorInfo | undefined>;
  const channels = x?.shape[x.shape.length - 1] ?? 0;
  const perChannel = (info: TensorInfo | undefined) => info == null || sizeOf(info.shape) === channels;
  if (
    x == null || mean == null || variance == null || x.shape.length !== 4 || x.dtype !== 'float32' ||
    sizeOf(mean.shape) !== channels || sizeOf(variance.shape) !== channels || !perChannel(scale) || !perChannel(offset)
  ) {
    return fallback(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const varianceEpsilon = Number((args.attrs as { varianceEpsilon?: number } | undefined)?.varianceEpsilon ?? 0.001);
  const filter = backend.makeOutput([1, 1, channels, 1], 'float32');
  const bias = backend.makeOutput([channels], 'float32');
  const meanValues = heapFloat32(backend, mean);
  const varianceValues = heapFloat32(backend, variance);
  const scaleValues = scale == null ? null : heapFloat32(backend, scale);
  const offsetValues = offset == null ? null : heapFloat32(backend, offset);
  const filterValues = heapFloat32(backend, filter);
  const biasValues = heapFloat32(backend, bias);
  for (let channel = 0; channel < channels; channel += 1) {
    const factor = (scaleValues == null ? 1 : scaleValues[channel]) / Math.sqrt(varianceValues[channel] + varianceEpsilon);
    filterValues[channel] = factor;
    biasValues[channel] = (offsetValues == null ? 0 : offsetValues[channel]) - meanValues[channel] * factor;
  }
  const output = runWasmKernel(
    backend,
    'FusedDepthwiseConv2D',
    { x, filter, bias },
    { strides: [1, 1], pad: 'valid', dilations: [1, 1], dataFormat: 'NHWC', dimRoundingMode: undefined, activation: 'linear' },
  );
  disposeIntermediates(backend, filter, bias);
  return output;
}
