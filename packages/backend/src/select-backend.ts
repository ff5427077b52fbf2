import * as tf from '@tensorflow/tfjs-core';
import { explainMissingPeer } from './optional-peer.js';
import { setUpWasmBackend } from './wasm/setup.js';
import { formatAdapter, setUpWebGpuBackend, vulkanDriverInstalled } from './webgpu/setup.js';

/** Backends {@link selectBackend} can choose, fastest first. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;

/** One of {@link BACKEND_NAMES}. `tensorflow` means `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/**
 * The tfjs backends whose tensors live in host memory, where reading a value back is a copy rather than a wait for
 * a device: `cpu`, `wasm`, `native`, `tensorflow`. On the others (`webgpu`, `webgl`) code that runs every step should
 * read asynchronously and seldom.
 */
export function isHostMemoryBackend(tfBackend: string): boolean {
  return tfBackend === 'cpu' || tfBackend === 'wasm' || tfBackend === 'native' || tfBackend === 'tensorflow';
}

/** One attempt made by {@link selectBackend}, in order. */
export interface BackendAttempt {
  /** Which backend was tried. */
  name: BackendName;
  /** The module tried for it, e.g. `@tensorflow/tfjs-node-gpu`. */
  module: string;
  /** Whether it loaded and became the active tfjs backend. */
  ok: boolean;
  /** Why it did not (first line of the error), when `ok` is false. */
  error?: string;
  /** What it runs with when `ok` (SIMD level, threads, …). */
  detail?: string;
}

/** What a loader reports after making its backend active. */
export interface LoadedBackend {
  /** The tfjs backend name now active (`tf.getBackend()`). */
  tfBackend: string;
  /** Short description for the summary line, e.g. `avx512, 2 threads`. */
  detail: string;
}

/** A loader makes one candidate the active tfjs backend or throws saying why it cannot. */
export type BackendLoader = () => Promise<LoadedBackend>;

/** The candidates in the order tried; each backend may have several (tensorflow: GPU build, then CPU build). */
export interface BackendCandidate {
  name: BackendName;
  module: string;
  load: BackendLoader;
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /** Try this backend first, then the others in the default order. An explicit preference that fails is reported. */
  prefer?: BackendName;
  /** Do not print the summary line (default false: it goes to `log`). */
  quiet?: boolean;
  /** Where the summary line goes (default `console.log`; when the preferred backend failed, `console.warn`). */
  log?: (line: string) => void;
  /** Directory of the tfjs-backend-wasm binaries (default: the installed package's `dist/`; set it in browsers). */
  wasmPaths?: string;
  /** Threads for the native pack (default: its own default, the number of cores or `LONGTAIL_NUM_THREADS`). */
  nativeThreads?: number;
  /** Dawn toggles for the webgpu backend in Node (the `webgpu` package's `create()`), e.g. `['backend=vulkan']`. */
  dawnOptions?: string[];
  /** Replace candidate loaders (tests inject failing loaders; embedders can add their own). */
  loaders?: Partial<Record<string, BackendLoader>>;
}

/** Result of {@link selectBackend}. */
export interface BackendSelection {
  /** The backend chosen. */
  backend: BackendName;
  /** The active tfjs backend name (`tensorflow`, `webgpu`, `native`, `wasm` or `cpu`). */
  tfBackend: string;
  /** Why this one: the first that worked, with what the faster ones failed on. */
  reason: string;
  /** Every attempt, in order. */
  tried: BackendAttempt[];
  /** One line for the trainer's output, e.g. `backend: native (avx512, 2 threads); tensorflow unavailable: …`. */
  summary: string;
  /** True when `prefer` was given and that backend could not be used. */
  preferenceFailed: boolean;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n').find((text) => text.trim() !== '') ?? message;
  return line.length > 200 ? `${line.slice(0, 197)}…` : line;
}

// Variable specifiers keep bundlers from resolving optional packages that are usually not installed.
async function importOptional(specifier: string): Promise<Record<string, unknown>> {
  return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
}

async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed to initialise the backend`);
}

function tensorflowLoader(module: string): BackendLoader {
  return async () => {
    await importOptional(module).catch((error: unknown) => {
      throw explainMissingPeer(module, 'the TensorFlow C++ backend', error);
    });
    await activate('tensorflow');
    return { tfBackend: 'tensorflow', detail: module.replace('@tensorflow/', '') };
  };
}

function nativeLoader(threads: number | undefined): BackendLoader {
  return async () => {
    const native = await importOptional('@longtail/backend-native').catch((error: unknown) => {
      throw explainMissingPeer('@longtail/backend-native', 'the native kernel pack', error);
    });
    const register = native.registerNativeBackend as
      | ((options?: { threads?: number }) => { simdLevel: string; threads: number; name?: string })
      | undefined;
    if (typeof register !== 'function') throw new Error('@longtail/backend-native has no registerNativeBackend()');
    const info = register(threads === undefined ? {} : { threads });
    const backendName = info.name ?? 'native';
    await activate(backendName);
    return { tfBackend: backendName, detail: `${info.simdLevel}, ${info.threads} thread${info.threads === 1 ? '' : 's'}` };
  };
}

function wasmLoader(wasmPaths: string | undefined): BackendLoader {
  return async () => {
    const setup = await setUpWasmBackend(wasmPaths);
    const simd = setup.simd ? 'SIMD' : 'no SIMD';
    return { tfBackend: 'wasm', detail: `${simd}, ${setup.threads} thread${setup.threads === 1 ? '' : 's'}, trainable kernels` };
  };
}

/** webgpu on a hardware adapter; a software one (SwiftShader, llvmpipe) only when webgpu was asked for by name. */
function webgpuLoader(allowSoftwareAdapter: boolean, dawnOptions: string[] | undefined): BackendLoader {
  return async () => {
    // By name, Dawn is always tried (its own error is the clearest); under auto, not where no Vulkan driver is.
    if (!allowSoftwareAdapter && !vulkanDriverInstalled()) throw new Error('no Vulkan driver installed (no ICD manifest in /etc/vulkan/icd.d or /usr/share/vulkan/icd.d)');
    const setup = await setUpWebGpuBackend({ allowSoftwareAdapter, dawnOptions });
    return { tfBackend: 'webgpu', detail: formatAdapter(setup.adapter) };
  };
}

const cpuLoader: BackendLoader = async () => {
  // A peer dependency (the application's copy, at its tfjs version); importing it registers the 'cpu' backend.
  await import('@tensorflow/tfjs-backend-cpu');
  await activate('cpu');
  return { tfBackend: 'cpu', detail: 'pure JavaScript' };
};

/**
 * The default candidates, fastest first: `@tensorflow/tfjs-node-gpu` (an optional dependency that needs CUDA 11 and
 * libtensorflow at install time), `@tensorflow/tfjs-backend-webgpu` (Dawn from the optional `webgpu` package in
 * Node; a hardware adapter unless `prefer` is `'webgpu'`), `@tensorflow/tfjs-node`, the native kernel pack
 * `@longtail/backend-native`, tfjs-backend-wasm with the trainable kernels of this package, and the
 * pure-JavaScript cpu backend.
 */
export function defaultBackendCandidates(
  options: Pick<SelectBackendOptions, 'wasmPaths' | 'nativeThreads' | 'prefer' | 'dawnOptions'> = {},
): BackendCandidate[] {
  return [
    { name: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', load: tensorflowLoader('@tensorflow/tfjs-node-gpu') },
    { name: 'webgpu', module: '@tensorflow/tfjs-backend-webgpu', load: webgpuLoader(options.prefer === 'webgpu', options.dawnOptions) },
    { name: 'tensorflow', module: '@tensorflow/tfjs-node', load: tensorflowLoader('@tensorflow/tfjs-node') },
    { name: 'native', module: '@longtail/backend-native', load: nativeLoader(options.nativeThreads) },
    { name: 'wasm', module: '@tensorflow/tfjs-backend-wasm', load: wasmLoader(options.wasmPaths) },
    { name: 'cpu', module: '@tensorflow/tfjs-backend-cpu', load: cpuLoader },
  ];
}

function validateOptions(options: SelectBackendOptions): void {
  if (options.prefer !== undefined && !(BACKEND_NAMES as readonly string[]).includes(options.prefer)) {
    throw new Error(`prefer: expected one of ${BACKEND_NAMES.join(', ')}, got '${String(options.prefer)}'`);
  }
  if (options.log !== undefined && typeof options.log !== 'function') {
    throw new Error('log: expected a function taking one line of text');
  }
  if (options.dawnOptions !== undefined && !(Array.isArray(options.dawnOptions) && options.dawnOptions.every((o) => typeof o === 'string'))) {
    throw new Error('dawnOptions: expected an array of strings such as "backend=vulkan"');
  }
  if (options.nativeThreads !== undefined && !(Number.isInteger(options.nativeThreads) && options.nativeThreads > 0)) {
    throw new Error(`nativeThreads: expected a positive integer, got ${String(options.nativeThreads)}`);
  }
}

/**
 * The reason as the summary line shows it: a missing package or an unbuilt tfjs-node binding in a few words (the
 * full message stays in `tried[].error`), anything else cut to 120 characters.
 */
function shortReason(error: string | undefined): string {
  if (error == null) return 'unknown error';
  if (/Cannot find (package|module) '[^']+'/.test(error)) return 'not installed';
  if (/tfjs_binding\.node\)? can ?not be found/i.test(error)) {
    return 'native binding not built (its install step downloads libtensorflow)';
  }
  // @longtail/backend-native's own diagnosis of a missing addon (from the record its install script leaves).
  if (/install script of @longtail\/backend-native did not run/.test(error)) {
    return 'addon not built: the package manager skipped its install script (npm rebuild @longtail/backend-native)';
  }
  if (/building it at install time failed/.test(error)) {
    return 'addon build failed at install (needs g++ and make; then npm rebuild @longtail/backend-native)';
  }
  return error.length > 120 ? `${error.slice(0, 117)}...` : error;
}

/** Formats the one-line summary from the attempts (exported for callers that build their own selection). */
export function summarizeAttempts(tried: readonly BackendAttempt[], prefer?: BackendName): string {
  const chosen = tried.find((attempt) => attempt.ok);
  const head = chosen == null ? 'backend: none available' : `backend: ${chosen.name} (${chosen.detail ?? chosen.module})`;
  const failures = tried
    .filter((attempt) => !attempt.ok)
    .map((attempt) => {
      const label = attempt.name === 'tensorflow' ? attempt.module.replace('@tensorflow/', '') : attempt.name;
      const preferred = prefer === attempt.name && chosen?.name !== prefer ? 'preferred ' : '';
      return `${preferred}${label} unavailable: ${shortReason(attempt.error)}`;
    });
  return [head, ...failures].join('; ');
}

/**
 * Chooses where tensors run and makes it the active tfjs backend. Tries, in order (or starting with `prefer`):
 * `@tensorflow/tfjs-node-gpu`, `webgpu` on a hardware adapter (tfjs-backend-webgpu; Dawn from the optional `webgpu`
 * package in Node), `@tensorflow/tfjs-node`, `native` (`@longtail/backend-native`), `wasm` (tfjs-backend-wasm with
 * this package's trainable kernels), `cpu`. A software WebGPU adapter (SwiftShader, llvmpipe) is taken only with
 * `prefer: 'webgpu'`. Each failure is recorded with its reason;
 * the first backend that loads wins. Prints one summary line unless `quiet`; a failed explicit preference is
 * printed as a warning.
 *
 * @example
 * const { summary } = await selectBackend({ prefer: 'wasm' });
 * // backend: wasm (SIMD, 1 thread, trainable kernels)
 * @throws Error when no backend at all can be activated, or when an option is invalid (the message names it).
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  validateOptions(options);
  const candidates = defaultBackendCandidates(options).map((candidate) => ({
    ...candidate,
    load: options.loaders?.[candidate.module] ?? options.loaders?.[candidate.name] ?? candidate.load,
  }));
  const ordered =
    options.prefer === undefined
      ? candidates
      : [
          ...candidates.filter((candidate) => candidate.name === options.prefer),
          ...candidates.filter((candidate) => candidate.name !== options.prefer),
        ];

  const tried: BackendAttempt[] = [];
  let loaded: { candidate: BackendCandidate; result: LoadedBackend } | undefined;
  for (const candidate of ordered) {
    try {
      const result = await candidate.load();
      tried.push({ name: candidate.name, module: candidate.module, ok: true, detail: result.detail });
      loaded = { candidate, result };
      break;
    } catch (error) {
      tried.push({ name: candidate.name, module: candidate.module, ok: false, error: firstLine(error) });
    }
  }

  const summary = summarizeAttempts(tried, options.prefer);
  if (loaded == null) throw new Error(`selectBackend: no backend could be activated (${summary})`);
  const preferenceFailed = options.prefer !== undefined && loaded.candidate.name !== options.prefer;
  if (!options.quiet) {
    const print = options.log ?? (preferenceFailed ? console.warn : console.log);
    print(summary);
  }
  const failures = tried.filter((attempt) => !attempt.ok);
  const reason =
    failures.length === 0
      ? `${loaded.candidate.name} is ${options.prefer === loaded.candidate.name ? 'the preferred backend' : 'the fastest backend'} and loaded`
      : `${loaded.candidate.name} is the first that loaded; ${failures
          .map((attempt) => `${attempt.module}: ${attempt.error}`)
          .join('; ')}`;
  return {
    backend: loaded.candidate.name,
    tfBackend: loaded.result.tfBackend,
    reason,
    tried,
    summary,
    preferenceFailed,
  };
}
