// Bundled for the browser by browser-wasm.test.ts: selects the wasm backend through @longtail/backend's published
// build and trains with @longtail/backbones and @longtail/gcl-loss.
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import { trainingLosses, type TrainingRun } from './training-run';

export interface BrowserResult {
  backend: string;
  summary: string;
  simd: boolean;
  losses: number[];
}

(globalThis as { trainOnWasm?: (run: TrainingRun) => Promise<BrowserResult> }).trainOnWasm = async (run) => {
  const selection = await selectBackend({ prefer: 'wasm', wasmPaths: '/wasm/', quiet: true });
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  return { backend: tf.getBackend(), summary: selection.summary, simd, losses: trainingLosses(run) };
};
