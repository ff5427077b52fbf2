import * as tf from '@tensorflow/tfjs-core';

/** Throws a `TypeError` naming `name` unless `value` is a finite number. */
export function assertFiniteNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a finite number, got ${describe(value)}`);
  }
}

/** Throws unless `value` is a finite number ≥ `min` (or > `min` when `exclusive`). */
export function assertAtLeast(value: unknown, min: number, name: string, exclusive = false): asserts value is number {
  assertFiniteNumber(value, name);
  if (exclusive ? !(value > min) : !(value >= min)) {
    throw new RangeError(`${name} must be ${exclusive ? '>' : '>='} ${min}, got ${value}`);
  }
}

export function assertBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
}

/**
 * Checks a list of per-class training-image counts: a non-empty array of positive finite integers.
 * Returns it as a plain number array.
 */
export function checkClassCounts(counts: unknown, name = 'clsNumList'): number[] {
  if (!Array.isArray(counts) && !ArrayBuffer.isView(counts)) {
    throw new TypeError(`${name} must be an array of per-class image counts, got ${describe(counts)}`);
  }
  const list = Array.from(counts as ArrayLike<unknown>);
  if (list.length === 0) throw new RangeError(`${name} must not be empty`);
  list.forEach((n, j) => {
    if (typeof n !== 'number' || !Number.isFinite(n) || !Number.isInteger(n) || n <= 0) {
      throw new RangeError(`${name}[${j}] must be a positive finite integer, got ${describe(n)}`);
    }
  });
  return list as number[];
}

/** Checks optional per-class loss weights: `numClasses` finite numbers ≥ 0, not all zero. */
export function checkClassWeights(weight: unknown, numClasses: number, name = 'weight'): number[] | null {
  if (weight === undefined || weight === null) return null;
  if (!Array.isArray(weight) && !ArrayBuffer.isView(weight)) {
    throw new TypeError(`${name} must be an array of ${numClasses} per-class weights or null, got ${describe(weight)}`);
  }
  const list = Array.from(weight as ArrayLike<unknown>);
  if (list.length !== numClasses) {
    throw new RangeError(`${name} must have one entry per class (${numClasses}), got ${list.length}`);
  }
  list.forEach((w, j) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new RangeError(`${name}[${j}] must be a finite number >= 0, got ${describe(w)}`);
    }
  });
  if (!(list as number[]).some((w) => w > 0)) throw new RangeError(`${name} must not be all zero`);
  return list as number[];
}

/** Rejects option keys the function does not know (a typo such as `noise_mul` would otherwise be silently ignored). */
export function rejectUnknownOptions(options: object, known: readonly string[], name = 'options'): void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${name} must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${name}.${key} is not a known option (known: ${known.join(', ')})`);
    }
  }
}

/** Checks that `x` is a rank-2 float32 tensor (batch × classes) and returns [batch, classes]. */
export function checkScores(x: unknown, name: string): [number, number] {
  if (!(x instanceof tf.Tensor)) throw new TypeError(`${name} must be a tf.Tensor2D, got ${describe(x)}`);
  if (x.rank !== 2) throw new RangeError(`${name} must be rank 2 (batch × classes), got shape [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32') throw new TypeError(`${name} must be float32, got ${x.dtype}`);
  const [batch, classes] = x.shape as [number, number];
  if (batch === 0) throw new RangeError(`${name} must have at least one row, got shape [${x.shape.join(', ')}]`);
  return [batch, classes];
}

/**
 * Backends whose tensors live in host memory, where reading labels back is a copy, not a GPU round trip. On the
 * others (webgpu, webgl) a synchronous read stalls the device until all queued work is done — and throws on
 * webgpu in Node — so label values are not read there.
 */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm', 'native', 'tensorflow']);

/**
 * Checks that `labels` is an int32 rank-1 tensor of `batch` class indices in [0, numClasses).
 * On host-memory backends (cpu, wasm, native, tensorflow) the values are read back and checked too: they are small,
 * and a wrong label would otherwise give a silently wrong loss. On GPU backends (webgpu, webgl) only the shape and
 * dtype are checked, so that a loss never makes a training step wait for the GPU; check label values on the host
 * data before making the tensor (`@longtail/datasets` does when a data set is built).
 */
export function checkLabels(labels: unknown, batch: number, numClasses: number, name = 'labels'): void {
  if (!(labels instanceof tf.Tensor)) throw new TypeError(`${name} must be a tf.Tensor1D of int32 class indices, got ${describe(labels)}`);
  if (labels.rank !== 1) throw new RangeError(`${name} must be rank 1, got shape [${labels.shape.join(', ')}]`);
  if (labels.dtype !== 'int32') throw new TypeError(`${name} must be int32 class indices, got ${labels.dtype}`);
  if (labels.shape[0] !== batch) {
    throw new RangeError(`${name} must have one entry per row (${batch}), got ${labels.shape[0]}`);
  }
  if (!HOST_MEMORY_BACKENDS.has(tf.getBackend())) return;
  const values = labels.dataSync();
  for (let i = 0; i < values.length; i++) {
    if (values[i] < 0 || values[i] >= numClasses) {
      throw new RangeError(`${name}[${i}] = ${values[i]} is out of range [0, ${numClasses})`);
    }
  }
}

/** Checks that `numClasses` from a score tensor agrees with a per-class list. */
export function checkClassCountMatches(numClasses: number, listLength: number, scoresName: string, listName: string): void {
  if (numClasses !== listLength) {
    throw new RangeError(`${scoresName} has ${numClasses} columns but ${listName} has ${listLength} classes`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}

/**
 * Checks the inputs of the GCL losses: `cosine` B×C float32, `labels` B int32 in [0, C), `noise` B×C, and C equal to
 * the number of classes in `options.clsNumList`.
 */
export function checkCosineInputs(cosine: unknown, labels: unknown, noise: unknown, numClasses: number): void {
  const [batch, classes] = checkScores(cosine, 'cosine');
  checkClassCountMatches(classes, numClasses, 'cosine', 'options.clsNumList');
  checkLabels(labels, batch, classes, 'labels');
  const [noiseBatch, noiseClasses] = checkScores(noise, 'noise');
  if (noiseBatch !== batch || noiseClasses !== classes) {
    throw new RangeError(`noise must have the shape of cosine [${batch}, ${classes}], got [${noiseBatch}, ${noiseClasses}]`);
  }
}

/** Throws naming the loss unless it was given a noise draw (registry losses with `cloudNoise: true`). */
export function requireNoise<T>(noise: T | null, lossName: string): T {
  if (noise === null || noise === undefined) throw new TypeError(`${lossName}: this loss needs a cloud noise draw (inputs.noise), got null`);
  return noise;
}
