import * as tf from '@tensorflow/tfjs-core';
// Importing the cpu backend registers its kernels, which the native backend copies.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

import { loadNativeAddon, type ConvolutionAlgorithm, type SimdLevel } from './addon.js';
import { BufferPool } from './buffer-pool.js';
import { installNativeGradients } from './gradients.js';
import { makeKernelFunction, nativeKernelNames, type KernelCallCount } from './kernels.js';

export {
  isNativeAvailable,
  loadNativeAddon,
  nativeAddonPath,
  resetNativeAddonCache,
  type ConvolutionAlgorithm,
  type NativeAddon,
  type SimdLevel,
} from './addon.js';
export { fusedKernelNames, nativeKernelNames, type KernelCallCount } from './kernels.js';

/** The tfjs backend name this package registers. */
export const NATIVE_BACKEND_NAME = 'native';

/** Options of {@link registerNativeBackend}. */
export interface RegisterNativeBackendOptions {
  /** Backend priority given to `tf.registerBackend` (default 0, so tfjs never picks it implicitly). */
  priority?: number;
  /** Worker threads including the caller (default: `LONGTAIL_NUM_THREADS`, else the number of cores). */
  threads?: number;
  /** Force a lower SIMD level than detected (default: the best the CPU supports, or `LONGTAIL_SIMD`). */
  simdLevel?: SimdLevel;
  /** Count native vs fallback calls and CPU time per kernel (see {@link getKernelCallCounts}); default false. */
  countCalls?: boolean;
  /**
   * Replace the Relu, Mean and FusedBatchNorm gradients by versions that use one fused native kernel
   * while the 'native' backend is active (other backends keep tfjs' own computation). Default true.
   */
  fuseGradients?: boolean;
  /**
   * Sum the reductions whose work is split among threads (the convolution filter gradients) in a fixed order, so
   * that results are bit-identical from run to run for the same inputs and thread count (and for any thread count
   * up to 16). Default: `LONGTAIL_NATIVE_DETERMINISTIC`, else true. See {@link setDeterministic}.
   */
  deterministic?: boolean;
}

/** What {@link registerNativeBackend} set up. */
export interface NativeBackendInfo {
  name: string;
  simdLevel: SimdLevel;
  detectedSimdLevel: SimdLevel;
  threads: number;
  /** Whether reductions are summed in a fixed order (see {@link setDeterministic}). */
  deterministic: boolean;
  /** Kernels served by native code (with a cpu fallback for unsupported cases). */
  nativeKernels: string[];
  /** Kernels copied unchanged from the cpu backend. */
  cpuKernels: number;
}

const callCounts = new Map<string, KernelCallCount>();

// cpu kernels whose outputs share their input's data only through the tensor reference count, never
// as a view: their inputs stay eligible for buffer recycling.
const REFERENCE_SHARING_KERNELS = new Set(['Reshape', 'Identity', 'Cast']);

/** The 'native' backend: the cpu backend plus recycling of native kernels' output buffers. */
class NativeBackend extends MathBackendCPU {
  readonly bufferPool = new BufferPool(bufferPoolBytes ?? defaultBufferPoolBytes());

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    // The array now escapes to user code (dataSync, data, array, ...): never recycle it.
    this.bufferPool.markShared(this.data.get(dataId)?.values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const freed = super.disposeData(dataId, force);
    if (freed && !this.data.has(dataId)) this.bufferPool.release(values);
    return freed;
  }
}

/** Default of {@link setBufferPoolLimit}: `LONGTAIL_BUFFER_POOL_MIB`, else {@link DEFAULT_BUFFER_POOL_MIB}. */
function defaultBufferPoolBytes(): number {
  const setting = process.env.LONGTAIL_BUFFER_POOL_MIB;
  if (setting === undefined || setting === '') return DEFAULT_BUFFER_POOL_MIB * 2 ** 20;
  const megabytes = Number(setting);
  if (!(megabytes >= 0)) throw new RangeError(`LONGTAIL_BUFFER_POOL_MIB must be a number >= 0, got '${setting}'`);
  return megabytes * 2 ** 20;
}

/** MiB of recycled buffers kept by default (see {@link setBufferPoolLimit}). */
export const DEFAULT_BUFFER_POOL_MIB = 1024;

let bufferPoolBytes: number | undefined;
let registered: NativeBackendInfo | undefined;

/**
 * Registers the tfjs backend `'native'`: a `MathBackendCPU` (same typed-array storage, so tensors move
 * between the two without copies) with every cpu kernel copied and the hot kernels replaced by the
 * native ones. Idempotent. Call `await tf.setBackend('native')` afterwards to use it.
 *
 * @throws Error when the addon is missing or cannot load (message says why); the process is not affected.
 */
export function registerNativeBackend(options: RegisterNativeBackendOptions = {}): NativeBackendInfo {
  const addon = loadNativeAddon();
  bufferPoolBytes ??= defaultBufferPoolBytes(); // a bad LONGTAIL_BUFFER_POOL_MIB fails here, by name
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new RangeError(`registerNativeBackend: options.threads must be a positive integer, got ${options.threads}`);
    }
    addon.setNumThreads(options.threads);
  }
  if (options.deterministic !== undefined) {
    if (typeof options.deterministic !== 'boolean') {
      throw new TypeError(`registerNativeBackend: options.deterministic must be a boolean, got ${String(options.deterministic)}`);
    }
    addon.setDeterministic(options.deterministic);
  }
  const environmentLevel = process.env.LONGTAIL_SIMD as SimdLevel | undefined;
  const level = options.simdLevel ?? (environmentLevel || undefined);
  if (level !== undefined) setSimdLevel(level);
  if (!registered) {
    const cpuKernels = tf.getKernelsForBackend('cpu');
    if (cpuKernels.length === 0) {
      throw new Error('registerNativeBackend: the cpu backend has no kernels registered (is @tensorflow/tfjs-backend-cpu loaded?)');
    }
    const counters = options.countCalls ? callCounts : undefined;
    if (!tf.findBackendFactory(NATIVE_BACKEND_NAME)) {
      tf.registerBackend(NATIVE_BACKEND_NAME, () => new NativeBackend(), options.priority ?? 0);
    }
    const cpuByName = new Map(cpuKernels.map((kernel) => [kernel.kernelName, kernel]));
    for (const kernel of cpuKernels) {
      if (nativeKernelNames.includes(kernel.kernelName)) continue;
      tf.registerKernel({
        ...kernel,
        backendName: NATIVE_BACKEND_NAME,
        kernelFunc: REFERENCE_SHARING_KERNELS.has(kernel.kernelName)
          ? kernel.kernelFunc
          : markingInputsShared(kernel.kernelFunc),
      });
    }
    for (const name of nativeKernelNames) {
      const cpuKernel = cpuByName.get(name);
      tf.registerKernel({
        kernelName: name,
        backendName: NATIVE_BACKEND_NAME,
        kernelFunc: makeKernelFunction(
          name,
          cpuKernel && { ...cpuKernel, kernelFunc: markingInputsShared(cpuKernel.kernelFunc) },
          addon,
          counters,
        ),
        setupFunc: cpuKernel?.setupFunc,
        disposeFunc: cpuKernel?.disposeFunc,
      });
    }
    registered = {
      name: NATIVE_BACKEND_NAME,
      simdLevel: addon.getSimdLevel(),
      detectedSimdLevel: addon.getDetectedSimdLevel(),
      threads: addon.getNumThreads(),
      deterministic: addon.getDeterministic(),
      nativeKernels: [...nativeKernelNames],
      cpuKernels: cpuKernels.length - nativeKernelNames.filter((name) => cpuByName.has(name)).length,
    };
  }
  if (options.fuseGradients ?? true) installNativeGradients();
  registered = {
    ...registered,
    simdLevel: addon.getSimdLevel(),
    threads: addon.getNumThreads(),
    deterministic: addon.getDeterministic(),
  };
  return { ...registered };
}

/** Wraps a cpu kernel so that its inputs are never recycled (it may return views of them). */
function markingInputsShared(kernelFunc: tf.KernelFunc): tf.KernelFunc {
  return ((args: { inputs: Record<string, tf.TensorInfo | null | undefined>; backend: NativeBackend }) => {
    const pool = args.backend.bufferPool;
    if (pool) {
      for (const input of Object.values(args.inputs)) {
        if (input) pool.markShared(args.backend.data.get(input.dataId)?.values);
      }
    }
    return kernelFunc(args as never);
  }) as unknown as tf.KernelFunc;
}

/**
 * Memory (MiB) of disposed native-kernel outputs kept for reuse by the 'native' backend (default
 * {@link DEFAULT_BUFFER_POOL_MIB} = 1024, or `LONGTAIL_BUFFER_POOL_MIB`; 0 disables recycling).
 * Applies to backends created after the call and to the current one.
 */
export function setBufferPoolLimit(megabytes: number): void {
  if (!(megabytes >= 0)) throw new RangeError(`setBufferPoolLimit: megabytes must be >= 0, got ${megabytes}`);
  bufferPoolBytes = megabytes * 2 ** 20;
  const backend = tf.findBackend(NATIVE_BACKEND_NAME) as NativeBackend | null;
  backend?.bufferPool.setLimit(bufferPoolBytes);
}

/** The SIMD level the kernels currently use. @throws when the addon is unavailable. */
export function getSimdLevel(): SimdLevel {
  return loadNativeAddon().getSimdLevel();
}

/** The best SIMD level this CPU supports. @throws when the addon is unavailable. */
export function getDetectedSimdLevel(): SimdLevel {
  return loadNativeAddon().getDetectedSimdLevel();
}

/**
 * Selects the kernel set: `'avx512'`, `'avx2'` (AVX2 + FMA) or `'scalar'` (portable C++). Only levels
 * the CPU supports are accepted; used by tests to check every dispatch path on one machine.
 * @throws RangeError naming `level` when it is unknown or unsupported here.
 */
export function setSimdLevel(level: SimdLevel): SimdLevel {
  if (level !== 'avx512' && level !== 'avx2' && level !== 'scalar') {
    throw new RangeError(`setSimdLevel: level must be 'avx512', 'avx2' or 'scalar', got '${String(level)}'`);
  }
  return loadNativeAddon().setSimdLevel(level);
}

/** Threads (including the calling thread) the kernels use. @throws when the addon is unavailable. */
export function getNumThreads(): number {
  return loadNativeAddon().getNumThreads();
}

/**
 * Sets the thread count of the persistent pool (default: cores, or `LONGTAIL_NUM_THREADS`).
 * @throws RangeError naming `threads` unless it is an integer in 1..256.
 */
export function setNumThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new RangeError(`setNumThreads: threads must be an integer in 1..256, got ${threads}`);
  }
  return loadNativeAddon().setNumThreads(threads);
}

/**
 * Deterministic reductions (default on, or `LONGTAIL_NATIVE_DETERMINISTIC`). The only native kernels whose work
 * items add into shared sums are the convolution filter gradients (`Conv2DBackpropFilter`, both algorithms); on,
 * each fixed range of work items (16 ranges, or one per thread above 16 threads) accumulates into its own partial
 * sum, in order, and the partials are added in range order, so the result depends only on the inputs and shapes:
 * bit-identical between runs, and for every thread count from 1 to 16. Off, one partial sum per thread: which
 * items each thread runs depends on timing, so the last bits vary from run to run. Every other native kernel is
 * deterministic either way (see docs/backend-native.md, "Determinism"). Applies process-wide.
 * @returns the setting now in use.
 * @throws TypeError naming `on` unless it is a boolean.
 */
export function setDeterministic(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError(`setDeterministic: on must be a boolean, got ${String(on)}`);
  return loadNativeAddon().setDeterministic(on);
}

/** Whether reductions are summed in a fixed order (see {@link setDeterministic}). @throws when the addon is unavailable. */
export function getDeterministic(): boolean {
  return loadNativeAddon().getDeterministic();
}

/**
 * Selects how `Conv2D`, `FusedConv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter` are computed:
 * - `'auto'` (default): direct (implicit-GEMM) convolutions that read the NHWC input in place when
 *   Cin is a multiple of 16, stride·Cin ∈ {16, 32, 64, 128} and Cout a multiple of the SIMD width (input
 *   gradient: the same rules with Cin and Cout swapped; stride > 1 only without dilation); every other case uses
 *   im2col + GEMM.
 * - `'im2col'`: always im2col + GEMM (the reference path).
 * Both give the same results up to float rounding. Applies process-wide, to every SIMD level.
 * @returns the algorithm now in use.
 * @throws RangeError naming `algorithm` when it is not `'auto'` or `'im2col'`.
 */
export function setConvolutionAlgorithm(algorithm: ConvolutionAlgorithm): ConvolutionAlgorithm {
  if (algorithm !== 'auto' && algorithm !== 'im2col') {
    throw new RangeError(`setConvolutionAlgorithm: algorithm must be 'auto' or 'im2col', got '${String(algorithm)}'`);
  }
  return loadNativeAddon().setConvolutionAlgorithm(algorithm);
}

/** The convolution algorithm in use (see {@link setConvolutionAlgorithm}). @throws when the addon is unavailable. */
export function getConvolutionAlgorithm(): ConvolutionAlgorithm {
  return loadNativeAddon().getConvolutionAlgorithm();
}

/** Native/fallback call counts and CPU time per kernel, collected when registered with `countCalls: true`. */
export function getKernelCallCounts(): Record<string, KernelCallCount> {
  return Object.fromEntries([...callCounts].map(([name, count]) => [name, { ...count }]));
}

/** Clears the counts of {@link getKernelCallCounts}. */
export function resetKernelCallCounts(): void {
  callCounts.clear();
}
