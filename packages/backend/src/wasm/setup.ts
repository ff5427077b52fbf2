import * as tf from '@tensorflow/tfjs-core';
import { explainMissingPeer } from '../optional-peer.js';
import { registerWasmTrainingKernels } from './register.js';

/** What {@link setUpWasmBackend} configured. */
export interface WasmSetup {
  /** Directory (with trailing slash) the `.wasm` binaries load from; empty when tfjs-backend-wasm chose (browser default). */
  wasmPath: string;
  /** Whether the SIMD binary is used. */
  simd: boolean;
  /** Threads of the wasm backend (1 in Node: tfjs-backend-wasm has no Node thread pool). */
  threads: number;
}

/** Node's `process`, or undefined in a browser. Looked up at run time so that bundling for browsers needs no shim. */
function nodeProcess(): NodeJS.Process | undefined {
  const candidate = (globalThis as { process?: NodeJS.Process }).process;
  return typeof candidate?.getBuiltinModule === 'function' ? candidate : undefined;
}

/**
 * Directory of the installed `@tensorflow/tfjs-backend-wasm` binaries, resolved from this module (Node only).
 * Node's modules come through `process.getBuiltinModule`, not an import, so this package bundles for browsers.
 * @throws Error in a browser, where the binaries' URL must be given instead.
 */
export function installedWasmPath(): string {
  const node = nodeProcess();
  if (node === undefined) {
    throw new Error('installedWasmPath: Node.js only; in a browser pass the URL directory that serves the .wasm files');
  }
  const { createRequire } = node.getBuiltinModule('node:module');
  const path = node.getBuiltinModule('node:path');
  const require = createRequire(import.meta.url);
  return `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`;
}

/**
 * Loads `@tensorflow/tfjs-backend-wasm` (registering the `'wasm'` backend), points it at its binaries, registers
 * the trainable kernels ({@link registerWasmTrainingKernels}) and makes `'wasm'` the active backend.
 * @param wasmPath Directory (path or URL, with a trailing slash) of the `.wasm` binaries. Default in Node: the
 *   installed package's `dist/`; in a browser: tfjs-backend-wasm's own default (next to the script), so pass the
 *   URL where your app serves `tfjs-backend-wasm*.wasm`.
 * @throws Error when the module or its binaries cannot load.
 */
export async function setUpWasmBackend(wasmPath?: string): Promise<WasmSetup> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm').catch((error: unknown) => {
    throw explainMissingPeer('@tensorflow/tfjs-backend-wasm', 'the tfjs WebAssembly backend', error);
  });
  const directory = wasmPath ?? (nodeProcess() === undefined ? undefined : installedWasmPath());
  if (directory !== undefined && tf.getBackend() !== 'wasm') {
    // setWasmPaths throws once the backend is initialised; only the first setup picks the directory.
    try {
      wasm.setWasmPaths(directory);
    } catch {
      // Already initialised earlier in this process: keep its binaries.
    }
  }
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) {
    throw new Error(`tf.setBackend('wasm') failed (binaries looked up in ${directory ?? "tfjs-backend-wasm's default location"})`);
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return { wasmPath: directory ?? '', simd, threads: wasm.getThreadsCount() };
}
