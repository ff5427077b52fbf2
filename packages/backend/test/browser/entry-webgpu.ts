// Bundled for the browser by browser-webgpu.test.ts: selects the webgpu backend through @longtail/backend's published
// build (the page's navigator.gpu; SwiftShader in headless Chromium without a GPU) and trains with
// @longtail/backbones and @longtail/gcl-loss, reading every value with `await data()`.
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import { trainingLosses, type TrainingRun } from './training-run.js';

export interface WebGpuBrowserResult {
  backend: string;
  summary: string;
  /** Whether the page had `navigator.gpu` at all (Chromium without `--enable-unsafe-webgpu` on Linux has, with no adapter). */
  navigatorGpu: boolean;
  losses: number[];
}

(globalThis as { trainOnWebGpu?: (run: TrainingRun) => Promise<WebGpuBrowserResult> }).trainOnWebGpu = async (run) => {
  const navigatorGpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined;
  const selection = await selectBackend({ prefer: 'webgpu', quiet: true });
  const losses = tf.getBackend() === 'webgpu' ? await trainingLosses(run) : [];
  return { backend: tf.getBackend(), summary: selection.summary, navigatorGpu, losses };
};
