import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The wasm backend name in the tfjs registry. */
export const WASM_BACKEND_NAME = 'wasm';

/** A tensor handle as kernels see it: shape, dtype and an opaque data id. */
export type TensorInfo = tf.TensorInfo;

/**
 * Runs another kernel registered for the wasm backend and returns its output(s).
 * Kernels composed this way stay on the wasm heap (no copies through JavaScript).
 */
export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const kernel = tf.getKernel(kernelName, WASM_BACKEND_NAME);
  if (kernel == null) {
    throw new Error(`kernelName: wasm kernel '${kernelName}' is not registered`);
  }
  const output = kernel.kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    attrs: attrs as tf.NamedAttrMap,
    backend,
  });
  if (Array.isArray(output)) {
    throw new Error(`kernelName: wasm kernel '${kernelName}' returned several outputs where one was expected`);
  }
  return output;
}

/** Frees intermediate tensors created inside a kernel (kernels do not run under tf.tidy). */
export function disposeIntermediates(backend: BackendWasm, ...infos: Array<TensorInfo | undefined>): void {
  for (const info of infos) {
    if (info != null) backend.disposeData(info.dataId);
  }
}

/** Reshape on the wasm backend shares the buffer (no copy); the result must still be disposed. */
export function reshapeWasm(backend: BackendWasm, x: TensorInfo, shape: number[]): TensorInfo {
  return runWasmKernel(backend, 'Reshape', { x }, { shape });
}

/** Float32 view of a tensor's bytes on the wasm heap. Take it after the last allocation: heap growth detaches it. */
export function heapFloat32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * Crops (negative amount) or zero-pads (positive amount) the two spatial axes of an NHWC tensor.
 * Returns the input itself when nothing changes, so callers compare before disposing.
 */
export function padOrCropSpatial(
  backend: BackendWasm,
  x: TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
): TensorInfo {
  const [batch, height, width, channels] = x.shape;
  let current = x;
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    current = runWasmKernel(
      backend,
      'Slice',
      { x: current },
      {
        begin: [0, cropTop, cropLeft, 0],
        size: [batch, height - cropTop - cropBottom, width - cropLeft - cropRight, channels],
      },
    );
  }
  const padTop = Math.max(0, top);
  const padBottom = Math.max(0, bottom);
  const padLeft = Math.max(0, left);
  const padRight = Math.max(0, right);
  if (padTop + padBottom + padLeft + padRight > 0) {
    const padded = runWasmKernel(
      backend,
      'PadV2',
      { x: current },
      {
        paddings: [
          [0, 0],
          [padTop, padBottom],
          [padLeft, padRight],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    if (current !== x) disposeIntermediates(backend, current);
    current = padded;
  }
  return current;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dimension of shape) size *= dimension;
  return size;
}
