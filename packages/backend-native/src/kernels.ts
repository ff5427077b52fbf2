import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import {
  backend_util,
  slice_util,
  util,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import type { NativeAddon } from './addon.js';
import type { BufferPool } from './buffer-pool.js';

/** Arguments tfjs passes to a kernel function. */
interface KernelArguments {
  inputs: Record<string, TensorInfo | undefined | null>;
  backend: MathBackendCPU;
  attrs?: NamedAttrMap;
}

/** A native implementation returns `undefined` when it does not support the case; the cpu kernel then runs. */
type NativeImplementation = (args: KernelArguments, addon: NativeAddon) => TensorInfo | undefined;

// Operation codes shared with src/native/addon.cc.
const BinaryCode = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6, ReluGrad: 7, SquareGrad: 8, AddRelu: 9 } as const;
const UnaryCode = { Relu: 0, Square: 1, Neg: 2, Abs: 3, Sqrt: 4, Rsqrt: 5, Exp: 6, Log: 7, Step: 8, Sigmoid: 9 } as const;
const ReduceCode = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

function float32Values(backend: MathBackendCPU, tensor: TensorInfo | undefined | null): Float32Array | undefined {
  if (tensor == null || tensor.dtype !== 'float32') return undefined;
  const values = backend.data.get(tensor.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

function sizeOf(shape: readonly number[]): number {
  return util.sizeFromShape(shape as number[]);
}

/**
 * An output array whose every element the kernel writes: recycled from the backend's buffer pool when
 * possible (no allocation, zeroing, page faults or GC pressure), else new.
 */
function floats(backend: MathBackendCPU, count: number): Float32Array {
  const pool = (backend as { bufferPool?: BufferPool }).bufferPool;
  return pool ? pool.allocate(count) : new Float32Array(count);
}

function output(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ----------------------------------------------------------------------------------------------
// Convolutions

interface ConvolutionInfo {
  info: backend_util.Conv2DInfo;
  shape: Int32Array;
}

function convolutionInfo(
  inputShape: number[],
  filterShape: number[],
  attrs: NamedAttrMap,
  dilations: number | [number, number],
): ConvolutionInfo | undefined {
  const dataFormat = (attrs.dataFormat as string | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') return undefined;
  const info = backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    dilations,
    attrs.pad as 'valid' | 'same' | number | backend_util.ExplicitPadding,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  if (info.batchSize * info.outHeight * info.outWidth * info.outChannels === 0) return undefined;
  const shape = Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.filterHeight, info.filterWidth, info.outChannels,
    info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ]);
  return { info, shape };
}

/** Bias as a per-output-channel array (size `channels`), or undefined when its shape is not supported. */
function channelVector(values: Float32Array, shape: readonly number[], channels: number): Float32Array | undefined {
  if (values.length === channels && (shape.length === 0 || shape[shape.length - 1] === channels)) return values;
  if (values.length === 1) return new Float32Array(channels).fill(values[0]);
  return undefined;
}

function supportedActivation(attrs: NamedAttrMap): boolean | undefined {
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  if (activation === 'linear') return false;
  if (activation === 'relu') return true;
  return undefined;
}

const conv2D: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  const filter = float32Values(backend, inputs.filter);
  if (!x || !filter) return undefined;
  const convolution = convolutionInfo(inputs.x!.shape, inputs.filter!.shape, attrs, attrs.dilations as [number, number]);
  if (!convolution) return undefined;
  const out = floats(backend, sizeOf(convolution.info.outShape));
  addon.conv2d(x, filter, null, out, convolution.shape, 0);
  return output(backend, convolution.info.outShape, out);
};

const fusedConv2D: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  const filter = float32Values(backend, inputs.filter);
  const relu = supportedActivation(attrs);
  if (!x || !filter || relu === undefined || inputs.preluActivationWeights) return undefined;
  const convolution = convolutionInfo(inputs.x!.shape, inputs.filter!.shape, attrs, attrs.dilations as [number, number]);
  if (!convolution) return undefined;
  let bias: Float32Array | null = null;
  if (inputs.bias) {
    const values = float32Values(backend, inputs.bias);
    const vector = values && channelVector(values, inputs.bias.shape, convolution.info.outChannels);
    if (!vector) return undefined;
    bias = vector;
  }
  const out = floats(backend, sizeOf(convolution.info.outShape));
  addon.conv2d(x, filter, bias, out, convolution.shape, relu ? 1 : 0);
  return output(backend, convolution.info.outShape, out);
};

const conv2DBackpropInput: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const dy = float32Values(backend, inputs.dy);
  const filter = float32Values(backend, inputs.filter);
  if (!dy || !filter) return undefined;
  const convolution = convolutionInfo(attrs.inputShape as number[], inputs.filter!.shape, attrs, 1);
  if (!convolution) return undefined;
  const dx = floats(backend, sizeOf(convolution.info.inShape));
  addon.conv2dBackpropInput(dy, filter, dx, convolution.shape);
  return output(backend, convolution.info.inShape, dx);
};

const conv2DBackpropFilter: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  const dy = float32Values(backend, inputs.dy);
  if (!x || !dy) return undefined;
  const filterShape = attrs.filterShape as number[];
  const convolution = convolutionInfo(inputs.x!.shape, filterShape, attrs, 1);
  if (!convolution) return undefined;
  const dw = floats(backend, sizeOf(filterShape));
  addon.conv2dBackpropFilter(x, dy, dw, convolution.shape);
  return output(backend, [...filterShape], dw);
};

// ----------------------------------------------------------------------------------------------
// Matrix multiplication

function matMul(args: KernelArguments, addon: NativeAddon, fused: boolean): TensorInfo | undefined {
  const { inputs, backend, attrs = {} } = args;
  const a = float32Values(backend, inputs.a);
  const b = float32Values(backend, inputs.b);
  if (!a || !b) return undefined;
  const aShape = inputs.a!.shape;
  const bShape = inputs.b!.shape;
  if (aShape.length < 2 || bShape.length < 2) return undefined;
  const transposeA = Boolean(attrs.transposeA);
  const transposeB = Boolean(attrs.transposeB);
  const m = transposeA ? aShape[aShape.length - 1] : aShape[aShape.length - 2];
  const k = transposeA ? aShape[aShape.length - 2] : aShape[aShape.length - 1];
  const kB = transposeB ? bShape[bShape.length - 1] : bShape[bShape.length - 2];
  const n = transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
  if (k !== kB) return undefined; // let the cpu kernel produce its error message
  const aBatch = sizeOf(aShape.slice(0, -2));
  const bBatch = sizeOf(bShape.slice(0, -2));
  let batchShape: number[];
  try {
    batchShape = backend_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    return undefined;
  }
  const batch = sizeOf(batchShape);
  if ((aBatch !== batch && aBatch !== 1) || (bBatch !== batch && bBatch !== 1)) return undefined;
  let relu = 0;
  let bias: Float32Array | null = null;
  if (fused) {
    const activation = supportedActivation(attrs);
    if (activation === undefined || inputs.preluActivationWeights) return undefined;
    relu = activation ? 1 : 0;
    if (inputs.bias) {
      const values = float32Values(backend, inputs.bias);
      const vector = values && channelVector(values, inputs.bias.shape, n);
      if (!vector) return undefined;
      bias = vector;
    }
  }
  const outShape = [...batchShape, m, n];
  const out = floats(backend, sizeOf(outShape));
  if (out.length === 0) return undefined;
  addon.batchMatMul(
    a, b, bias, out, batch, m, n, k,
    aBatch === 1 ? 0 : m * k, bBatch === 1 ? 0 : k * n,
    transposeA ? 1 : 0, transposeB ? 1 : 0, relu,
  );
  return output(backend, outShape, out);
}

// ----------------------------------------------------------------------------------------------
// Element-wise binary operations with broadcasting.
//
// The output is walked in rows of `rowLength` elements. In each row an operand is either a contiguous
// run (`run`, starting at (row % modulus) * stride) or a single repeated value. That covers:
// same shape, a scalar, a trailing block such as a [C] channel vector against NHWC, and a leading
// block such as [B, 1] against [B, 10]. Anything else falls back to the cpu kernel.

interface OperandWalk {
  stride: number;
  modulus: number;
  divisor: number;
  run: boolean;
  /** Row length this operand requires, or 0 when it works with any. */
  rowLength: number;
}

const UNCONSTRAINED_ROW = 4096;

/**
 * How an operand of `shape` is read while walking `outShape`. Supported: the full shape, a scalar, and
 * any shape that equals the output except for ONE contiguous block of broadcast (size-1) axes, e.g.
 * [C] or [1,1,1,C] against [N,H,W,C], [N,1,1,C] (a mean over H, W) or [B,1] against [B,10].
 * Row r of such an operand starts at ((r / divisor) % modulus) * stride.
 */
function operandWalk(shape: readonly number[], outShape: readonly number[]): OperandWalk | undefined {
  const total = sizeOf(outShape);
  const size = sizeOf(shape);
  if (size === total) return { stride: -1, modulus: 0, divisor: 1, run: true, rowLength: 0 }; // stride set later
  if (size === 1) return { stride: 0, modulus: 1, divisor: 1, run: false, rowLength: 0 };
  const padded = [...new Array<number>(outShape.length - shape.length).fill(1), ...shape];
  // Output axes of extent 1 do not affect the layout.
  const extents: number[] = [];
  const kept: boolean[] = [];
  outShape.forEach((extent, axis) => {
    if (extent === 1) return;
    extents.push(extent);
    kept.push(padded[axis] === extent);
  });
  const first = kept.indexOf(false);
  const last = kept.lastIndexOf(false);
  for (let axis = first; axis <= last; axis++) if (kept[axis]) return undefined;
  const prefix = sizeOf(extents.slice(0, first));
  const middle = sizeOf(extents.slice(first, last + 1));
  const suffix = sizeOf(extents.slice(last + 1));
  if (suffix > 1) return { stride: suffix, modulus: prefix, divisor: middle, run: true, rowLength: suffix };
  return { stride: 1, modulus: prefix, divisor: 1, run: false, rowLength: middle };
}

/** out = a (op) b with broadcasting, natively; undefined when the broadcast pattern is not supported. */
function binaryNative(
  backend: MathBackendCPU,
  addon: NativeAddon,
  code: number,
  a: Float32Array,
  aShape: readonly number[],
  b: Float32Array,
  bShape: readonly number[],
  outShape: number[],
): Float32Array | undefined {
  const total = sizeOf(outShape);
  if (total === 0) return undefined;
  const aWalk = operandWalk(aShape, outShape);
  const bWalk = operandWalk(bShape, outShape);
  if (!aWalk || !bWalk) return undefined;
  if (aWalk.rowLength && bWalk.rowLength && aWalk.rowLength !== bWalk.rowLength) return undefined;
  let rowLength = aWalk.rowLength || bWalk.rowLength || Math.min(total, UNCONSTRAINED_ROW);
  // Short rows (a [C] channel vector against NHWC) are merged into long ones when every operand is
  // full, a scalar, or the same row each time: that row is tiled into a longer buffer.
  const sameRow = (walk: OperandWalk) => walk.run && walk.stride !== -1 && walk.modulus === 1;
  const mergeable = [aWalk, bWalk].every((walk) => walk.stride === -1 || !walk.run || sameRow(walk)) &&
    [aWalk, bWalk].every((walk) => walk.run || walk.stride === 0);
  if (rowLength < 1024 && total > rowLength && mergeable) {
    const repeats = Math.ceil(2048 / rowLength);
    const merged = rowLength * repeats;
    const tiled = (values: Float32Array) => {
      const buffer = new Float32Array(merged);
      for (let r = 0; r < repeats; r++) buffer.set(values.subarray(0, rowLength), r * rowLength);
      return buffer;
    };
    if (sameRow(aWalk)) a = tiled(a);
    if (sameRow(bWalk)) b = tiled(b);
    for (const walk of [aWalk, bWalk]) if (sameRow(walk)) walk.divisor = 1;
    rowLength = merged;
  }
  const rows = Math.ceil(total / rowLength);
  for (const walk of [aWalk, bWalk]) {
    if (walk.stride === -1) {
      walk.stride = rowLength;
      walk.modulus = rows;
    }
  }
  const out = floats(backend, total);
  addon.binary(
    code, a, b, out, total, rowLength,
    aWalk.stride, aWalk.modulus, aWalk.run ? 1 : 0,
    bWalk.stride, bWalk.modulus, bWalk.run ? 1 : 0,
    aWalk.divisor, bWalk.divisor,
  );
  return out;
}

function binaryKernel(code: number): NativeImplementation {
  return ({ inputs, backend }, addon) => {
    const a = float32Values(backend, inputs.a);
    const b = float32Values(backend, inputs.b);
    if (!a || !b) return undefined;
    const outShape = backend_util.assertAndGetBroadcastShape(inputs.a!.shape, inputs.b!.shape);
    const out = binaryNative(backend, addon, code, a, inputs.a!.shape, b, inputs.b!.shape, outShape);
    return out && output(backend, outShape, out);
  };
}

function unaryKernel(code: number): NativeImplementation {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const x = float32Values(backend, inputs.x);
    if (!x || x.length === 0) return undefined;
    const out = floats(backend, x.length);
    const alpha = code === UnaryCode.Step ? Number(attrs.alpha ?? 0) : 0;
    addon.unary(code, x, out, alpha);
    return output(backend, [...inputs.x!.shape], out);
  };
}

// ----------------------------------------------------------------------------------------------
// Reductions over one contiguous block of axes: view x as [outer, reduced, inner].

function reduceKernel(code: number): NativeImplementation {
  return ({ inputs, backend, attrs = {} }, addon) => {
    const x = float32Values(backend, inputs.x);
    if (!x || x.length === 0) return undefined;
    const shape = inputs.x!.shape;
    // Sum/Mean call the attribute `axis`, Max/Min `reductionIndices`.
    const axisAttribute = (attrs.axis ?? attrs.reductionIndices) as number | number[];
    const axes = [...util.parseAxisParam(axisAttribute, shape)].sort((p, q) => p - q);
    if (axes.length === 0) return undefined;
    for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return undefined;
    const first = axes[0];
    const last = axes[axes.length - 1];
    const outer = sizeOf(shape.slice(0, first));
    const reduced = sizeOf(shape.slice(first, last + 1));
    const inner = sizeOf(shape.slice(last + 1));
    const keepDims = Boolean(attrs.keepDims);
    const outShape = keepDims
      ? shape.map((dimension, axis) => (axis >= first && axis <= last ? 1 : dimension))
      : shape.filter((_, axis) => axis < first || axis > last);
    const out = floats(backend, outer * inner);
    addon.reduce(code, x, out, outer, reduced, inner);
    return output(backend, outShape, out);
  };
}

const fusedBatchNorm: NativeImplementation = (args, addon) => batchNormWithRunningStatistics(args, addon, false);

/**
 * Inference-mode batch norm with an optional fused ReLU (the contract `@longtail/backbones`' `TorchBatchNorm` looks
 * for): inputs as FusedBatchNorm's `{ x, mean, variance, offset?, scale? }`, attributes
 * `{ varianceEpsilon, activation: 'linear' | 'relu' }`; one pass `y = act((x − mean)/√(variance + ε)·scale + offset)`.
 */
const batchNormInference: NativeImplementation = (args, addon) =>
  batchNormWithRunningStatistics(args, addon, (args.attrs ?? {}).activation === 'relu');

function batchNormWithRunningStatistics({ inputs, backend, attrs = {} }: KernelArguments, addon: NativeAddon, relu: boolean): TensorInfo | undefined {
  const x = float32Values(backend, inputs.x);
  const mean = float32Values(backend, inputs.mean);
  const variance = float32Values(backend, inputs.variance);
  if (!x || !mean || !variance || x.length === 0) return undefined;
  const shape = inputs.x!.shape;
  const channels = shape[shape.length - 1] ?? 1;
  const fits = (tensor: TensorInfo | null | undefined) => {
    if (tensor == null) return true;
    const size = sizeOf(tensor.shape);
    return size === 1 || (size === channels && tensor.shape[tensor.shape.length - 1] === channels);
  };
  let offset: Float32Array | null = null;
  let scale: Float32Array | null = null;
  if (inputs.offset) {
    const values = float32Values(backend, inputs.offset);
    if (!values) return undefined;
    offset = values;
  }
  if (inputs.scale) {
    const values = float32Values(backend, inputs.scale);
    if (!values) return undefined;
    scale = values;
  }
  if (![inputs.mean, inputs.variance, inputs.offset, inputs.scale].every(fits)) return undefined;
  const epsilon = Number(attrs.varianceEpsilon ?? 0.001);
  const out = floats(backend, x.length);
  addon.batchNorm(x, mean, variance, offset, scale, epsilon, channels, out, relu ? 1 : 0);
  return output(backend, [...shape], out);
}

const transpose: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  const shape = inputs.x?.shape;
  if (!x || !shape || x.length === 0 || shape.length > 8) return undefined;
  const perm = attrs.perm as number[];
  const outShape = perm.map((axis) => shape[axis]);
  const out = floats(backend, x.length);
  addon.transpose(x, out, Int32Array.from(shape), Int32Array.from(perm));
  return output(backend, outShape, out);
};

const tile: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const input = inputs.x;
  if (!input || (input.dtype !== 'float32' && input.dtype !== 'int32')) return undefined;
  const values = backend.data.get(input.dataId).values;
  if (!(values instanceof Float32Array) && !(values instanceof Int32Array)) return undefined;
  const reps = attrs.reps as number[];
  const shape = input.shape;
  if (shape.length === 0 || shape.length > 8 || reps.length !== shape.length) return undefined;
  const outShape = shape.map((dimension, axis) => dimension * reps[axis]);
  const total = sizeOf(outShape);
  if (total === 0) return undefined;
  const out = input.dtype === 'float32' ? floats(backend, total) : new Int32Array(total);
  addon.tile(values, out, Int32Array.from(shape), Int32Array.from(reps));
  return backend.makeTensorInfo(outShape, input.dtype, out);
};

// ----------------------------------------------------------------------------------------------
// Layout copies: Slice, PadV2, and 1x1 strided AvgPool / AvgPoolGrad (the option-A ResNet shortcut).

function fourByteValues(backend: MathBackendCPU, tensor: TensorInfo | undefined | null): Float32Array | Int32Array | undefined {
  if (tensor == null || (tensor.dtype !== 'float32' && tensor.dtype !== 'int32')) return undefined;
  const values = backend.data.get(tensor.dataId).values;
  return values instanceof Float32Array || values instanceof Int32Array ? values : undefined;
}

function copyBox(
  addon: NativeAddon,
  src: Float32Array | Int32Array, srcShape: readonly number[], srcBegin: readonly number[], srcStep: readonly number[],
  dst: Float32Array | Int32Array, dstShape: readonly number[], dstBegin: readonly number[], dstStep: readonly number[],
  size: readonly number[],
): void {
  addon.copyBox(src, dst, Int32Array.from([...srcShape, ...srcBegin, ...srcStep, ...dstShape, ...dstBegin, ...dstStep, ...size]));
}

const slice: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = inputs.x;
  const values = fourByteValues(backend, x);
  if (!x || !values || x.shape.length === 0 || x.shape.length > 8) return undefined;
  const [begin, size] = slice_util.parseSliceParams(x as never, attrs.begin as number[], attrs.size as number[]);
  // A contiguous slice is a zero-copy subarray in the cpu kernel already.
  if (slice_util.isSliceContinous(x.shape, begin, size) || sizeOf(size) === 0) return undefined;
  slice_util.assertParamsValid(x as never, begin, size);
  const ones = x.shape.map(() => 1);
  const out = x.dtype === 'float32' ? floats(backend, sizeOf(size)) : new Int32Array(sizeOf(size));
  copyBox(addon, values, x.shape, begin, ones, out, size, x.shape.map(() => 0), ones, size);
  return backend.makeTensorInfo(size, x.dtype, out);
};

/**
 * `GatherV2` (`tf.gather`) without batch dimensions: `out[o, i, r] = x[o, indices[i], r]` over the axis, as row
 * copies of `inner` contiguous elements. The cpu kernel reads every element through index arithmetic, ~25 ms for
 * the batch of a mixup step (128 × 32 × 32 × 3); this is a memcpy per row. Indices out of range go to the cpu
 * kernel, which reports them.
 */
const gatherV2: NativeImplementation = ({ inputs, backend, attrs = {} }) => {
  const { x, indices } = inputs;
  const values = fourByteValues(backend, x);
  if (!x || !indices || !values || indices.dtype !== 'int32' || Number(attrs.batchDims ?? 0) !== 0) return undefined;
  const indexValues = backend.data.get(indices.dataId).values;
  if (!(indexValues instanceof Int32Array) || x.shape.length === 0) return undefined;
  const axis = util.parseAxisParam(Number(attrs.axis ?? 0), x.shape)[0];
  const axisSize = x.shape[axis];
  for (let i = 0; i < indexValues.length; i++) if (!(indexValues[i] >= 0 && indexValues[i] < axisSize)) return undefined;
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const count = indexValues.length;
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = x.dtype === 'float32' ? floats(backend, outer * count * inner) : new Int32Array(outer * count * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < count; i++) {
      const from = (o * axisSize + indexValues[i]) * inner;
      const to = (o * count + i) * inner;
      if (inner >= 16) out.set(values.subarray(from, from + inner), to);
      else for (let r = 0; r < inner; r++) out[to + r] = values[from + r];
    }
  }
  return backend.makeTensorInfo(outShape, x.dtype, out);
};

const padV2: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = inputs.x;
  const values = fourByteValues(backend, x);
  if (!x || !values || x.shape.length === 0 || x.shape.length > 8 || values.length === 0) return undefined;
  const paddings = attrs.paddings as Array<[number, number]>;
  const outShape = x.shape.map((extent, axis) => paddings[axis][0] + extent + paddings[axis][1]);
  // float32 outputs come from the recycled-buffer pool (no page faults), so they are filled whatever the constant.
  const out = x.dtype === 'float32' ? floats(backend, sizeOf(outShape)) : new Int32Array(sizeOf(outShape));
  const constant = Number(attrs.constantValue ?? 0);
  if (constant !== 0 || out instanceof Float32Array) out.fill(constant);
  const ones = x.shape.map(() => 1);
  copyBox(addon, values, x.shape, x.shape.map(() => 0), ones, out, outShape, paddings.map((p) => p[0]), ones, x.shape);
  return backend.makeTensorInfo(outShape, x.dtype, out);
};

function pointPoolInfo(xShape: number[], attrs: NamedAttrMap): backend_util.Conv2DInfo | undefined {
  const info = backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const pointwise = info.filterHeight === 1 && info.filterWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0;
  return pointwise && info.outHeight > 0 && info.outWidth > 0 ? info : undefined;
}

// A 1x1 average pool is the strided subsample x[:, ::sh, ::sw, :].
const avgPool: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  if (!x || inputs.x!.shape.length !== 4) return undefined;
  const info = pointPoolInfo(inputs.x!.shape, attrs);
  if (!info) return undefined;
  const out = floats(backend, sizeOf(info.outShape));
  copyBox(addon, x, info.inShape, [0, 0, 0, 0], [1, info.strideHeight, info.strideWidth, 1],
    out, info.outShape, [0, 0, 0, 0], [1, 1, 1, 1], info.outShape);
  return output(backend, info.outShape, out);
};

const avgPoolGrad: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const dy = float32Values(backend, inputs.dy);
  if (!dy || !inputs.input || inputs.input.shape.length !== 4) return undefined;
  const info = pointPoolInfo(inputs.input.shape, attrs);
  if (!info || info.outShape.join() !== inputs.dy!.shape.join()) return undefined;
  const dx = new Float32Array(sizeOf(info.inShape));
  copyBox(addon, dy, info.outShape, [0, 0, 0, 0], [1, 1, 1, 1],
    dx, info.inShape, [0, 0, 0, 0], [1, info.strideHeight, info.strideWidth, 1], info.outShape);
  return output(backend, info.inShape, dx);
};

// ----------------------------------------------------------------------------------------------
// Fused gradient kernels (used by the gradient overrides in gradients.ts when the backend is 'native').

/** dy * step(x) in one pass (tfjs' Relu gradient is mul(dy, cast(step(x)))). */
const reluGrad: NativeImplementation = ({ inputs, backend }, addon) => {
  const dy = float32Values(backend, inputs.dy);
  const x = float32Values(backend, inputs.x);
  if (!dy || !x || dy.length !== x.length) return undefined;
  const shape = [...inputs.x!.shape];
  const out = binaryNative(backend, addon, BinaryCode.ReluGrad, dy, shape, x, shape, shape);
  return out && output(backend, shape, out);
};

/** dy * 2x in one pass (tfjs' Square gradient is mul(dy, mul(x, 2))). */
const squareGrad: NativeImplementation = ({ inputs, backend }, addon) => {
  const dy = float32Values(backend, inputs.dy);
  const x = float32Values(backend, inputs.x);
  if (!dy || !x || dy.length !== x.length) return undefined;
  const shape = [...inputs.x!.shape];
  const out = binaryNative(backend, addon, BinaryCode.SquareGrad, dy, shape, x, shape, shape);
  return out && output(backend, shape, out);
};

/** Mean's gradient: dy broadcast back over the reduced axes divided by their size, in one pass. */
const meanGrad: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const dy = float32Values(backend, inputs.dy);
  if (!dy) return undefined;
  const shape = attrs.shape as number[];
  const expandedShape = attrs.expandedShape as number[];
  const divisor = Float32Array.of(Number(attrs.reduceSize));
  const out = binaryNative(backend, addon, BinaryCode.RealDiv, dy, expandedShape, divisor, [], shape);
  return out && output(backend, shape, out);
};

/**
 * All five FusedBatchNorm gradients (x, mean, variance, scale, offset) from two passes over x and dy:
 * per-channel sums of dy and dy * (x - mean), then dx = dy * scale / sqrt(variance + epsilon).
 */
const batchNormGrad: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  const dy = float32Values(backend, inputs.dy);
  const mean = float32Values(backend, inputs.mean);
  const variance = float32Values(backend, inputs.variance);
  const scale = inputs.scale ? float32Values(backend, inputs.scale) : undefined;
  if (!x || !dy || !mean || !variance || (inputs.scale && !scale)) return undefined;
  const shape = inputs.x!.shape;
  const channels = shape[shape.length - 1];
  if (mean.length !== channels || variance.length !== channels || (scale && scale.length !== channels)) return undefined;
  if (dy.length !== x.length || x.length === 0) return undefined;
  const epsilon = Number(attrs.varianceEpsilon ?? 0.001);
  const sumDy = new Float64Array(channels);
  const sumDyCentered = new Float64Array(channels);
  addon.batchNormSums(x, dy, mean, channels, sumDy, sumDyCentered);
  const dxScale = new Float32Array(channels);
  const dMean = new Float32Array(channels);
  const dVariance = new Float32Array(channels);
  const dScale = new Float32Array(channels);
  const dOffset = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const inverse = 1 / Math.sqrt(Math.fround(variance[c] + epsilon));
    const gamma = scale ? scale[c] : 1;
    dxScale[c] = gamma * inverse;
    dMean[c] = -inverse * gamma * sumDy[c];
    dVariance[c] = -0.5 * inverse * inverse * inverse * gamma * sumDyCentered[c];
    dScale[c] = inverse * sumDyCentered[c];
    dOffset[c] = sumDy[c];
  }
  const dx = binaryNative(backend, addon, BinaryCode.Multiply, dy, shape, dxScale, [channels], [...shape]);
  if (!dx) return undefined;
  const channelShape = [channels];
  return [
    output(backend, [...shape], dx),
    output(backend, channelShape, dMean),
    output(backend, channelShape, dVariance),
    output(backend, channelShape, dScale),
    output(backend, channelShape, dOffset),
  ] as unknown as TensorInfo;
};

/**
 * Training-mode batch normalisation over the last axis in one kernel (the contract `@longtail/backbones`'
 * `TorchBatchNorm` looks for): inputs `{ x, scale, offset }` (scale = γ, offset = β, one value per channel),
 * attributes `{ varianceEpsilon, activation: 'linear' | 'relu' }`; outputs `[y, mean, variance]` with the batch mean,
 * the biased batch variance and `y = act((x − mean) / √(variance + ε) · γ + β)`.
 */
const batchNormTraining: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const x = float32Values(backend, inputs.x);
  const scale = float32Values(backend, inputs.scale);
  const offset = float32Values(backend, inputs.offset);
  if (!x || !scale || !offset) return undefined;
  const shape = [...inputs.x!.shape];
  const channels = shape[shape.length - 1];
  if (shape.length < 2 || scale.length !== channels || offset.length !== channels || x.length < 2 * channels) return undefined;
  const y = floats(backend, x.length);
  const mean = new Float32Array(channels);
  const variance = new Float32Array(channels);
  addon.batchNormTraining(x, scale, offset, Number(attrs.varianceEpsilon), channels, attrs.activation === 'relu' ? 1 : 0, y, mean, variance);
  return [output(backend, shape, y), output(backend, [channels], mean), output(backend, [channels], variance)] as unknown as TensorInfo;
};

/**
 * Gradient of {@link batchNormTraining}: inputs `{ dy, x, scale, mean, variance }` plus `y` (the forward output) when
 * `activation` is `'relu'`; outputs `[dx, dScale, dOffset]`. Two passes over x and dy (per-channel sums, then dx).
 */
const batchNormTrainingGrad: NativeImplementation = ({ inputs, backend, attrs = {} }, addon) => {
  const dy = float32Values(backend, inputs.dy);
  const x = float32Values(backend, inputs.x);
  const scale = float32Values(backend, inputs.scale);
  const mean = float32Values(backend, inputs.mean);
  const variance = float32Values(backend, inputs.variance);
  const relu = attrs.activation === 'relu';
  const y = relu ? float32Values(backend, inputs.y) : null;
  if (!dy || !x || !scale || !mean || !variance || y === undefined) return undefined;
  const shape = [...inputs.x!.shape];
  const channels = shape[shape.length - 1];
  if (dy.length !== x.length || (y && y.length !== x.length)) return undefined;
  if (scale.length !== channels || mean.length !== channels || variance.length !== channels) return undefined;
  const dx = floats(backend, x.length);
  const dScale = new Float32Array(channels);
  const dOffset = new Float32Array(channels);
  addon.batchNormTrainingGrad(dy, x, y, scale, mean, variance, Number(attrs.varianceEpsilon), channels, dx, dScale, dOffset);
  return [output(backend, shape, dx), output(backend, [channels], dScale), output(backend, [channels], dOffset)] as unknown as TensorInfo;
};

/** Kernels that exist only on the native backend (no cpu counterpart); names are this package's. */
export const fusedKernelNames = {
  reluGrad: 'LongtailReluGrad',
  squareGrad: 'LongtailSquareGrad',
  meanGrad: 'LongtailMeanGrad',
  batchNormGrad: 'LongtailBatchNormGrad',
  batchNormTraining: 'LongtailBatchNormTraining',
  batchNormTrainingGrad: 'LongtailBatchNormTrainingGrad',
  batchNormInference: 'LongtailBatchNormInference',
  /** `relu(a + b)` in one pass (inputs `{ a, b }`, broadcasting as Add): the residual join of a ResNet block. */
  addRelu: 'LongtailAddRelu',
} as const;

/** Kernel name → native implementation. Names are tfjs-core's kernel names. */
export const nativeImplementations: Readonly<Record<string, NativeImplementation>> = {
  Conv2D: conv2D,
  FusedConv2D: fusedConv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  BatchMatMul: (args, addon) => matMul(args, addon, false),
  _FusedMatMul: (args, addon) => matMul(args, addon, true),
  FusedBatchNorm: fusedBatchNorm,
  Add: binaryKernel(BinaryCode.Add),
  Sub: binaryKernel(BinaryCode.Sub),
  Multiply: binaryKernel(BinaryCode.Multiply),
  RealDiv: binaryKernel(BinaryCode.RealDiv),
  Maximum: binaryKernel(BinaryCode.Maximum),
  Minimum: binaryKernel(BinaryCode.Minimum),
  SquaredDifference: binaryKernel(BinaryCode.SquaredDifference),
  Relu: unaryKernel(UnaryCode.Relu),
  Square: unaryKernel(UnaryCode.Square),
  Neg: unaryKernel(UnaryCode.Neg),
  Abs: unaryKernel(UnaryCode.Abs),
  Sqrt: unaryKernel(UnaryCode.Sqrt),
  Rsqrt: unaryKernel(UnaryCode.Rsqrt),
  Exp: unaryKernel(UnaryCode.Exp),
  Log: unaryKernel(UnaryCode.Log),
  Step: unaryKernel(UnaryCode.Step),
  Sigmoid: unaryKernel(UnaryCode.Sigmoid),
  Sum: reduceKernel(ReduceCode.Sum),
  Mean: reduceKernel(ReduceCode.Mean),
  Max: reduceKernel(ReduceCode.Max),
  Min: reduceKernel(ReduceCode.Min),
  Transpose: transpose,
  Tile: tile,
  Slice: slice,
  GatherV2: gatherV2,
  PadV2: padV2,
  AvgPool: avgPool,
  AvgPoolGrad: avgPoolGrad,
  [fusedKernelNames.reluGrad]: reluGrad,
  [fusedKernelNames.squareGrad]: squareGrad,
  [fusedKernelNames.meanGrad]: meanGrad,
  [fusedKernelNames.batchNormGrad]: batchNormGrad,
  [fusedKernelNames.batchNormTraining]: batchNormTraining,
  [fusedKernelNames.batchNormTrainingGrad]: batchNormTrainingGrad,
  [fusedKernelNames.batchNormInference]: batchNormInference,
  [fusedKernelNames.addRelu]: binaryKernel(BinaryCode.AddRelu),
};

/** The kernel names the native backend overrides (everything else is the cpu backend's kernel). */
export const nativeKernelNames: readonly string[] = Object.keys(nativeImplementations);

/**
 * Wraps a native implementation into a tfjs kernel function that runs the cpu kernel for any case the
 * native code does not support (other dtypes, NCHW, unsupported broadcasts or activations).
 */
export function makeKernelFunction(
  name: string,
  cpuKernel: KernelConfig | undefined,
  addon: NativeAddon,
  counters?: Map<string, KernelCallCount>,
): KernelFunc {
  const implementation = nativeImplementations[name];
  const run = (args: KernelArguments) => {
    const result = implementation(args, addon);
    if (counters) {
      const entry = counters.get(name) ?? { native: 0, fallback: 0, cpuMicroseconds: 0 };
      if (result) entry.native++;
      else entry.fallback++;
      counters.set(name, entry);
    }
    if (result) return result;
    if (!cpuKernel) throw new Error(`@longtail/backend-native: no cpu kernel '${name}' to fall back to`);
    return cpuKernel.kernelFunc(args as never) as TensorInfo;
  };
  if (!counters) return run as unknown as KernelFunc;
  // Profiling: process CPU time (all threads) per kernel, robust to a loaded machine.
  return ((args: KernelArguments) => {
    const before = process.cpuUsage();
    const result = run(args);
    const used = process.cpuUsage(before);
    counters.get(name)!.cpuMicroseconds += used.user + used.system;
    return result;
  }) as unknown as KernelFunc;
}

/** Calls of one kernel on the native backend (collected with `countCalls`). */
export interface KernelCallCount {
  native: number;
  fallback: number;
  /** Process CPU time spent in the kernel, all threads. */
  cpuMicroseconds: number;
}
