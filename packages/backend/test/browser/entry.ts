// Bundled for the browser by browser-wasm.test.ts: selects the wasm backend through @longtail/backend's published
// build and trains with @longtail/backbones and @longtail/gcl-loss.
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import { trainingLosses, type TrainingRun } from './training-run.js';

export interface BrowserResult {
  backend: string;
  summary: string;
  simd: boolean;
  /** Whether the page may share memory with workers (COOP + COEP), which tfjs-backend-wasm needs for threads. */
  crossOriginIsolated: boolean;
  multithreadSupport: boolean;
  losses: number[];
}

(globalThis as { trainOnWasm?: (run: TrainingRun) => Promise<BrowserResult> }).trainOnWasm = async (run) => {
  const selection = await selectBackend({ prefer: 'wasm', wasmPaths: '/wasm/', quiet: true });
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const multithreadSupport = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return { backend: tf.getBackend(), summary: selection.summary, simd, crossOriginIsolated: isolated, multithreadSupport, losses: await trainingLosses(run) };
};
