import * as tf from './tf.js';

import { addRelu, batchNormInference, batchNormTraining, getBatchNormReducer, syncBatchNormTraining, type BatchNormActivation } from './batch-norm.js';

/** Arguments every tfjs-layers layer accepts (`name`, `trainable`, …). */
export type BaseLayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

type LayerKeywordArguments = Record<string, unknown>;
type SerializableConfig = tf.serialization.ConfigDict;

function singleTensor(inputs: tf.Tensor | tf.Tensor[], layerName: string): tf.Tensor {
  if (Array.isArray(inputs)) {
    if (inputs.length !== 1) {
      throw new Error(`Layer '${layerName}' expects one input tensor, got ${inputs.length}`);
    }
    return inputs[0];
  }
  return inputs;
}

function singleShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
  return Array.isArray(inputShape[0]) ? (inputShape[0] as tf.Shape) : (inputShape as tf.Shape);
}

function requirePositiveInteger(value: unknown, argumentName: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${argumentName} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function requireNonNegativeInteger(value: unknown, argumentName: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${argumentName} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * ∂L/∂W of an NHWC convolution with square kernel `k`, stride `s` and symmetric zero padding `p`:
 * `dW[kh, kw, ci, co] = Σ_{b, y, x} input[b, y·s + kh − p, x·s + kw − p, ci] · dy[b, y, x, co]`, HWIO layout.
 */
export function convolutionFilterGradient(
  input: Float32Array,
  inputShape: readonly number[],
  upstream: Float32Array,
  upstreamShape: readonly number[],
  kernelSize: number,
  stride: number,
  padding: number,
): Float32Array {
  const [batch, height, width, inputChannels] = inputShape;
  const [, outputHeight, outputWidth, outputChannels] = upstreamShape;
  const gradient = new Float64Array(kernelSize * kernelSize * inputChannels * outputChannels);
  for (let kernelRow = 0; kernelRow < kernelSize; kernelRow++) {
    for (let kernelColumn = 0; kernelColumn < kernelSize; kernelColumn++) {
      const tapBase = (kernelRow * kernelSize + kernelColumn) * inputChannels * outputChannels;
      for (let b = 0; b < batch; b++) {
        for (let y = 0; y < outputHeight; y++) {
          const row = y * stride + kernelRow - padding;
          if (row < 0 || row >= height) continue;
          for (let x = 0; x < outputWidth; x++) {
            const column = x * stride + kernelColumn - padding;
            if (column < 0 || column >= width) continue;
            const inputBase = ((b * height + row) * width + column) * inputChannels;
            const upstreamBase = ((b * outputHeight + y) * outputWidth + x) * outputChannels;
            for (let inputChannel = 0; inputChannel < inputChannels; inputChannel++) {
              const value = input[inputBase + inputChannel];
              if (value === 0) continue; // post-ReLU activations are often exactly zero
              const gradientBase = tapBase + inputChannel * outputChannels;
              for (let outputChannel = 0; outputChannel < outputChannels; outputChannel++) {
                gradient[gradientBase + outputChannel] += value * upstream[upstreamBase + outputChannel];
              }
            }
          }
        }
      }
    }
  }
  return Float32Array.from(gradient);
}

/** Configuration of {@link TorchConv2D}. */
export interface TorchConv2DArgs extends BaseLayerArgs {
  /** Number of output channels. */
  filters: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Stride in both spatial directions. Default 1. */
  strides?: number;
  /** Zero padding added on every side, like PyTorch's `padding=`. Default 0. */
  padding?: number;
  /** Number of channel groups (ResNeXt); input and output channels must be divisible by it. Default 1. */
  groups?: number;
}

/** Outputs of folded convolutions ({@link TorchConv2D.foldInferenceNorm}): their batch norm passes them through. */
const normalisedOutputs = new WeakSet<tf.Tensor>();

/**
 * 2-D convolution with PyTorch semantics: symmetric integer zero padding (`out = ⌊(in + 2p − k) / s⌋ + 1`,
 * which tfjs' `'same'` does not reproduce for stride 2), optional channel groups, no bias.
 * Kernel layout is tfjs' HWIO `[k, k, inChannels / groups, filters]`; group `g` maps input channels
 * `[g·I/G, (g+1)·I/G)` to output channels `[g·O/G, (g+1)·O/G)` exactly as `nn.Conv2d(groups=G)`.
 */
export class TorchConv2D extends tf.layers.Layer {
  static className = 'TorchConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: number;
  readonly groups: number;
  private kernel: tf.LayerVariable | null = null;
  /** The batch norm folded into this convolution when it runs in inference mode ({@link foldInferenceNorm}). */
  private inferenceNorm: TorchBatchNorm | null = null;

  constructor(args: TorchConv2DArgs) {
    super(args);
    this.filters = requirePositiveInteger(args.filters, 'TorchConv2D filters');
    this.kernelSize = requirePositiveInteger(args.kernelSize, 'TorchConv2D kernelSize');
    this.strides = requirePositiveInteger(args.strides ?? 1, 'TorchConv2D strides');
    this.padding = requireNonNegativeInteger(args.padding ?? 0, 'TorchConv2D padding');
    this.groups = requirePositiveInteger(args.groups ?? 1, 'TorchConv2D groups');
    if (this.filters % this.groups !== 0) {
      throw new Error(`TorchConv2D filters (${this.filters}) must be divisible by groups (${this.groups})`);
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const inputChannels = shape[shape.length - 1];
    if (inputChannels == null || inputChannels % this.groups !== 0) {
      throw new Error(
        `TorchConv2D '${this.name}': input channels (${inputChannels}) must be known and divisible by groups (${this.groups})`,
      );
    }
    this.kernel = this.addWeight(
      'kernel',
      [this.kernelSize, this.kernelSize, inputChannels / this.groups, this.filters],
      'float32',
      tf.initializers.zeros(),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, height, width] = singleShape(inputShape);
    const outputSize = (size: number | null) =>
      size == null ? null : Math.floor((size + 2 * this.padding - this.kernelSize) / this.strides) + 1;
    return [batch, outputSize(height), outputSize(width), this.filters];
  }

  /**
   * Folds `norm` — a {@link TorchBatchNorm} that is the only reader of this convolution's output — into this
   * convolution whenever `norm` runs in inference mode: with `s = γ/√(running_var + ε)` per output channel,
   * `act(bn(conv(x, W))) = act(conv(x, W·s) + (β − running_mean·s))`, one fused convolution (bias and ReLU in its
   * epilogue) instead of a convolution and a full pass over its output. `norm` then passes that output through.
   * Training mode is unchanged; weights and state dicts are unchanged (the folded filter is made per call).
   * {@link BackboneModel} links every such pair when it is built or loaded. PyTorch's own eval mode does not fold, so
   * results differ from it by float rounding only (within the parity tests' 1e-4).
   */
  foldInferenceNorm(norm: TorchBatchNorm): void {
    if (!(norm instanceof TorchBatchNorm)) throw new Error(`TorchConv2D '${this.name}': foldInferenceNorm needs a TorchBatchNorm`);
    this.inferenceNorm = norm;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], keywordArguments: LayerKeywordArguments): tf.Tensor {
    return tf.tidy(() => {
      const input = singleTensor(inputs, this.name) as tf.Tensor4D;
      const kernel = this.kernel!.read() as tf.Tensor4D;
      const norm = this.inferenceNorm;
      if (norm !== null && norm.built && !norm.runsInTraining(keywordArguments)) {
        return this.foldedCall(input, kernel, norm);
      }
      // A numeric pad is symmetric in tfjs-core; 'floor' makes the output size PyTorch's.
      const plain = (x: tf.Tensor4D, w: tf.Tensor4D) =>
        tf.conv2d(x, w, this.strides, this.padding, 'NHWC', 1, 'floor');
      const convolve = tf.getBackend() === 'cpu' ? this.cpuConvolution() : plain;
      if (this.groups === 1) return convolve(input, kernel);
      // tfjs has no grouped convolution: one convolution per group, results concatenated along channels.
      const inputGroups = tf.split(input, this.groups, 3);
      const kernelGroups = tf.split(kernel, this.groups, 3);
      return tf.concat(
        inputGroups.map((group, index) => convolve(group as tf.Tensor4D, kernelGroups[index] as tf.Tensor4D)),
        3,
      );
    });
  }

  /** {@link foldInferenceNorm}'s convolution: `act(conv(x, W·s) + b)`; its output is marked as already normalised. */
  private foldedCall(input: tf.Tensor4D, kernel: tf.Tensor4D, norm: TorchBatchNorm): tf.Tensor {
    const { scale, shift } = norm.inferenceAffine();
    const folded = tf.mul(kernel, scale) as tf.Tensor4D;
    const activation = norm.activation === 'relu' ? 'relu' : 'linear';
    let output: tf.Tensor;
    if (this.groups === 1) {
      output = tf.fused.conv2d({
        x: input,
        filter: folded,
        strides: this.strides,
        pad: this.padding,
        dataFormat: 'NHWC',
        dilations: 1,
        dimRoundingMode: 'floor',
        bias: shift,
        activation,
      });
    } else {
      const inputGroups = tf.split(input, this.groups, 3);
      const kernelGroups = tf.split(folded, this.groups, 3);
      const joined = tf.concat(
        inputGroups.map((group, index) =>
          tf.conv2d(group as tf.Tensor4D, kernelGroups[index] as tf.Tensor4D, this.strides, this.padding, 'NHWC', 1, 'floor'),
        ),
        3,
      );
      const shifted = tf.add(joined, shift);
      output = activation === 'relu' ? tf.relu(shifted) : shifted;
    }
    normalisedOutputs.add(output);
    return output;
  }

  /**
   * The cpu backend's own filter gradient reads every element through `TensorBuffer.get(...)` and dominates training
   * time by an order of magnitude; this convolution has the same forward and input gradient but computes the filter
   * gradient with flat-index loops (float64 accumulation). Other backends keep tfjs' gradient.
   */
  private cpuConvolution(): (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D {
    const { strides, padding, kernelSize } = this;
    return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const input = args[0] as tf.Tensor4D;
      const kernel = args[1] as tf.Tensor4D;
      (args[2] as tf.GradSaveFunc)([input, kernel]);
      return {
        value: tf.conv2d(input, kernel, strides, padding, 'NHWC', 1, 'floor'),
        gradFunc: (dy, saved) => {
          const [savedInput, savedKernel] = saved as [tf.Tensor4D, tf.Tensor4D];
          const upstream = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
          const inputGradient = tf.conv2dTranspose(upstream, savedKernel, savedInput.shape, strides, padding, 'floor');
          const kernelGradient = tf.tensor4d(
            convolutionFilterGradient(
              savedInput.dataSync() as Float32Array,
              savedInput.shape,
              upstream.dataSync() as Float32Array,
              upstream.shape,
              kernelSize,
              strides,
              padding,
            ),
            savedKernel.shape,
          );
          return [inputGradient, kernelGradient];
        },
      };
    }) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
  }

  override getConfig(): SerializableConfig {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      groups: this.groups,
    };
  }
}

/** Configuration of {@link TorchBatchNorm}. */
export interface TorchBatchNormArgs extends BaseLayerArgs {
  /** Added to the variance before the square root. Default 1e-5 (PyTorch). */
  epsilon?: number;
  /** PyTorch-style running-average momentum: `running = (1 − momentum)·running + momentum·batch`. Default 0.1. */
  momentum?: number;
  /**
   * Activation applied to the normalised output: `'linear'` (default) or `'relu'` — `relu(bn(x))` in one layer, so that
   * backends with the fused kernels (`fusedLayerKernelNames`) run one kernel forward and one backward.
   */
  activation?: BatchNormActivation;
}

/**
 * Batch normalisation over the channel (last) axis with PyTorch's `BatchNorm2d` semantics:
 * - training: normalise with the batch mean and the biased batch variance, then update
 *   `running_mean ← (1 − m)·running_mean + m·mean` and `running_var ← (1 − m)·running_var + m·var·n/(n − 1)`
 *   (unbiased variance, as PyTorch; tfjs' own layer uses the biased one), `m = 0.1`, `n = batch·height·width`;
 * - inference: `(x − running_mean) / √(running_var + ε) · γ + β`, `ε = 1e-5`.
 * A layer whose `trainable` is false always runs in inference mode, even when called with `training: true`
 * (the frozen-backbone mode of classifier re-training).
 * Weights, in order: `gamma` (1), `beta` (0), `running_mean` (0), `running_var` (1); the last two are not trainable.
 * Training mode runs {@link batchNormTraining} (one fused kernel each way where the backend registers it).
 */
export class TorchBatchNorm extends tf.layers.Layer {
  static className = 'TorchBatchNorm';
  readonly epsilon: number;
  readonly momentum: number;
  readonly activation: BatchNormActivation;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;
  private runningMean: tf.LayerVariable | null = null;
  private runningVariance: tf.LayerVariable | null = null;

  constructor(args: TorchBatchNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-5;
    this.momentum = args.momentum ?? 0.1;
    this.activation = args.activation ?? 'linear';
    if (this.activation !== 'linear' && this.activation !== 'relu') {
      throw new Error(`TorchBatchNorm activation must be 'linear' or 'relu', got '${String(this.activation)}'`);
    }
    if (!(this.epsilon > 0)) throw new Error(`TorchBatchNorm epsilon must be > 0, got ${this.epsilon}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw new Error(`TorchBatchNorm momentum must be in [0, 1], got ${this.momentum}`);
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1];
    if (channels == null) throw new Error(`TorchBatchNorm '${this.name}': the channel dimension must be known`);
    this.gamma = this.addWeight('gamma', [channels], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [channels], 'float32', tf.initializers.zeros());
    this.runningMean = this.addWeight('running_mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
    this.runningVariance = this.addWeight('running_var', [channels], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return singleShape(inputShape);
  }

  /** Parameters as PyTorch counts them: γ and β only (running statistics are buffers, not parameters). */
  override countParams(): number {
    return this.gamma == null ? 0 : 2 * (this.gamma.shape[0] as number);
  }

  /** Whether a call with these keyword arguments normalises with batch statistics (training) or running ones. */
  runsInTraining(keywordArguments: LayerKeywordArguments | undefined): boolean {
    return keywordArguments?.training === true && this.trainable;
  }

  /**
   * Inference mode as a per-channel affine map `y = act(x·scale + shift)`: `scale = γ/√(running_var + ε)`,
   * `shift = β − running_mean·scale` (what {@link TorchConv2D.foldInferenceNorm} folds into a convolution).
   */
  inferenceAffine(): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
    return tf.tidy(() => {
      const scale = tf.mul(this.gamma!.read(), tf.rsqrt(tf.add(this.runningVariance!.read(), this.epsilon))) as tf.Tensor1D;
      const shift = tf.sub(this.beta!.read(), tf.mul(this.runningMean!.read(), scale)) as tf.Tensor1D;
      return { scale, shift };
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], keywordArguments: LayerKeywordArguments): tf.Tensor {
    const training = this.runsInTraining(keywordArguments);
    return tf.tidy(() => {
      const input = singleTensor(inputs, this.name);
      // Already normalised by the convolution this layer is folded into (inference mode).
      if (!training && normalisedOutputs.has(input)) return tf.clone(input);
      const gamma = this.gamma!.read() as tf.Tensor1D;
      const beta = this.beta!.read() as tf.Tensor1D;
      if (!training) {
        const mean = this.runningMean!.read() as tf.Tensor1D;
        const variance = this.runningVariance!.read() as tf.Tensor1D;
        return batchNormInference(input, mean, variance, gamma, beta, this.epsilon, this.activation);
      }
      const reducer = getBatchNormReducer();
      if (reducer !== null) {
        // Synchronised over the replicas of a data-parallel job: global moments, global count.
        const synced = syncBatchNormTraining(input, gamma, beta, reducer, this.epsilon, this.activation);
        this.updateRunningStatistics(synced.mean, synced.variance, synced.count);
        return synced.output;
      }
      const count = input.shape.slice(0, -1).reduce((product, size) => product * size, 1);
      if (count < 2) {
        throw new Error(
          `TorchBatchNorm '${this.name}': training needs more than one value per channel, got input shape [${input.shape}]`,
        );
      }
      const { output, mean, variance } = batchNormTraining(input, gamma, beta, this.epsilon, this.activation);
      this.updateRunningStatistics(mean, variance, count);
      return output;
    });
  }

  /** The running statistics' momentum update (PyTorch's: unbiased variance `n/(n−1)` with the batch count `n`). */
  private updateRunningStatistics(mean: tf.Tensor1D, variance: tf.Tensor1D, count: number): void {
    // Running statistics are bookkeeping: nothing differentiated depends on these writes.
    const keep = 1 - this.momentum;
    const unbiasedVariance = tf.mul(variance, count / (count - 1));
    this.runningMean!.write(tf.add(tf.mul(this.runningMean!.read(), keep), tf.mul(mean, this.momentum)));
    this.runningVariance!.write(tf.add(tf.mul(this.runningVariance!.read(), keep), tf.mul(unbiasedVariance, this.momentum)));
    mean.dispose();
    variance.dispose();
  }

  override getConfig(): SerializableConfig {
    return { ...super.getConfig(), epsilon: this.epsilon, momentum: this.momentum, activation: this.activation };
  }
}

/**
 * `relu(a + b)` of two same-shaped inputs: the residual join of a ResNet block (`F.relu(out + shortcut)` in the
 * PyTorch code), one fused kernel on backends that register it (see {@link addRelu}). No weights.
 */
export class AddRelu extends tf.layers.Layer {
  static className = 'AddRelu';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    if (!Array.isArray(inputShape[0]) || inputShape.length !== 2) {
      throw new Error(`AddRelu '${this.name}' takes exactly two inputs`);
    }
    return inputShape[0] as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _keywordArguments: LayerKeywordArguments): tf.Tensor {
    return tf.tidy(() => {
      if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error(`AddRelu '${this.name}' takes exactly two inputs`);
      const [a, b] = inputs;
      if (a.shape.join() !== b.shape.join()) {
        throw new Error(`AddRelu '${this.name}': inputs must have the same shape, got [${a.shape}] and [${b.shape}]`);
      }
      return addRelu(a, b);
    });
  }
}

/** Configuration of {@link OptionAShortcut}. */
export interface OptionAShortcutArgs extends BaseLayerArgs {
  /** Zero channels added on each side of the channel axis (PyTorch reference: `planes // 4`). */
  padChannels: number;
}

/**
 * The parameter-free "option A" shortcut of He et al. (2016) for CIFAR ResNets, as in the reference code
 * `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))`: keep every second row and column (starting at 0), then add `p`
 * zero channels before and after.
 */
export class OptionAShortcut extends tf.layers.Layer {
  static className = 'OptionAShortcut';
  readonly padChannels: number;

  constructor(args: OptionAShortcutArgs) {
    super(args);
    this.padChannels = requireNonNegativeInteger(args.padChannels, 'OptionAShortcut padChannels');
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, height, width, channels] = singleShape(inputShape);
    const half = (size: number | null) => (size == null ? null : Math.ceil(size / 2));
    return [batch, half(height), half(width), channels == null ? null : channels + 2 * this.padChannels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _keywordArguments: LayerKeywordArguments): tf.Tensor {
    return tf.tidy(() => {
      const input = singleTensor(inputs, this.name) as tf.Tensor4D;
      // A 1×1 average pool with stride 2 is an exact x[:, ::2, ::2] that has a gradient (stridedSlice has none).
      const subsampled = tf.avgPool(input, 1, 2, 'valid');
      return tf.pad(subsampled, [
        [0, 0],
        [0, 0],
        [0, 0],
        [this.padChannels, this.padChannels],
      ]);
    });
  }

  override getConfig(): SerializableConfig {
    return { ...super.getConfig(), padChannels: this.padChannels };
  }
}

/** Configuration of {@link NormedLinear}. */
export interface NormedLinearArgs extends BaseLayerArgs {
  /** Number of classes (output columns). */
  units: number;
}

/**
 * Row-wise L2 normalisation as PyTorch's `F.normalize(x, dim=1, eps=1e-12)`: `x / max(‖x‖₂, eps)`.
 * Written as `x / √max(Σx², eps²)` so the gradient at a zero row is PyTorch's (`1/eps` through the numerator, nothing
 * through the clamped norm) instead of the NaN that `√0` would give.
 */
export function l2Normalize(x: tf.Tensor, axis: number, epsilon = 1e-12): tf.Tensor {
  return tf.tidy(() => {
    const squaredNorm = tf.sum(tf.square(x), axis, true);
    return tf.div(x, tf.sqrt(tf.maximum(squaredNorm, epsilon * epsilon)));
  });
}

/**
 * Cosine classifier of the LDAM-DRW / GCL code: weight `W` of shape `(in, out)`,
 * `out = normalize(x, dim=1) · normalize(W, dim=0)` (eps 1e-12), i.e. the cosine between each feature and each class
 * column; no bias, no scale (the loss multiplies by `s`).
 * Official initialisation (see {@link normedLinearInitialValues}): `W.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)`,
 * each column of norm ≈ 1.
 */
export class NormedLinear extends tf.layers.Layer {
  static className = 'NormedLinear';
  readonly units: number;
  private kernel: tf.LayerVariable | null = null;

  constructor(args: NormedLinearArgs) {
    super(args);
    this.units = requirePositiveInteger(args.units, 'NormedLinear units');
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    const inputFeatures = shape[shape.length - 1];
    if (inputFeatures == null) throw new Error(`NormedLinear '${this.name}': the feature dimension must be known`);
    this.kernel = this.addWeight('kernel', [inputFeatures, this.units], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _keywordArguments: LayerKeywordArguments): tf.Tensor {
    return tf.tidy(() => {
      const input = singleTensor(inputs, this.name) as tf.Tensor2D;
      const kernel = this.kernel!.read() as tf.Tensor2D;
      return tf.matMul(l2Normalize(input, 1) as tf.Tensor2D, l2Normalize(kernel, 0) as tf.Tensor2D);
    });
  }

  override getConfig(): SerializableConfig {
    return { ...super.getConfig(), units: this.units };
  }
}

/**
 * The model class the factories return: a plain `tf.LayersModel` whose {@link BackboneModel.countParams} follows
 * PyTorch (`sum(p.numel() for p in model.parameters())`), leaving batch-norm running statistics out. Saved models
 * record this class name, so loading needs {@link registerBackboneLayers} (done by importing this package).
 */
export class BackboneModel extends tf.LayersModel {
  static override className = 'BackboneModel';

  constructor(args: ConstructorParameters<typeof tf.LayersModel>[0]) {
    super(args);
    linkInferenceNorms(this);
  }

  /** Number of parameters, PyTorch's way: batch-norm running mean and variance are not counted. */
  override countParams(): number {
    return this.layers.reduce((total, layer) => total + layer.countParams(), 0);
  }
}

/**
 * Links every batch norm that is the only reader of a convolution's output to that convolution
 * ({@link TorchConv2D.foldInferenceNorm}): built models and models loaded from JSON alike.
 */
function linkInferenceNorms(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (!(layer instanceof TorchBatchNorm) || layer.inboundNodes.length !== 1) continue;
    const sources = layer.inboundNodes[0].inboundLayers;
    const source = sources.length === 1 ? sources[0] : null;
    if (source instanceof TorchConv2D && source.outboundNodes.length === 1) source.foldInferenceNorm(layer);
  }
}

let layersRegistered = false;

/**
 * Register the custom layer classes with tfjs serialization so `tf.loadLayersModel` can rebuild saved models
 * (browser or Node). Importing this package already calls it — that import-time registration is why `package.json`
 * lists the entry files under `sideEffects`, so a bundler keeps a bare `import '@longtail/backbones'`. Calling it
 * again is harmless.
 */
export function registerBackboneLayers(): void {
  if (layersRegistered) return;
  for (const layerClass of [TorchConv2D, TorchBatchNorm, AddRelu, OptionAShortcut, NormedLinear, BackboneModel]) {
    tf.serialization.registerClass(layerClass);
  }
  layersRegistered = true;
}

registerBackboneLayers();
