import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './register.js';

/** What {@link setUpWasmBackend} configured. */
export interface WasmSetup {
  /** Directory (with trailing slash) the `.wasm` binaries load from. */
  wasmPath: string;
  /** Whether the SIMD binary is used. */
  simd: boolean;
  /** Threads of the wasm backend (1 in Node: tfjs-backend-wasm has no Node thread pool). */
  threads: number;
}

/** Directory of the installed `@tensorflow/tfjs-backend-wasm` binaries, resolved from this module. */
export function installedWasmPath(): string {
  const require = createRequire(import.meta.url);
  return `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}${path.sep}`;
}

/**
 * Loads `@tensorflow/tfjs-backend-wasm` (registering the `'wasm'` backend), points it at its binaries
 * (`wasmPath`, default: the installed package's `dist/`), registers the trainable kernels
 * ({@link registerWasmTrainingKernels}) and makes `'wasm'` the active backend.
 * @throws Error when the module or its binaries cannot load.
 */
export async function setUpWasmBackend(wasmPath?: string): Promise<WasmSetup> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const directory = wasmPath ?? installedWasmPath();
  if (tf.getBackend() !== 'wasm') {
    // setWasmPaths throws once the backend is initialised; only the first setup picks the directory.
    try {
      wasm.setWasmPaths(directory);
    } catch {
      // Already initialised earlier in this process: keep its binaries.
    }
  }
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) {
    throw new Error(`tf.setBackend('wasm') failed (binaries looked up in ${directory})`);
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return { wasmPath: directory, simd, threads: wasm.getThreadsCount() };
}
