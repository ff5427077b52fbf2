import type * as tf from '@tensorflow/tfjs-core';
import {
  asWebGpuBackend,
  batchNormAttributes,
  ChannelElementwiseProgram,
  ChannelReduceProgram,
  channelLayout,
  requireVector,
  runChannelProgram,
  upstreamGradient,
  type TensorInfo,
  type WebGpuKernelArgs,
} from './program-helpers.js';

/** Kernel name (see `fusedLayerKernelNames.backward` in @longtail/backbones). */
export const BATCH_NORM_TRAINING_GRAD_KERNEL = 'LongtailBatchNormTrainingGrad';

/**
 * `LongtailBatchNormTrainingGrad` on webgpu: inputs `{ dy, x, scale, mean, variance }` and, for `'relu'`, `y`;
 * attributes `{ varianceEpsilon, activation }`; outputs `[dx, dScale, dOffset]`. With `g = dy · [y > 0]` (ReLU) or
 * `dy`, `r = 1/√(variance + ε)`, `x̂ = (x − mean)·r` and `n` values per channel:
 * `dOffset = Σ g`, `dScale = Σ g·x̂`, `dx = scale·r/n·(n·g − Σ g − x̂·Σ g·x̂)`.
 * Four dispatches (two per-channel reductions, the per-channel coefficients of dx, one element-wise pass) instead of
 * about twenty tfjs ops.
 */
export function batchNormTrainingGradWebGpu(args: WebGpuKernelArgs): TensorInfo[] {
  const backend = asWebGpuBackend(args.backend);
  const { dy, x, scale, mean, variance, y } = args.inputs as Record<string, TensorInfo | undefined>;
  if (x == null || dy == null) throw new Error(`${BATCH_NORM_TRAINING_GRAD_KERNEL}: inputs dy and x are required`);
  const layout = channelLayout(x, BATCH_NORM_TRAINING_GRAD_KERNEL);
  if (dy.shape.join() !== x.shape.join()) {
    throw new Error(`${BATCH_NORM_TRAINING_GRAD_KERNEL}: dy [${dy.shape}] must have the shape of x [${x.shape}]`);
  }
  const { relu, epsilon } = batchNormAttributes(args.attrs as tf.NamedAttrMap | undefined);
  if (relu && (y == null || y.shape.join() !== x.shape.join())) {
    throw new Error(`${BATCH_NORM_TRAINING_GRAD_KERNEL}: activation 'relu' needs the forward output y of x's shape`);
  }
  const gamma = requireVector(scale, layout.channels, 'scale', BATCH_NORM_TRAINING_GRAD_KERNEL);
  const batchMean = requireVector(mean, layout.channels, 'mean', BATCH_NORM_TRAINING_GRAD_KERNEL);
  const batchVariance = requireVector(variance, layout.channels, 'variance', BATCH_NORM_TRAINING_GRAD_KERNEL);
  const activation = relu ? 'relu' : 'linear';
  const gradient = upstreamGradient(relu);
  const withY = (names: string[], tensors: TensorInfo[]): [string[], TensorInfo[]] =>
    relu ? [[...names, 'y'], [...tensors, y!]] : [names, tensors];

  const [offsetNames, offsetInputs] = withY(['dy'], [dy]);
  const dOffset = runChannelProgram(
    backend,
    new ChannelReduceProgram(layout.channels, offsetNames, `sumGradient_${activation}`, gradient, 'total'),
    offsetInputs,
    layout,
    epsilon,
  );
  const [scaleNames, scaleInputs] = withY(['dy', 'x', 'mean', 'variance'], [dy, x, batchMean, batchVariance]);
  const dScale = runChannelProgram(
    backend,
    new ChannelReduceProgram(
      layout.channels,
      scaleNames,
      `sumGradientNormalized_${activation}`,
      `${gradient} * (x[index] - mean[channel])`,
      'total * inverseSqrt(variance[channel] + uniforms.varianceEpsilon)',
    ),
    scaleInputs,
    layout,
    epsilon,
  );
  // dx = A·g + B + D·(x − mean) with A = scale·r, B = −scale·r·Σg/n, D = −scale·r²·Σg·x̂/n: the per-channel
  // coefficients go into one [4, channels] tensor (A, B, D, mean), so that the element-wise pass binds four
  // buffers (WebGPU's default limit is eight storage buffers per stage).
  const coefficients = runChannelProgram(
    backend,
    new ChannelElementwiseProgram(
      [4, layout.channels],
      ['scale', 'mean', 'variance', 'sumGradient', 'sumGradientNormalized'],
      'batchNormTrainingGradCoefficients',
      `let row = index / uniforms.channels;
          let inverse = inverseSqrt(variance[channel] + uniforms.varianceEpsilon);
          let scaled = scale[channel] * inverse;
          let count = f32(uniforms.rows);
          var value = mean[channel];
          if (row == 0) {
            value = scaled;
          } else if (row == 1) {
            value = -scaled * sumGradient[channel] / count;
          } else if (row == 2) {
            value = -scaled * inverse * sumGradientNormalized[channel] / count;
          }
          setOutputAtIndex(index, value);`,
    ),
    [gamma, batchMean, batchVariance, dOffset, dScale],
    layout,
    epsilon,
  );
  const [dxNames, dxInputs] = withY(['dy', 'x', 'coefficients'], [dy, x, coefficients]);
  const dx = runChannelProgram(
    backend,
    new ChannelElementwiseProgram(
      x.shape.slice(),
      dxNames,
      `batchNormTrainingGrad_${activation}`,
      `let channels = uniforms.channels;
          let g = ${gradient};
          setOutputAtIndex(index, coefficients[channel] * g + coefficients[channels + channel] +
            coefficients[2 * channels + channel] * (x[index] - coefficients[3 * channels + channel]));`,
    ),
    dxInputs,
    layout,
    epsilon,
  );
  backend.disposeData(coefficients.dataId);
  return [dx, dScale, dOffset];
}
