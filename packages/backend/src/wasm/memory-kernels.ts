import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapFloat32, sizeOf, type TensorInfo } from './kernel-helpers.js';

type KernelArguments = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/**
 * Identity that shares the buffer (reference count + 1) instead of copying it, as the cpu backend does.
 * Safe because no wasm kernel writes into its inputs. Gradients clone tensors a lot (about 1000 clones per
 * ResNet-32 step), so the stock copying Identity costs hundreds of milliseconds per step.
 */
export function shareIdentityWasm(args: KernelArguments, fallback: tf.KernelFunc): TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string') return fallback(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Cast that shares the buffer when the dtype does not change (e.g. `cast(x, 'float32')` in moments and ReLU grad). */
export function shareCastWasm(args: KernelArguments, fallback: tf.KernelFunc): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  const dtype = (args.attrs as { dtype?: string } | undefined)?.dtype;
  if (dtype !== x.dtype || x.dtype === 'string') return fallback(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  return shareIdentityWasm(args, fallback);
}

/** Name of the broadcast-and-scale kernel used by the Mean and Sum gradients. */
export const BROADCAST_SCALE_KERNEL = 'LongtailBroadcastScale';

/**
 * `out = broadcast(x, shape) · scale` for float32 `x` whose shape is `shape` with some axes set to 1, when those axes
 * are all leading (`x` repeats as a block, e.g. a per-channel vector) or all trailing (`x` repeats per element).
 * Mean and Sum gradients need exactly this; the generic path builds `ones(shape)` in JavaScript and multiplies.
 */
export function broadcastScaleWasm(args: KernelArguments): TensorInfo {
  const backend = args.backend as BackendWasm;
  const x = args.inputs.x as TensorInfo;
  const { shape, scale } = args.attrs as unknown as { shape: number[]; scale: number };
  const layout = broadcastLayout(x.shape, shape);
  if (layout == null) throw new Error(`shape: cannot broadcast [${x.shape}] to [${shape}] with a block layout`);
  const output = backend.makeOutput(shape, 'float32');
  const source = heapFloat32(backend, x);
  const target = heapFloat32(backend, output);
  const { outer, inner, repeatsBlock } = layout;
  if (repeatsBlock) {
    // x is one block of `inner` values repeated `outer` times.
    const block = new Float32Array(inner);
    for (let index = 0; index < inner; index += 1) block[index] = source[index] * scale;
    for (let offset = 0; offset < outer * inner; offset += inner) target.set(block, offset);
  } else {
    // Every x value fills a run of `inner` outputs.
    for (let row = 0; row < outer; row += 1) target.fill(source[row] * scale, row * inner, (row + 1) * inner);
  }
  return output;
}

/**
 * Describes `from → to` broadcasting as `outer × inner`: either `from` equals the trailing `inner` block
 * (`repeatsBlock`), or `from` equals the leading `outer` part and each value repeats `inner` times. Null otherwise.
 */
export function broadcastLayout(
  from: readonly number[],
  to: readonly number[],
): { outer: number; inner: number; repeatsBlock: boolean } | null {
  if (from.length !== to.length) return null;
  const total = sizeOf(to);
  const kept = from.map((size, axis) => size === to[axis] && size !== 1);
  const reduced = from.map((size, axis) => size === 1 && to[axis] !== 1);
  if (from.some((size, axis) => size !== to[axis] && size !== 1)) return null;
  const firstKept = kept.indexOf(true);
  const lastReduced = reduced.lastIndexOf(true);
  if (firstKept === -1 || lastReduced === -1) {
    // Only one kind of axis: a plain block repeat covers it.
    const inner = sizeOf(from);
    return { outer: total / inner, inner, repeatsBlock: true };
  }
  if (reduced.slice(firstKept).every((value) => !value)) {
    const inner = sizeOf(to.slice(firstKept));
    return { outer: total / inner, inner, repeatsBlock: true };
  }
  const firstReduced = reduced.indexOf(true);
  if (kept.slice(firstReduced).every((value) => !value)) {
    const outer = sizeOf(to.slice(0, firstReduced));
    return { outer, inner: total / outer, repeatsBlock: false };
  }
  return null;
}
