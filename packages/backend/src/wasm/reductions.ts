import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, heapFloat32, reshapeWasm, runWasmKernel, sizeOf, type TensorInfo } from './kernel-helpers.js';

type KernelArguments = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/**
 * Constant row vectors (all `value`) kept on the wasm heap per backend, keyed by length and value.
 * A reduction over leading axes is `row · X` with X reshaped to (rows, channels): one XNNPACK matrix product,
 * several times faster than the stock Mean/Sum, which first transposes the reduced axes to the end.
 */
const constantRows = new WeakMap<BackendWasm, Map<string, TensorInfo>>();

function constantRow(backend: BackendWasm, length: number, value: number): TensorInfo {
  let cache = constantRows.get(backend);
  if (cache == null) {
    cache = new Map();
    constantRows.set(backend, cache);
  }
  const key = `${length}:${value}`;
  let row = cache.get(key);
  if (row == null) {
    row = backend.makeOutput([1, 1, length], 'float32');
    heapFloat32(backend, row).fill(value);
    cache.set(key, row);
  }
  return row;
}

/** Frees the cached constant rows of a backend (they are small; tests call this to check for leaks). */
export function releaseConstantRows(backend: BackendWasm): void {
  const cache = constantRows.get(backend);
  if (cache == null) return;
  for (const row of cache.values()) backend.disposeData(row.dataId);
  constantRows.delete(backend);
}

/** Number of leading axes reduced when `axes` is exactly 0..k−1 (k < rank), else 0. */
export function leadingReductionCount(axes: readonly number[], rank: number): number {
  const sorted = [...axes].sort((first, second) => first - second);
  if (sorted.length === 0 || sorted.length >= rank) return 0;
  return sorted.every((axis, index) => axis === index) ? sorted.length : 0;
}

/**
 * Mean or Sum over leading axes as a matrix product with a constant row (`1/rows` for Mean, `1` for Sum);
 * anything else (other axes, keepDims handled by the op, non-float32) goes to the stock kernel.
 */
export function leadingReductionWasm(args: KernelArguments, fallback: tf.KernelFunc, isMean: boolean): TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs.x as TensorInfo;
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims?: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const reduced = leadingReductionCount(axes, x.shape.length);
  if (x.dtype !== 'float32' || reduced === 0) return fallback(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const rows = sizeOf(x.shape.slice(0, reduced));
  const keptShape = x.shape.slice(reduced);
  const columns = sizeOf(keptShape);
  // Average pooling over a (1, rows, 1, columns) image with a rows × 1 window: XNNPACK's multipass pooling.
  const image = reshapeWasm(backend, x, [1, rows, 1, columns]);
  const pooled = runWasmKernel(
    backend,
    'AvgPool',
    { x: image },
    { filterSize: [rows, 1], strides: [1, 1], pad: 'valid', dimRoundingMode: undefined },
  );
  disposeIntermediates(backend, image);
  let product = pooled;
  if (!isMean) {
    product = runWasmKernel(backend, 'Multiply', { a: pooled, b: constantRow(backend, 1, rows) });
    disposeIntermediates(backend, pooled);
  }
  const outputShape = keepDims === true ? [...x.shape.slice(0, reduced).map(() => 1), ...keptShape] : keptShape;
  const output = reshapeWasm(backend, product, outputShape);
  disposeIntermediates(backend, product);
  return output;
}
