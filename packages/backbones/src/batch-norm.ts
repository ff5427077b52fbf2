import * as tf from './tf.js';

/**
 * Kernel names of the fused layer ops. A backend may register them (the 'native' backend of `@longtail/backend-native`
 * does); {@link batchNormTraining} then runs one kernel forward and one backward instead of the dozen element-wise ops
 * of `tf.moments` + `tf.batchNorm` and their gradients, {@link batchNormInference} and {@link addRelu} one kernel each.
 *
 * - `LongtailBatchNormTraining`: inputs `{ x, scale, offset }`, attributes `{ varianceEpsilon, activation }`
 *   (`'linear'` or `'relu'`), outputs `[y, mean, variance]` (batch mean, biased batch variance over all axes but the last).
 * - `LongtailBatchNormTrainingGrad`: inputs `{ dy, x, scale, mean, variance }` and, for `'relu'`, `y`; same attributes;
 *   outputs `[dx, dScale, dOffset]`.
 * - `LongtailBatchNormInference`: inputs `{ x, mean, variance, offset, scale }` (running statistics), same attributes;
 *   output `y` (used by {@link batchNormInference}, not differentiated).
 */
export const fusedLayerKernelNames = {
  forward: 'LongtailBatchNormTraining',
  backward: 'LongtailBatchNormTrainingGrad',
  /** Inference with the running statistics: FusedBatchNorm's inputs and attributes plus `activation`; output `y`. */
  inference: 'LongtailBatchNormInference',
  /** `relu(a + b)` (inputs `{ a, b }` of one shape); output `y`. The residual join; see {@link addRelu}. */
  addRelu: 'LongtailAddRelu',
} as const;

/** Activation fused into {@link batchNormTraining}. */
export type BatchNormActivation = 'linear' | 'relu';

/** What {@link batchNormTraining} returns. */
export interface BatchNormTrainingResult {
  /** The normalised (and activated) input; differentiable with respect to `x`, `gamma` and `beta`. */
  output: tf.Tensor;
  /** Batch mean per channel (not differentiable; for the running statistics). */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel (not differentiable; for the running statistics). */
  variance: tf.Tensor1D;
}

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** The axes batch norm reduces over: all but the last (channels). */
function channelReductionAxes(x: tf.Tensor): number[] {
  return x.shape.slice(0, -1).map((_, axis) => axis);
}

/** `dy · relu'(output)`, by the registered Relu gradient (relu'(z) = step(relu(z))); a fused kernel on 'native'. */
function reluGradient(dy: tf.Tensor, output: tf.Tensor): tf.Tensor {
  return (tf.getGradient(tf.Relu)!.gradFunc(dy, [output], {}) as { x: () => tf.Tensor }).x();
}

const registeredGradients = new Set<string>();

/** Registers the gradient of one of {@link fusedLayerKernelNames} the first time the kernel is used. */
function registerGradientOnce(config: tf.GradConfig): void {
  if (registeredGradients.has(config.kernelName)) return;
  registeredGradients.add(config.kernelName);
  tf.registerGradient(config);
}

/**
 * Training-mode batch normalisation over the last axis with an optional fused ReLU, as one differentiable op:
 *
 * `μ = mean(x)`, `σ² = mean((x − μ)²)` over all axes but the last, `x̂ = (x − μ)/√(σ² + ε)`, `y = act(γ·x̂ + β)`;
 * with `g = ∂L/∂y · act'(y)`, `n` values per channel and `r = 1/√(σ² + ε)`:
 * `∂L/∂γ = Σ g·x̂`, `∂L/∂β = Σ g`, `∂L/∂x = γ·r·(g − Σg/n − x̂·Σ(g·x̂)/n)`.
 *
 * Uses the backend's fused kernels ({@link fusedLayerKernelNames}) when registered, else tfjs ops (the same
 * formulas); either way the gradient is one analytic step instead of the chain through `tf.moments`.
 *
 * @param x input, rank ≥ 2, channels last, more than one value per channel.
 * @param gamma scale γ, one per channel (PyTorch initialises it to 1).
 * @param beta offset β, one per channel (initialised to 0).
 * @param epsilon added to the variance, default 1e-5 (PyTorch's `BatchNorm2d`).
 * @param activation `'linear'` (default) or `'relu'`.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-5,
  activation: BatchNormActivation = 'linear',
): BatchNormTrainingResult {
  if (x.rank < 2) throw new Error(`batchNormTraining: x must have rank >= 2 (channels last), got shape [${x.shape}]`);
  const channels = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || gamma.shape[0] !== channels) {
    throw new Error(`batchNormTraining: gamma must have shape [${channels}], got [${gamma.shape}]`);
  }
  if (beta.rank !== 1 || beta.shape[0] !== channels) {
    throw new Error(`batchNormTraining: beta must have shape [${channels}], got [${beta.shape}]`);
  }
  if (x.size / channels < 2) {
    throw new Error(`batchNormTraining: x needs more than one value per channel, got shape [${x.shape}]`);
  }
  if (!(epsilon > 0)) throw new Error(`batchNormTraining: epsilon must be > 0, got ${epsilon}`);
  if (activation !== 'linear' && activation !== 'relu') {
    throw new Error(`batchNormTraining: activation must be 'linear' or 'relu', got '${String(activation)}'`);
  }
  const attributes = { varianceEpsilon: epsilon, activation } as unknown as tf.NamedAttrMap;
  const fused = x.dtype === 'float32' && hasKernel(fusedLayerKernelNames.forward) && hasKernel(fusedLayerKernelNames.backward);
  let statistics: [tf.Tensor1D, tf.Tensor1D] | undefined;

  const normalize = tf.customGrad(((input: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, save: tf.GradSaveFunc) => {
    let output: tf.Tensor;
    let mean: tf.Tensor1D;
    let variance: tf.Tensor1D;
    if (fused) {
      [output, mean, variance] = tf.engine().runKernel(fusedLayerKernelNames.forward, { x: input, scale, offset }, attributes) as [
        tf.Tensor,
        tf.Tensor1D,
        tf.Tensor1D,
      ];
    } else {
      ({ mean, variance } = tf.moments(input, channelReductionAxes(input)) as { mean: tf.Tensor1D; variance: tf.Tensor1D });
      output = tf.batchNorm(input, mean, variance, offset, scale, epsilon);
      if (activation === 'relu') output = tf.relu(output);
    }
    // The running statistics need the batch moments: keep() lets them out of customGrad's internal tidy.
    statistics = [tf.keep(mean), tf.keep(variance)];
    save(activation === 'relu' ? [input, scale, mean, variance, output] : [input, scale, mean, variance]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedInput, savedScale, savedMean, savedVariance, savedOutput] = saved;
        if (fused) {
          const inputs: tf.NamedTensorMap = { dy, x: savedInput, scale: savedScale, mean: savedMean, variance: savedVariance };
          if (savedOutput) inputs.y = savedOutput;
          return tf.engine().runKernel(fusedLayerKernelNames.backward, inputs, attributes) as tf.Tensor[];
        }
        return batchNormTrainingGradient(dy, savedInput, savedScale, savedMean, savedVariance, epsilon, savedOutput);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);

  const output = normalize(x, gamma, beta);
  // Clones belong to the caller's scope (tf.tidy disposes them like any op output); the kept originals go now.
  const [keptMean, keptVariance] = statistics!;
  const mean = tf.clone(keptMean);
  const variance = tf.clone(keptVariance);
  tf.dispose([keptMean, keptVariance]);
  return { output, mean, variance };
}

/** The gradient of {@link batchNormTraining} in tfjs ops (backends without the fused kernels). */
function batchNormTrainingGradient(
  dy: tf.Tensor,
  x: tf.Tensor,
  gamma: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  epsilon: number,
  output?: tf.Tensor,
): tf.Tensor[] {
  return tf.tidy(() => {
    const axes = channelReductionAxes(x);
    const count = x.size / x.shape[x.rank - 1];
    const gradient = output ? reluGradient(dy, output) : dy;
    const inverse = tf.rsqrt(tf.add(variance, epsilon));
    const normalized = tf.mul(tf.sub(x, mean), inverse);
    const sumGradient = tf.sum(gradient, axes);
    const sumGradientNormalized = tf.sum(tf.mul(gradient, normalized), axes);
    const dx = tf.mul(
      tf.mul(gamma, tf.div(inverse, count)),
      tf.sub(tf.sub(tf.mul(gradient, count), sumGradient), tf.mul(normalized, sumGradientNormalized)),
    );
    return [dx, sumGradientNormalized, sumGradient];
  });
}

/**
 * Inference-mode batch normalisation with the running statistics and an optional fused ReLU:
 * `y = act((x − running_mean)/√(running_var + ε)·γ + β)`. One kernel where the backend registers
 * `LongtailBatchNormInference` (the 'native' backend does), else `tf.batchNorm` (+ `tf.relu`).
 * The fused kernel has a gradient (registered on first use), so e.g. input saliency still works.
 */
export function batchNormInference(
  x: tf.Tensor,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon = 1e-5,
  activation: BatchNormActivation = 'linear',
): tf.Tensor {
  if (x.dtype === 'float32' && hasKernel(fusedLayerKernelNames.inference)) {
    registerGradientOnce(inferenceGradient);
    return tf.engine().runKernel(
      fusedLayerKernelNames.inference,
      { x, mean, variance, offset: beta, scale: gamma },
      { varianceEpsilon: epsilon, activation } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  }
  const output = tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
  return activation === 'relu' ? tf.relu(output) : output;
}

/**
 * Gradient of `LongtailBatchNormInference` in tfjs ops; with `g = dy` masked by `y > 0` for the ReLU and
 * `r = 1/√(variance + ε)`: `dx = g·γ·r`, `dmean = −Σ g·γ·r`, `dvariance = −½ Σ g·γ·(x − mean)·r³`,
 * `dscale = Σ g·(x − mean)·r`, `doffset = Σ g` (sums over all axes but the last).
 */
const inferenceGradient: tf.GradConfig = {
  kernelName: fusedLayerKernelNames.inference,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attributes) => {
    const [x, mean, variance, scale, y] = saved;
    const { varianceEpsilon, activation } = attributes as unknown as { varianceEpsilon: number; activation: BatchNormActivation };
    const axes = channelReductionAxes(x);
    const gradient = activation === 'relu' ? reluGradient(dy as tf.Tensor, y) : (dy as tf.Tensor);
    const inverse = tf.rsqrt(tf.add(variance, varianceEpsilon));
    const centered = tf.sub(x, mean);
    return {
      x: () => tf.mul(gradient, tf.mul(scale, inverse)),
      mean: () => tf.neg(tf.sum(tf.mul(gradient, tf.mul(scale, inverse)), axes)),
      variance: () => tf.mul(tf.sum(tf.mul(tf.mul(gradient, centered), tf.mul(scale, tf.pow(inverse, 3))), axes), -0.5),
      scale: () => tf.sum(tf.mul(tf.mul(gradient, centered), inverse), axes),
      offset: () => tf.sum(gradient, axes),
    };
  },
};

/**
 * Gradient of `LongtailAddRelu`: `dy · [y > 0]` for both inputs. tfjs asks for each input's gradient separately: the
 * first call computes it, the second gets a clone (one pass over the activation, not two; a clone, not the same
 * tensor, because tfjs disposes an input's accumulated gradient on its own).
 */
const addReluGradient: tf.GradConfig = {
  kernelName: fusedLayerKernelNames.addRelu,
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    let computed: tf.Tensor | undefined;
    const gradient = () => {
      if (computed && !computed.isDisposed) return tf.clone(computed);
      computed = reluGradient(dy as tf.Tensor, saved[0]);
      return computed;
    };
    return { a: gradient, b: gradient };
  },
};

/**
 * `relu(a + b)` — the residual join of a ResNet block — as one op: one kernel where the backend registers
 * `LongtailAddRelu` (the 'native' backend does), else `tf.relu(tf.add(a, b))`. Gradient: `dy · [y > 0]` for both inputs.
 */
export function addRelu(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.dtype === 'float32' && b.dtype === 'float32' && a.shape.join() === b.shape.join() && hasKernel(fusedLayerKernelNames.addRelu)) {
    registerGradientOnce(addReluGradient);
    return tf.engine().runKernel(fusedLayerKernelNames.addRelu, { a, b }) as tf.Tensor;
  }
  return tf.relu(tf.add(a, b));
}

/**
 * How synchronised batch norm reaches the other replicas of a data-parallel job: a blocking sum over every replica,
 * and this replica's share of the global batch. Installed with {@link setBatchNormReducer} (the trainer installs one
 * on `@longtail/distributed`'s `allReduceSync` when `syncBatchNorm` is on).
 */
export interface BatchNormReducer {
  /** Sums `values` element-wise over every replica, in place, before returning (a blocking all-reduce). */
  sum(values: Float64Array): void;
  /**
   * This replica's share of the global batch, `n_r / B`: the weight its mean loss has in the global mean loss (its
   * gradients are scaled by it before they are summed over the replicas). Read at every backward pass; in (0, 1].
   */
  readonly weight: number;
}

let batchNormReducer: BatchNormReducer | null = null;

/**
 * Installs (or with `null` removes) the reducer that makes every training-mode {@link TorchBatchNorm} synchronised
 * across the replicas of a data-parallel job, as PyTorch's `SyncBatchNorm`: the batch mean and variance are those of
 * the global batch (sums all-reduced in the forward pass), the backward pass all-reduces `Σ g` and `Σ g·x̂`, and the
 * running variance uses the global count (`n/(n−1)` with the global `n`). Host-memory backends only (cpu, native,
 * wasm, tensorflow): the sums are read synchronously inside the gradient. Every replica must run the same layers in
 * the same order.
 * @returns the reducer that was installed before.
 */
export function setBatchNormReducer(reducer: BatchNormReducer | null): BatchNormReducer | null {
  if (reducer !== null && (typeof reducer !== 'object' || typeof reducer.sum !== 'function')) {
    throw new TypeError('setBatchNormReducer: the reducer must be null or an object with sum(values: Float64Array)');
  }
  const previous = batchNormReducer;
  batchNormReducer = reducer;
  return previous;
}

/** The reducer installed by {@link setBatchNormReducer}, or null (batch norm per replica). */
export function getBatchNormReducer(): BatchNormReducer | null {
  return batchNormReducer;
}

const GPU_BACKENDS = new Set(['webgpu', 'webgl']);

/** Sums `tensor` over the batch axes per channel and reads the sums (host-memory backends: a cheap copy). */
function channelSums(tensor: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.sum(tensor, channelReductionAxes(tensor))).dataSync() as Float32Array;
}

function readAndDispose(tensor: tf.Tensor): Float32Array {
  try {
    return tensor.dataSync() as Float32Array;
  } finally {
    tensor.dispose();
  }
}

/**
 * {@link batchNormTraining} synchronised over the replicas of `reducer` (see {@link setBatchNormReducer}): with
 * `N` the global number of values per channel, `μ = Σ_all x / N`, `σ² = Σ_all (x − μ)² / N` (two reductions, as
 * exact as the single-process moments), and in the backward pass, with `w` this replica's share of the global batch
 * and `g = ∂L_r/∂y · act'(y)` the gradient of its own mean loss, `A = Σ_all w·g`, `C = Σ_all w·g·x̂`:
 * `∂L_r/∂x = γ·r·(g − (A + x̂·C)/(N·w))`, `∂L_r/∂γ = Σ_local g·x̂`, `∂L_r/∂β = Σ_local g` (the parameter gradients
 * are summed over the replicas, weighted by `w`, with the others). Summed over the replicas with the weights, these
 * are the gradients of the global batch's mean loss, as one process computes them.
 * @returns the output, the global batch mean and biased variance, and the global count `N` (for the running variance).
 */
export function syncBatchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  reducer: BatchNormReducer,
  epsilon = 1e-5,
  activation: BatchNormActivation = 'linear',
): BatchNormTrainingResult & { count: number } {
  if (GPU_BACKENDS.has(tf.getBackend())) {
    throw new Error(
      `syncBatchNorm needs a host-memory backend (cpu, native, wasm, tensorflow): its sums are read synchronously inside the gradient, which '${tf.getBackend()}' cannot do`,
    );
  }
  if (x.rank < 2) throw new Error(`syncBatchNormTraining: x must have rank >= 2 (channels last), got shape [${x.shape}]`);
  const channels = x.shape[x.rank - 1];
  const localCount = x.size / channels;
  let statistics: { mean: Float32Array; variance: Float32Array; count: number } | undefined;
  const normalize = tf.customGrad(((input: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, save: tf.GradSaveFunc) => {
    // Σx and the count, summed over the replicas (float64 on the host).
    const sums = new Float64Array(channels + 1);
    sums.set(channelSums(input));
    sums[channels] = localCount;
    reducer.sum(sums);
    const count = sums[channels];
    if (!(count >= 2)) throw new Error(`syncBatchNorm: training needs more than one value per channel over all replicas, got ${count}`);
    const meanValues = Float32Array.from(sums.subarray(0, channels), (s) => s / count);
    const mean = tf.tensor1d(meanValues);
    const centered = tf.sub(input, mean);
    const squares = new Float64Array(channels);
    squares.set(readAndDispose(tf.sum(tf.square(centered), channelReductionAxes(input))));
    reducer.sum(squares);
    const varianceValues = Float32Array.from(squares, (s) => s / count);
    statistics = { mean: meanValues, variance: varianceValues, count };
    const inverse = tf.rsqrt(tf.add(tf.tensor1d(varianceValues), epsilon));
    const normalized = tf.mul(centered, inverse);
    let output = tf.add(tf.mul(normalized, scale), offset);
    if (activation === 'relu') output = tf.relu(output);
    save(activation === 'relu' ? [normalized, inverse, scale, output] : [normalized, inverse, scale]);
    return {
      value: output,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedNormalized, savedInverse, savedScale, savedOutput] = saved;
        return tf.tidy(() => {
          const axes = channelReductionAxes(savedNormalized);
          const gradient = savedOutput ? reluGradient(dy, savedOutput) : dy;
          const sumGradient = tf.sum(gradient, axes);
          const sumGradientNormalized = tf.sum(tf.mul(gradient, savedNormalized), axes);
          const weight = reducer.weight;
          if (!(weight > 0 && weight <= 1)) throw new Error(`syncBatchNorm: the reducer's weight must be in (0, 1], got ${weight}`);
          const both = new Float64Array(2 * channels);
          const local = [sumGradient.dataSync(), sumGradientNormalized.dataSync()];
          for (let c = 0; c < channels; c++) {
            both[c] = weight * local[0][c];
            both[channels + c] = weight * local[1][c];
          }
          reducer.sum(both);
          const scaleBy = 1 / (count * weight);
          const a = tf.tensor1d(Float32Array.from(both.subarray(0, channels), (v) => v * scaleBy));
          const c = tf.tensor1d(Float32Array.from(both.subarray(channels), (v) => v * scaleBy));
          const dx = tf.mul(tf.mul(savedScale, savedInverse), tf.sub(tf.sub(gradient, a), tf.mul(savedNormalized, c)));
          return [dx, sumGradientNormalized, sumGradient];
        });
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const output = normalize(x, gamma, beta);
  const { mean, variance, count } = statistics!;
  return { output, mean: tf.tensor1d(mean), variance: tf.tensor1d(variance), count };
}
