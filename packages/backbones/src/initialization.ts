import * as tf from './tf.js';
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

/** Options of {@link initializeWeights} and {@link normedLinearInitialValues}. */
export interface InitializationOptions {
  /**
   * Seed of every draw: with a seed the weights are a deterministic function of it (and of each layer's name), bit
   * for bit, on every backend; without one they come from `Math.random` (a different network each call). Any safe
   * integer (`Number.isSafeInteger`), 0 included.
   */
  seed?: number;
}

/** A source of uniform numbers in [0, 1). */
type UniformSource = () => number;

/** 32-bit avalanche hash (xor-shift / multiply rounds): every input bit flips about half the output bits. */
function hash32(value: number): number {
  let x = value | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** FNV-1a of a string's UTF-16 code units, so that each layer gets its own stream. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A seeded uniform source: the xoshiro128** recurrence (four 32-bit words of state, period 2¹²⁸ − 1), its state
 * filled from `seed` and `stream` by {@link hash32}. One output is 32 random bits scaled to [0, 1).
 */
function seededUniform(seed: number, stream: number): UniformSource {
  const low = seed % 0x1_0000_0000 | 0;
  const high = Math.floor(seed / 0x1_0000_0000) | 0;
  const key = hash32(low ^ hash32(high ^ hash32(stream)));
  let s0 = hash32(key + 0x9e3779b9);
  let s1 = hash32(key + 0x3c6ef372);
  let s2 = hash32(key + 0xdaa66d2b);
  let s3 = hash32(key + 0x78dde6e4);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is the one fixed point
  return () => {
    const scrambled = Math.imul(s1, 5);
    const result = Math.imul((scrambled << 7) | (scrambled >>> 25), 9) >>> 0;
    const shifted = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= shifted;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result * 2.3283064365386963e-10; // 2⁻³²
  };
}

function checkSeed(caller: string, seed: unknown): number | undefined {
  if (seed === undefined) return undefined;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new Error(`${caller}: options.seed must be a safe integer, got ${String(seed)}`);
  }
  return seed;
}

/** The uniform source of one named draw: seeded by (seed, name) when a seed is given, `Math.random` otherwise. */
function uniformSource(seed: number | undefined, name: string): UniformSource {
  return seed === undefined ? Math.random : seededUniform(seed, hashString(name));
}

/**
 * The official NormedLinear initialisation `W.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)` for a weight of shape
 * `(inputFeatures, units)`: every column `W[:, j]` with norm above 1e-5 is scaled by `1e-5 / (‖W[:, j]‖ + 1e-7)`
 * (PyTorch's renorm), then everything by 1e5, so each column ends with norm ≈ 1. With `options.seed` the values are
 * a deterministic function of the seed.
 */
export function normedLinearInitialValues(
  inputFeatures: number,
  units: number,
  options: InitializationOptions = {},
): tf.Tensor2D {
  const seed = checkSeed('normedLinearInitialValues', options?.seed);
  return normedLinearValues(inputFeatures, units, uniformSource(seed, 'normedLinearInitialValues'));
}

function normedLinearValues(inputFeatures: number, units: number, uniform: UniformSource): tf.Tensor2D {
  const values = uniformValues(inputFeatures * units, -1, 1, uniform);
  // Column norms and scaling in plain JS (float64 sums): the same values on every backend.
  const maximumNorm = 1e-5;
  for (let column = 0; column < units; column++) {
    let squares = 0;
    for (let row = 0; row < inputFeatures; row++) squares += values[row * units + column] ** 2;
    const norm = Math.sqrt(squares);
    const scale = (norm > maximumNorm ? maximumNorm / (norm + 1e-7) : 1) * 1e5;
    for (let row = 0; row < inputFeatures; row++) values[row * units + column] *= scale;
  }
  return tf.tensor2d(values, [inputFeatures, units], 'float32');
}

/**
 * N(0, std²) samples by Box–Muller, written straight into a Float32Array: several times faster than
 * `tf.randomNormal` on the cpu backend, which matters for the 10⁷–10⁸ weights of the ImageNet family.
 */
function normalTensor(shape: number[], standardDeviation: number, uniform: UniformSource): tf.Tensor {
  const count = shape.reduce((product, size) => product * size, 1);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = standardDeviation * Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    values[i] = radius * Math.cos(angle);
    if (i + 1 < count) values[i + 1] = radius * Math.sin(angle);
  }
  return tf.tensor(values, shape, 'float32');
}

function uniformValues(count: number, low: number, high: number, uniform: UniformSource): Float32Array {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = low + (high - low) * uniform();
  return values;
}

/** U(low, high) samples, as {@link normalTensor}. */
function uniformTensor(shape: number[], low: number, high: number, uniform: UniformSource): tf.Tensor {
  const count = shape.reduce((product, size) => product * size, 1);
  return tf.tensor(uniformValues(count, low, high, uniform), shape, 'float32');
}

function replaceWeights(layer: tf.layers.Layer, values: tf.Tensor[]): void {
  layer.setWeights(values);
  tf.dispose(values);
}

/**
 * Re-draw every weight of `model` as the chosen reference does (see {@link InitializationScheme}). With
 * `options.seed` every draw comes from a seeded generator (one stream per layer, keyed by the layer's name), so the
 * weights are a deterministic function of the seed; without it, from `Math.random`. Layers other than convolutions,
 * batch norms, dense and cosine heads carry no weights in these networks.
 */
export function initializeWeights(
  model: tf.LayersModel,
  scheme: InitializationScheme,
  options: InitializationOptions = {},
): void {
  const seed = checkSeed('initializeWeights', options?.seed);
  for (const layer of model.layers) {
    // One stream per layer (seed, layer name): a layer's weights do not depend on the layers before it.
    const uniform = uniformSource(seed, layer.name);
    if (layer instanceof TorchConv2D) {
      const [kernelHeight, kernelWidth, inputPerGroup, outputChannels] = layer.getWeights()[0].shape;
      const receptiveField = kernelHeight * kernelWidth;
      const fan = scheme === 'cifar' ? inputPerGroup * receptiveField : outputChannels * receptiveField;
      const shape = [kernelHeight, kernelWidth, inputPerGroup, outputChannels];
      replaceWeights(layer, [normalTensor(shape, Math.sqrt(2 / fan), uniform)]);
    } else if (layer instanceof TorchBatchNorm) {
      const channels = layer.getWeights()[0].shape[0];
      replaceWeights(layer, [tf.ones([channels]), tf.zeros([channels]), tf.zeros([channels]), tf.ones([channels])]);
    } else if (layer instanceof NormedLinear) {
      const [inputFeatures, units] = layer.getWeights()[0].shape;
      replaceWeights(layer, [normedLinearValues(inputFeatures, units, uniform)]);
    } else if (layer.getClassName() === 'Dense') {
      const [inputFeatures, units] = layer.getWeights()[0].shape;
      const bound = 1 / Math.sqrt(inputFeatures);
      const kernel =
        scheme === 'cifar'
          ? normalTensor([inputFeatures, units], Math.sqrt(2 / inputFeatures), uniform)
          : uniformTensor([inputFeatures, units], -bound, bound, uniform);
      replaceWeights(layer, [kernel, uniformTensor([units], -bound, bound, uniform)]);
    } else if (layer.countParams() > 0) {
      throw new Error(`initializeWeights: no initialisation rule for layer '${layer.name}' (${layer.getClassName()})`);
    }
  }
}
