import * as tf from '@tensorflow/tfjs';
import { NormedLinear, TorchBatchNorm, TorchConv2D } from './layers.js';

/**
 * Which reference initialisation to reproduce.
 * - `'cifar'`: the LDAM-DRW / GCL CIFAR ResNet (`_weights_init`): `kaiming_normal_` (fan-in, ReLU gain √2, i.e.
 *   N(0, 2 / fan_in)) for every convolution and for the dense head's weight; the dense bias keeps PyTorch's Linear
 *   default U(±1/√in).
 * - `'torchvision'`: torchvision's ResNet: `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, i.e.
 *   N(0, 2 / fan_out) with fan_out = out_channels·k² for convolutions; the dense head keeps PyTorch's Linear default
 *   (weight and bias U(±1/√in)).
 * In both, batch norm starts at γ = 1, β = 0, running mean 0, running variance 1, and the cosine head uses
 * {@link normedLinearInitialValues}.
 */
export type InitializationScheme = 'cifar' | 'torchvision';

/**
 * The official NormedLinear initialisation `W.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)` for a weight of shape
 * `(inputFeatures, units)`: every column `W[:, j]` with norm above 1e-5 is scaled by `1e-5 / (‖W[:, j]‖ + 1e-7)`
 * (PyTorch's renorm), then everything by 1e5, so each column ends with norm ≈ 1.
 */
export function normedLinearInitialValues(inputFeatures: number, units: number): tf.Tensor2D {
  return tf.tidy(() => {
    const uniform = uniformTensor([inputFeatures, units], -1, 1);
    const columnNorms = tf.sqrt(tf.sum(tf.square(uniform), 0, true));
    const maximumNorm = 1e-5;
    const renormScale = tf.where(
      tf.greater(columnNorms, maximumNorm),
      tf.div(maximumNorm, tf.add(columnNorms, 1e-7)),
      tf.onesLike(columnNorms),
    );
    return tf.mul(tf.mul(uniform, renormScale), 1e5) as tf.Tensor2D;
  });
}

/**
 * N(0, std²) samples by Box–Muller on `Math.random`, written straight into a Float32Array: several times faster than
 * `tf.randomNormal` on the cpu backend, which matters for the 10⁷–10⁸ weights of the ImageNet family.
 */
function normalTensor(shape: number[], standardDeviation: number): tf.Tensor {
  const count = shape.reduce((product, size) => product * size, 1);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = standardDeviation * Math.sqrt(-2 * Math.log(1 - Math.random()));
    const angle = 2 * Math.PI * Math.random();
    values[i] = radius * Math.cos(angle);
    if (i + 1 < count) values[i + 1] = radius * Math.sin(angle);
  }
  return tf.tensor(values, shape, 'float32');
}

/** U(low, high) samples, as {@link normalTensor}. */
function uniformTensor(shape: number[], low: number, high: number): tf.Tensor {
  const count = shape.reduce((product, size) => product * size, 1);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = low + (high - low) * Math.random();
  return tf.tensor(values, shape, 'float32');
}

function replaceWeights(layer: tf.layers.Layer, values: tf.Tensor[]): void {
  layer.setWeights(values);
  tf.dispose(values);
}

/**
 * Re-draw every weight of `model` as the chosen reference does (see {@link InitializationScheme}).
 * Layers other than convolutions, batch norms, dense and cosine heads carry no weights in these networks.
 */
export function initializeWeights(model: tf.LayersModel, scheme: InitializationScheme): void {
  for (const layer of model.layers) {
    if (layer instanceof TorchConv2D) {
      const [kernelHeight, kernelWidth, inputPerGroup, outputChannels] = layer.getWeights()[0].shape;
      const receptiveField = kernelHeight * kernelWidth;
      const fan = scheme === 'cifar' ? inputPerGroup * receptiveField : outputChannels * receptiveField;
      const shape = [kernelHeight, kernelWidth, inputPerGroup, outputChannels];
      replaceWeights(layer, [normalTensor(shape, Math.sqrt(2 / fan))]);
    } else if (layer instanceof TorchBatchNorm) {
      const channels = layer.getWeights()[0].shape[0];
      replaceWeights(layer, [tf.ones([channels]), tf.zeros([channels]), tf.zeros([channels]), tf.ones([channels])]);
    } else if (layer instanceof NormedLinear) {
      const [inputFeatures, units] = layer.getWeights()[0].shape;
      replaceWeights(layer, [normedLinearInitialValues(inputFeatures, units)]);
    } else if (layer.getClassName() === 'Dense') {
      const [inputFeatures, units] = layer.getWeights()[0].shape;
      const bound = 1 / Math.sqrt(inputFeatures);
      const kernel =
        scheme === 'cifar'
          ? normalTensor([inputFeatures, units], Math.sqrt(2 / inputFeatures))
          : uniformTensor([inputFeatures, units], -bound, bound);
      replaceWeights(layer, [kernel, uniformTensor([units], -bound, bound)]);
    } else if (layer.countParams() > 0) {
      throw new Error(`initializeWeights: no initialisation rule for layer '${layer.name}' (${layer.getClassName()})`);
    }
  }
}
