import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** SIMD instruction sets the kernels are compiled for; one is selected at load time. */
export type SimdLevel = 'avx512' | 'avx2' | 'scalar';

/** Convolution algorithms: `'auto'` (direct convolutions where they apply, else im2col) or `'im2col'` only. */
export type ConvolutionAlgorithm = 'auto' | 'im2col';

/** The functions the compiled addon exports (see src/native/addon.cc). All arrays are used in place. */
export interface NativeAddon {
  conv2d(x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: Float32Array, shape: Int32Array, relu: number): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, shape: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, shape: Int32Array): void;
  batchMatMul(
    a: Float32Array, b: Float32Array, bias: Float32Array | null, out: Float32Array,
    batch: number, m: number, n: number, k: number, aBatchStride: number, bBatchStride: number,
    transposeA: number, transposeB: number, relu: number,
  ): void;
  binary(
    op: number, a: Float32Array, b: Float32Array, out: Float32Array, total: number, rowLength: number,
    aRowStride: number, aRowModulus: number, aRun: number, bRowStride: number, bRowModulus: number, bRun: number,
    aRowDivisor: number, bRowDivisor: number,
  ): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha: number): void;
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, reduceSize: number, inner: number): void;
  batchNorm(
    x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null,
    scale: Float32Array | null, epsilon: number, channels: number, out: Float32Array, relu?: number,
  ): void;
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  tile(x: Float32Array | Int32Array, out: Float32Array | Int32Array, shape: Int32Array, reps: Int32Array): void;
  /** layout: Int32Array of 7 * rank: srcShape, srcBegin, srcStep, dstShape, dstBegin, dstStep, size. */
  copyBox(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, layout: Int32Array): void;
  batchNormSums(
    x: Float32Array, dy: Float32Array, mean: Float32Array, channels: number,
    sumDy: Float64Array, sumDyCentered: Float64Array,
  ): void;
  batchNormTraining(
    x: Float32Array, gamma: Float32Array, beta: Float32Array, epsilon: number, channels: number, relu: number,
    y: Float32Array, mean: Float32Array, variance: Float32Array,
  ): void;
  batchNormTrainingGrad(
    dy: Float32Array, x: Float32Array, y: Float32Array | null, gamma: Float32Array, mean: Float32Array,
    variance: Float32Array, epsilon: number, channels: number, dx: Float32Array, dGamma: Float32Array, dBeta: Float32Array,
  ): void;
  getSimdLevel(): SimdLevel;
  getDetectedSimdLevel(): SimdLevel;
  setSimdLevel(level: SimdLevel): SimdLevel;
  getNumThreads(): number;
  setNumThreads(threads: number): number;
  getConvolutionAlgorithm(): ConvolutionAlgorithm;
  setConvolutionAlgorithm(algorithm: ConvolutionAlgorithm): ConvolutionAlgorithm;
  getDeterministic(): boolean;
  setDeterministic(on: boolean): boolean;
}

const moduleFile = typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
// src/ and dist/ both sit one level below the package root, next to build/.
const packageRoot = path.resolve(path.dirname(moduleFile), '..');

/** Where the compiled addon is looked for; `LONGTAIL_NATIVE_ADDON` overrides it (used by tests). */
export function nativeAddonPath(): string {
  return process.env.LONGTAIL_NATIVE_ADDON ?? path.join(packageRoot, 'build', 'Release', 'longtail_native.node');
}

/**
 * `LONGTAIL_NATIVE_DETERMINISTIC`: `1`/`true`/`on` or `0`/`false`/`off` (any case); unset or empty = the default.
 * @throws Error naming the variable for any other value.
 */
export function parseDeterministicSetting(setting: string | undefined): boolean | undefined {
  if (setting === undefined || setting.trim() === '') return undefined;
  const value = setting.trim().toLowerCase();
  if (value === '1' || value === 'true' || value === 'on') return true;
  if (value === '0' || value === 'false' || value === 'off') return false;
  throw new Error(`LONGTAIL_NATIVE_DETERMINISTIC must be 1, 0, true, false, on or off, got '${setting}'`);
}

/** What scripts/build-addon.cjs recorded at install time (build/install-result.json), if it ran. */
function installResult(): { status?: string; reason?: string } | undefined {
  try {
    return JSON.parse(readFileSync(path.join(packageRoot, 'build', 'install-result.json'), 'utf8')) as { status?: string; reason?: string };
  } catch {
    return undefined;
  }
}

/**
 * Why the addon is missing, from the record its install script leaves: the script never ran (npm's
 * `--ignore-scripts`, pnpm ≥ 10 or Bun, which skip dependencies' build scripts unless allowed), it was told to skip,
 * or the compile failed; each with the command that builds it.
 */
function missingAddonMessage(addonPath: string): string {
  // The cause and the command first: callers such as selectBackend keep only the first 200 characters.
  const rebuild = 'npm rebuild @longtail/backend-native';
  const result = installResult();
  if (process.env.LONGTAIL_NATIVE_ADDON !== undefined) return `the compiled addon ${addonPath} (set by LONGTAIL_NATIVE_ADDON) does not exist; unset it to use the package's own build (${rebuild})`;
  if (result === undefined) {
    return (
      `install script of @longtail/backend-native did not run; build the addon with: ${rebuild} ` +
      '(npm --ignore-scripts, pnpm ≥ 10 and Bun skip build scripts of dependencies: with pnpm, pnpm approve-builds then ' +
      `pnpm rebuild @longtail/backend-native; it needs a C++ compiler and make). Expected at ${addonPath}`
    );
  }
  if (result.status === 'skipped') {
    return `addon build skipped at install (LONGTAIL_SKIP_NATIVE_BUILD=1); build it with: ${rebuild}. Expected at ${addonPath}`;
  }
  return (
    `building it at install time failed (${result.reason ?? 'unknown reason'}); install a C++ compiler and make ` +
    `(Debian/Ubuntu: apt-get install g++ make), then: ${rebuild}. Expected at ${addonPath}`
  );
}

let cachedAddon: NativeAddon | undefined;
let cachedError: Error | undefined;

/**
 * Loads the compiled addon (once; later calls return the same object).
 * Thread count: `LONGTAIL_NUM_THREADS` if set, else the number of cores. Deterministic reductions:
 * `LONGTAIL_NATIVE_DETERMINISTIC` if set, else on.
 * @throws Error naming the path and the cause when the addon is missing or fails to load.
 */
export function loadNativeAddon(): NativeAddon {
  if (cachedAddon) return cachedAddon;
  if (cachedError) throw cachedError;
  const addonPath = nativeAddonPath();
  try {
    if (!existsSync(addonPath)) throw new Error(missingAddonMessage(addonPath));
    const requireFromHere = createRequire(moduleFile);
    const addon = requireFromHere(addonPath) as NativeAddon;
    if (typeof addon.conv2d !== 'function') throw new Error(`${addonPath} is not the longtail native addon`);
    const threads = process.env.LONGTAIL_NUM_THREADS;
    if (threads !== undefined && threads !== '') {
      const count = Number(threads);
      if (!Number.isInteger(count) || count < 1) {
        throw new Error(`LONGTAIL_NUM_THREADS must be a positive integer, got '${threads}'`);
      }
      addon.setNumThreads(count);
    }
    const deterministic = parseDeterministicSetting(process.env.LONGTAIL_NATIVE_DETERMINISTIC);
    if (deterministic !== undefined) addon.setDeterministic(deterministic);
    cachedAddon = addon;
    return addon;
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    cachedError = new Error(`@longtail/backend-native: cannot load the native addon: ${cause}`, { cause: error });
    throw cachedError;
  }
}

/** True when the compiled addon loads on this machine. Never throws. */
export function isNativeAvailable(): boolean {
  try {
    loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

/** Forgets a cached load result so the next call retries (tests that swap the addon path). */
export function resetNativeAddonCache(): void {
  cachedAddon = undefined;
  cachedError = undefined;
}
