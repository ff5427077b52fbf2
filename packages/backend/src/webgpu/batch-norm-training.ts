import type * as tf from '@tensorflow/tfjs-core';
import {
  asWebGpuBackend,
  batchNormAttributes,
  ChannelElementwiseProgram,
  ChannelReduceProgram,
  channelLayout,
  reluSnippet,
  requireVector,
  runChannelProgram,
  type TensorInfo,
  type WebGpuKernelArgs,
} from './program-helpers.js';

/** Kernel name (see `fusedLayerKernelNames.forward` in @longtail/backbones). */
export const BATCH_NORM_TRAINING_KERNEL = 'LongtailBatchNormTraining';

/**
 * `LongtailBatchNormTraining` on webgpu: inputs `{ x, scale, offset }`, attributes `{ varianceEpsilon, activation }`;
 * outputs `[y, mean, variance]` with the batch mean and the biased batch variance over all axes but the last, and
 * `y = act((x − mean)/√(variance + ε)·scale + offset)`. Three dispatches: the per-channel mean, the per-channel
 * variance around it (two passes, as tf.moments, so no cancellation), and the normalisation — instead of tf.moments'
 * reductions plus tf.batchNorm and tf.relu.
 */
export function batchNormTrainingWebGpu(args: WebGpuKernelArgs): TensorInfo[] {
  const backend = asWebGpuBackend(args.backend);
  const { x, scale, offset } = args.inputs as Record<string, TensorInfo | undefined>;
  if (x == null) throw new Error(`${BATCH_NORM_TRAINING_KERNEL}: input x is required`);
  const layout = channelLayout(x, BATCH_NORM_TRAINING_KERNEL);
  const { relu, epsilon } = batchNormAttributes(args.attrs as tf.NamedAttrMap | undefined);
  const gamma = requireVector(scale, layout.channels, 'scale', BATCH_NORM_TRAINING_KERNEL);
  const beta = requireVector(offset, layout.channels, 'offset', BATCH_NORM_TRAINING_KERNEL);

  const mean = runChannelProgram(
    backend,
    new ChannelReduceProgram(layout.channels, ['x'], 'mean', 'x[index]', 'total / f32(uniforms.rows)'),
    [x],
    layout,
    epsilon,
  );
  const variance = runChannelProgram(
    backend,
    new ChannelReduceProgram(
      layout.channels,
      ['x', 'mean'],
      'variance',
      '(x[index] - mean[channel]) * (x[index] - mean[channel])',
      'total / f32(uniforms.rows)',
    ),
    [x, mean],
    layout,
    epsilon,
  );
  const y = runChannelProgram(
    backend,
    new ChannelElementwiseProgram(
      x.shape.slice(),
      ['x', 'mean', 'variance', 'scale', 'offset'],
      `batchNormTraining_${relu ? 'relu' : 'linear'}`,
      `var value = (x[index] - mean[channel]) * inverseSqrt(variance[channel] + uniforms.varianceEpsilon) * scale[channel] + offset[channel];
          ${relu ? reluSnippet('value') : ''}
          setOutputAtIndex(index, value);`,
    ),
    [x, mean, variance, gamma, beta],
    layout,
    epsilon,
  );
  return [y, mean, variance];
}
