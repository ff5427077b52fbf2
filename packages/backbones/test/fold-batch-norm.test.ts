// Inference-mode batch norm folded into the convolution before it (TorchConv2D.foldInferenceNorm): the folded model
// computes what the unfolded layers compute (checked against plain tfjs ops, and against PyTorch in cifar.test.ts and
// imagenet.test.ts), the folding really happens (kernel names), and training mode is untouched.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TorchBatchNorm, TorchConv2D, resnet32 } from '../src/index.js';
import { expectRelativelyClose } from './helpers/common.js';
import { formulaTensor } from './helpers/formula.js';
import { loadFormulaWeights } from './helpers/models.js';

interface Pair {
  convolution: TorchConv2D;
  norm: TorchBatchNorm;
  model: tf.LayersModel;
}

/** input → conv → bn(activation), with non-trivial weights and running statistics. */
function pair(options: { strides: number; groups: number; activation: 'linear' | 'relu'; fold: boolean; tag: string }): Pair {
  const input = tf.input({ shape: [9, 9, 4] });
  const convolution = new TorchConv2D({ filters: 6, kernelSize: 3, strides: options.strides, padding: 1, groups: options.groups });
  const norm = new TorchBatchNorm({ activation: options.activation });
  const output = norm.apply(convolution.apply(input)) as tf.SymbolicTensor;
  if (options.fold) convolution.foldInferenceNorm(norm);
  const model = tf.model({ inputs: input, outputs: output });
  const [kernel] = convolution.getWeights();
  convolution.setWeights([tf.tensor(formulaTensor(`${options.tag}.kernel`, kernel.shape), kernel.shape)]);
  norm.setWeights([
    tf.tensor1d(formulaTensor(`${options.tag}.gamma`, [6]).map((u) => 0.5 + Math.abs(u))),
    tf.tensor1d(formulaTensor(`${options.tag}.beta`, [6])),
    tf.tensor1d(formulaTensor(`${options.tag}.mean`, [6]).map((u) => 3 * u)),
    tf.tensor1d(formulaTensor(`${options.tag}.var`, [6]).map((u) => 0.2 + Math.abs(u))),
  ]);
  return { convolution, norm, model };
}

/** act((conv(x, W) − μ)/√(σ² + ε)·γ + β) in plain tfjs ops, one group at a time. */
function reference(x: tf.Tensor4D, { convolution, norm }: Pair, groups: number, strides: number, w?: tf.Tensor4D): tf.Tensor {
  const kernel = w ?? (convolution.getWeights()[0] as tf.Tensor4D);
  const [gamma, beta, mean, variance] = norm.getWeights() as tf.Tensor1D[];
  const convolve = (part: tf.Tensor4D, w: tf.Tensor4D) => tf.conv2d(part, w, strides, 1, 'NHWC', 1, 'floor');
  // (tfjs' split gradient fails for a single part: split only when there are groups.)
  const convolved =
    groups === 1
      ? convolve(x, kernel)
      : tf.concat(tf.split(x, groups, 3).map((part, index) => convolve(part as tf.Tensor4D, tf.split(kernel, groups, 3)[index] as tf.Tensor4D)), 3);
  const normalised = tf.add(tf.mul(tf.div(tf.sub(convolved, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta);
  return norm.activation === 'relu' ? tf.relu(normalised) : normalised;
}

describe('batch norm folded into the convolution in inference mode', () => {
  it.each([
    [1, 1, 'relu'],
    [2, 1, 'linear'],
    [1, 2, 'relu'],
    [2, 2, 'linear'],
  ] as Array<[number, number, 'linear' | 'relu']>)(
    'stride %i, %i group(s), %s: equals conv → batch norm in plain ops (≤ 1e-5 relative); unlinked layers too',
    (strides, groups, activation) => {
      const x = tf.tensor4d(formulaTensor(`fold.x.${strides}.${groups}`, [2, 9, 9, 4]), [2, 9, 9, 4]);
      for (const fold of [true, false]) {
        const built = pair({ strides, groups, activation, fold, tag: `fold.${strides}.${groups}` });
        const expected = reference(x, built, groups, strides);
        const actual = built.model.apply(x, { training: false }) as tf.Tensor;
        expect(actual.shape).toEqual(expected.shape);
        expectRelativelyClose(actual.dataSync(), expected.dataSync(), 1e-5);
        tf.dispose([actual, expected]);
        built.model.dispose();
      }
      x.dispose();
    },
  );

  it('a frozen batch norm (trainable false) folds under training: true; input and kernel gradients are the unfolded ones', () => {
    const x = tf.tensor4d(formulaTensor('fold.frozen.x', [2, 9, 9, 4]), [2, 9, 9, 4]);
    const built = pair({ strides: 1, groups: 1, activation: 'relu', fold: true, tag: 'fold.frozen' });
    built.norm.trainable = false;
    const kernel = built.convolution.trainableWeights[0].read() as tf.Variable;
    const squaredOutput = (output: tf.Tensor) => tf.sum(tf.square(output)) as tf.Scalar;
    const throughModel = tf.grad((input: tf.Tensor) => squaredOutput(built.model.apply(input, { training: true }) as tf.Tensor))(x);
    const throughOps = tf.grad((input: tf.Tensor) => squaredOutput(reference(input as tf.Tensor4D, built, 1, 1)))(x);
    expectRelativelyClose(throughModel.dataSync(), throughOps.dataSync(), 1e-5);
    const { grads } = tf.variableGrads(() => squaredOutput(built.model.apply(x, { training: true }) as tf.Tensor), [kernel]);
    const kernelThroughOps = tf.grad((w: tf.Tensor) => squaredOutput(reference(x, built, 1, 1, w as tf.Tensor4D)))(kernel);
    expectRelativelyClose(grads[kernel.name].dataSync(), kernelThroughOps.dataSync(), 1e-5);
    tf.dispose([x, throughModel, throughOps, kernelThroughOps, ...Object.values(grads)]);
    built.model.dispose();
  });

  it('resnet32: inference runs 31 fused convolutions and no batch-norm kernel; training runs the batch norms', async () => {
    const model = resnet32({ numClasses: 10, head: 'dense' });
    loadFormulaWeights(model);
    const x = tf.tensor4d(formulaTensor('fold.resnet32.x', [2, 32, 32, 3]), [2, 32, 32, 3]);
    const kernelCounts = async (training: boolean) => {
      const profile = await tf.profile(() => tf.tidy(() => model.apply(x, { training }) as tf.Tensor));
      const counts = new Map<string, number>();
      for (const kernel of profile.kernels) counts.set(kernel.name, (counts.get(kernel.name) ?? 0) + 1);
      return counts;
    };
    const inference = await kernelCounts(false);
    expect(inference.get('FusedConv2D')).toBe(31);
    expect(inference.get('Conv2D')).toBeUndefined();
    expect([...inference.keys()].filter((name) => /BatchNorm/i.test(name))).toEqual([]);
    const training = await kernelCounts(true);
    expect(training.get('FusedConv2D')).toBeUndefined();
    expect(training.get('Conv2D')).toBe(31);
    x.dispose();
    model.dispose();
  });
});
