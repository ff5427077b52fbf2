import * as tf from './tf.js';
import { classifierLayer } from './features.js';
import { NormedLinear, TorchBatchNorm, TorchConv2D } from './layers.js';
import { decodeSafetensors, readSafetensorsFile, type SafetensorsDtype, type SafetensorsTensor } from './safetensors.js';

/** A tensor in PyTorch layout: row-major values of `shape` (e.g. a conv weight `(out, in/groups, kh, kw)`). */
export interface TorchTensor {
  shape: number[];
  values: ArrayLike<number> | SafetensorsTensor['values'];
  /** Stored element type when known (`decodeSafetensors` sets it): weights must be F32, F16, BF16 or F64. */
  dtype?: SafetensorsDtype | string;
}

/** One tensor of the PyTorch state dict that a model expects, and where it goes. */
interface StateDictSlot {
  torchName: string;
  torchShape: number[];
  layer: tf.layers.Layer;
  weightIndex: number;
  /** Permutation taking the PyTorch array to the tfjs weight; null when the layouts agree. */
  torchToTfjs: number[] | null;
  /** Part of the classifier head (skipped by `skipClassifier`). */
  classifier: boolean;
}

/** Buffers PyTorch saves that carry no model state we need. */
function isIgnoredBuffer(name: string): boolean {
  return name.endsWith('.num_batches_tracked') || name === 'num_batches_tracked';
}

function stateDictSlots(model: tf.LayersModel): StateDictSlot[] {
  const head = classifierLayer(model);
  const slots: StateDictSlot[] = [];
  for (const layer of model.layers) {
    const shapes = layer.weights.map((weight) => weight.shape as number[]);
    const classifier = layer === head;
    const slot = (suffix: string, weightIndex: number, torchShape: number[], torchToTfjs: number[] | null) =>
      slots.push({ torchName: `${layer.name}.${suffix}`, torchShape, layer, weightIndex, torchToTfjs, classifier });
    if (layer instanceof TorchConv2D) {
      const [kernelHeight, kernelWidth, inputPerGroup, outputChannels] = shapes[0];
      // PyTorch OIHW → tfjs HWIO.
      slot('weight', 0, [outputChannels, inputPerGroup, kernelHeight, kernelWidth], [2, 3, 1, 0]);
    } else if (layer instanceof TorchBatchNorm) {
      slot('weight', 0, shapes[0], null);
      slot('bias', 1, shapes[1], null);
      slot('running_mean', 2, shapes[2], null);
      slot('running_var', 3, shapes[3], null);
    } else if (layer instanceof NormedLinear) {
      // NormedLinear stores (in, out) on both sides.
      slot('weight', 0, shapes[0], null);
    } else if (layer.getClassName() === 'Dense') {
      const [inputFeatures, units] = shapes[0];
      // nn.Linear stores (out, in).
      slot('weight', 0, [units, inputFeatures], [1, 0]);
      if (shapes.length > 1) slot('bias', 1, shapes[1], null);
    } else if (shapes.length > 0) {
      throw new Error(`state dict: no PyTorch mapping for layer '${layer.name}' (${layer.getClassName()})`);
    }
  }
  return slots;
}

/** Options of {@link loadStateDict} and {@link loadPyTorchWeights}. */
export interface LoadStateDictOptions {
  /**
   * Load the backbone only: the classifier head's tensors are neither required nor used (e.g. an ImageNet-pretrained
   * ResNet-152 under a new 365-class Places-LT head). Default false.
   */
  skipClassifier?: boolean;
}

/** What {@link loadStateDict} did. */
export interface LoadStateDictReport {
  /** PyTorch names whose values were set. */
  loaded: string[];
  /** PyTorch names present but deliberately not used (`num_batches_tracked`, the head with `skipClassifier`). */
  ignored: string[];
}

/**
 * Transpose a row-major array: output axis `k` is input axis `permutation[k]` (numpy's `transpose`). Plain loops are
 * an order of magnitude faster than the cpu backend's generic transpose for the 10⁷–10⁸ values of big backbones.
 */
export function permute(values: Float32Array, shape: readonly number[], permutation: readonly number[]): Float32Array {
  const rank = shape.length;
  const inputStrides = new Array<number>(rank);
  let stride = 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    inputStrides[axis] = stride;
    stride *= shape[axis];
  }
  const outputShape = permutation.map((axis) => shape[axis]);
  const strides = permutation.map((axis) => inputStrides[axis]);
  const output = new Float32Array(values.length);
  if (rank === 2) {
    const [rows, columns] = outputShape;
    const [rowStride, columnStride] = strides;
    let index = 0;
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < columns; column++) output[index++] = values[row * rowStride + column * columnStride];
    }
    return output;
  }
  if (rank === 4) {
    const [size0, size1, size2, size3] = outputShape;
    const [stride0, stride1, stride2, stride3] = strides;
    let index = 0;
    for (let i0 = 0; i0 < size0; i0++) {
      for (let i1 = 0; i1 < size1; i1++) {
        for (let i2 = 0; i2 < size2; i2++) {
          const base = i0 * stride0 + i1 * stride1 + i2 * stride2;
          for (let i3 = 0; i3 < size3; i3++) output[index++] = values[base + i3 * stride3];
        }
      }
    }
    return output;
  }
  throw new Error(`permute: rank ${rank} is not supported (2 or 4)`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, axis) => size === b[axis]);
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** The integer / boolean element type of a tensor that should hold float weights, or null when it is floating point. */
function nonFloatType(tensor: TorchTensor): string | null {
  if (typeof tensor.dtype === 'string' && !FLOAT_DTYPES.has(tensor.dtype)) return tensor.dtype;
  const values = tensor.values as unknown;
  if (ArrayBuffer.isView(values) && !(values instanceof Float32Array || values instanceof Float64Array)) {
    return values.constructor.name;
  }
  return null;
}

/**
 * The first value that is NaN or ±Infinity once stored as float32 (so an F64 1e39 counts), with how many there are;
 * null when all are finite.
 */
function firstNonFinite(values: ArrayLike<number>): { index: number; value: number; count: number } | null {
  let first = -1;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const value = Math.fround(values[i]);
    // value − value is 0 for every finite number, NaN for NaN and ±Infinity (and for a non-number).
    if (value - value !== 0) {
      if (first < 0) first = i;
      count += 1;
    }
  }
  return first < 0 ? null : { index: first, value: values[first], count };
}

/** The first value negative once stored as float32 (a running variance must be ≥ 0), or null. */
function firstNegative(values: ArrayLike<number>): { index: number; value: number } | null {
  for (let i = 0; i < values.length; i++) if (Math.fround(values[i]) < 0) return { index: i, value: values[i] };
  return null;
}

function toFloat32(values: TorchTensor['values']): Float32Array {
  if (values instanceof Float32Array) return values;
  if (values instanceof BigInt64Array) return Float32Array.from(values, (value) => Number(value));
  return Float32Array.from(values as ArrayLike<number>);
}

/**
 * Set the weights of a model built by this package from a PyTorch state dict (torchvision / reference-code names:
 * `conv1.weight`, `layer1.0.bn1.running_var`, `layer1.0.downsample.0.weight`, `fc.weight`, `linear.bias`, …).
 * Convolutions are transposed OIHW → HWIO, `nn.Linear` weights (out, in) → (in, out); batch-norm running statistics
 * are imported; `num_batches_tracked` is ignored (whatever its dtype; PyTorch stores it as int64). Nothing is changed
 * unless every tensor matches: otherwise one error lists by name every missing, unexpected and mis-shaped tensor, every
 * weight stored as integers or booleans (I64, I32, …, BOOL) instead of floating point, every tensor holding NaN or
 * ±Infinity (as float32), and every negative `running_var`.
 */
export function loadStateDict(
  model: tf.LayersModel,
  stateDict: Map<string, TorchTensor> | Record<string, TorchTensor>,
  options: LoadStateDictOptions = {},
): LoadStateDictReport {
  const entries = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
  const slots = stateDictSlots(model);
  const skipClassifier = options.skipClassifier === true;
  const expected = new Map(slots.map((slot) => [slot.torchName, slot]));
  const missing: string[] = [];
  const misShaped: string[] = [];
  const misShapedNames = new Set<string>();
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const slot of slots) {
    if (skipClassifier && slot.classifier) continue;
    const tensor = entries.get(slot.torchName);
    if (tensor == null) {
      missing.push(slot.torchName);
    } else if (!sameShape(tensor.shape, slot.torchShape) || tensor.values.length !== tensor.shape.reduce((p, s) => p * s, 1)) {
      misShapedNames.add(slot.torchName);
      misShaped.push(`${slot.torchName} (expected [${slot.torchShape.join(', ')}], got [${tensor.shape.join(', ')}])`);
    }
  }
  // Values of the tensors that will be loaded: float dtypes, finite, running variances ≥ 0.
  const notFloat: string[] = [];
  const nonFinite: string[] = [];
  const negativeVariance: string[] = [];
  for (const slot of slots) {
    if (skipClassifier && slot.classifier) continue;
    const tensor = entries.get(slot.torchName);
    if (tensor == null || misShapedNames.has(slot.torchName)) continue;
    const integerType = nonFloatType(tensor);
    if (integerType != null) {
      notFloat.push(`${slot.torchName} (${integerType})`);
      continue;
    }
    const values = tensor.values as ArrayLike<number>;
    const bad = firstNonFinite(values);
    if (bad != null) {
      nonFinite.push(`${slot.torchName} (${bad.value} at index ${bad.index}; ${bad.count} of ${values.length} values)`);
      continue;
    }
    if (slot.torchName.endsWith('.running_var')) {
      const negative = firstNegative(values);
      if (negative != null) negativeVariance.push(`${slot.torchName} (${negative.value} at index ${negative.index})`);
    }
  }
  const headPrefix = `${classifierLayer(model).name}.`;
  for (const name of entries.keys()) {
    const slot = expected.get(name);
    if (isIgnoredBuffer(name) || (skipClassifier && (slot?.classifier || name.startsWith(headPrefix)))) {
      ignored.push(name);
    } else if (slot == null) {
      unexpected.push(name);
    }
  }
  const problems = missing.length + misShaped.length + unexpected.length + notFloat.length + nonFinite.length + negativeVariance.length;
  if (problems > 0) {
    const parts = [
      missing.length > 0 ? `missing (${missing.length}): ${missing.join(', ')}` : '',
      unexpected.length > 0 ? `unexpected (${unexpected.length}): ${unexpected.join(', ')}` : '',
      misShaped.length > 0 ? `wrong shape (${misShaped.length}): ${misShaped.join('; ')}` : '',
      notFloat.length > 0 ? `not floating point (${notFloat.length}): ${notFloat.join(', ')}` : '',
      nonFinite.length > 0 ? `NaN or infinite values (${nonFinite.length}): ${nonFinite.join(', ')}` : '',
      negativeVariance.length > 0 ? `negative running_var (${negativeVariance.length}): ${negativeVariance.join(', ')}` : '',
    ].filter((part) => part.length > 0);
    throw new Error(`loadStateDict: the state dict does not match model '${model.name}': ${parts.join(' | ')}`);
  }
  const loaded: string[] = [];
  for (const slot of slots) {
    if (skipClassifier && slot.classifier) continue;
    const tensor = entries.get(slot.torchName)!;
    const torchValues = toFloat32(tensor.values);
    const values =
      slot.torchToTfjs == null
        ? tf.tensor(torchValues, slot.torchShape, 'float32')
        : tf.tensor(
            permute(torchValues, slot.torchShape, slot.torchToTfjs),
            slot.torchToTfjs.map((axis) => slot.torchShape[axis]),
            'float32',
          );
    // write() copies the reference into the variable; our tensor can go.
    slot.layer.weights[slot.weightIndex].write(values);
    values.dispose();
    loaded.push(slot.torchName);
  }
  return { loaded, ignored };
}

/** One tensor of an exported state dict: float32 weights and statistics, int64 `num_batches_tracked`. */
export type ExportedTensor =
  | { shape: number[]; values: Float32Array; dtype: 'F32' }
  | { shape: number[]; values: BigInt64Array; dtype: 'I64' };

/** Options of {@link exportStateDict}. */
export interface ExportStateDictOptions {
  /**
   * The value written to every batch norm's `num_batches_tracked` (PyTorch's int64 training-step counter; it only
   * changes the statistics when PyTorch's `momentum=None`, which neither the paper nor we use). Default 0; pass the
   * number of training steps taken to match a PyTorch model trained as long.
   */
  numBatchesTracked?: number;
}

/**
 * The PyTorch names and shapes of the tensors {@link loadStateDict} requires of `model` (weights and running
 * statistics; not `num_batches_tracked`), in PyTorch's `state_dict()` order. Reads no values.
 */
export function stateDictShapes(model: tf.LayersModel): Array<[name: string, shape: number[]]> {
  return stateDictSlots(model).map((slot) => [slot.torchName, slot.torchShape]);
}

/**
 * The model's state as a PyTorch `state_dict()`: every weight and running statistic as float32 in PyTorch's layout
 * and names, plus an int64 `num_batches_tracked` after each batch norm's `running_var`, so PyTorch's strict
 * `load_state_dict` accepts it. The inverse of {@link loadStateDict}; write it with `encodeSafetensors`. Reads
 * asynchronously (`data()`), so it works on GPU backends, where a synchronous read throws or stalls.
 */
export async function exportStateDict(
  model: tf.LayersModel,
  options: ExportStateDictOptions = {},
): Promise<Map<string, ExportedTensor>> {
  const numBatchesTracked = options.numBatchesTracked ?? 0;
  if (!Number.isSafeInteger(numBatchesTracked) || numBatchesTracked < 0) {
    throw new Error(`exportStateDict: options.numBatchesTracked must be a non-negative integer, got ${numBatchesTracked}`);
  }
  const slots = stateDictSlots(model);
  const weights = slots.map((slot) => slot.layer.weights[slot.weightIndex].read());
  const read = await Promise.all(weights.map((weight) => weight.data() as Promise<Float32Array>));
  const result = new Map<string, ExportedTensor>();
  slots.forEach((slot, index) => {
    const tfjsValues = Float32Array.from(read[index]);
    const values =
      slot.torchToTfjs == null
        ? tfjsValues
        : permute(
            tfjsValues,
            weights[index].shape,
            slot.torchToTfjs.map((_, axis) => slot.torchToTfjs!.indexOf(axis)),
          );
    result.set(slot.torchName, { shape: slot.torchShape, values, dtype: 'F32' });
    if (slot.layer instanceof TorchBatchNorm && slot.torchName.endsWith('.running_var')) {
      result.set(`${slot.layer.name}.num_batches_tracked`, {
        shape: [],
        values: BigInt64Array.from([BigInt(numBatchesTracked)]),
        dtype: 'I64',
      });
    }
  });
  return result;
}

/**
 * Import PyTorch weights from a `.safetensors` file (path, Node only) or its bytes into `model`; see
 * {@link loadStateDict} for the name mapping and errors. Supports F32, F16, BF16 and F64 tensors. The file is fully
 * validated by {@link decodeSafetensors} (offsets, sizes, no overlaps) before any tensor is decoded.
 */
export async function loadPyTorchWeights(
  model: tf.LayersModel,
  source: string | Uint8Array | ArrayBuffer,
  options: LoadStateDictOptions = {},
): Promise<LoadStateDictReport> {
  const file = typeof source === 'string' ? await readSafetensorsFile(source) : decodeSafetensors(source);
  return loadStateDict(model, file.tensors, options);
}
