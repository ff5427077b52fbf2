import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { WebGpuBrowserResult } from './browser/entry-webgpu.js';
import { bundleEntry, chromiumPath, openPage, startBrowser, trainingRun, type Cleanups } from './browser/harness.js';
import { trainingLosses, type TrainingRun } from './browser/training-run.js';

// The webgpu path in a browser. The published build of @longtail/backend is bundled for the browser (as in
// browser-wasm.test.ts), served from loopback (a secure context, which WebGPU needs) and run in headless Chromium
// with --enable-unsafe-webgpu: on Linux Chromium gives pages navigator.gpu but no adapter without it, and with it,
// on a machine without a GPU, Dawn's SwiftShader (Vulkan on the CPU, shipped with Chromium) is the adapter
// (vendor google, architecture swiftshader, a fallback adapter). selectBackend({ prefer: 'webgpu' }) takes that
// software adapter because webgpu was asked for by name, and five ResNet-32 + GCL training steps, read with
// `await data()`, give the losses the cpu backend gives in Node.

const inputSize = 8;
const steps = 5;
const webGpuArgs = ['--enable-unsafe-webgpu'];

// Without Chromium the test skips, saying so; under CI=true it fails instead (CI installs chromium, so a skip there
// would hide a broken setup).
const chromiumMissing = !existsSync(chromiumPath);
const skipReason = chromiumMissing && process.env.CI !== 'true' ? ` (skipped: no Chromium at ${chromiumPath}; install chromium or set LONGTAIL_CHROMIUM)` : '';
if (skipReason !== '') console.warn(`browser-webgpu.test.ts${skipReason}`);

const cleanups: Cleanups = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('the webgpu path in a browser (headless Chromium, SwiftShader without a GPU)', () => {
  it.skipIf(skipReason !== '')(
    `bundles for the browser, selects webgpu and trains ResNet-32 with GCL for ${steps} steps to the cpu backend’s losses${skipReason}`,
    async () => {
      if (chromiumMissing) throw new Error(`no Chromium at ${chromiumPath} (install chromium or set LONGTAIL_CHROMIUM): CI must run the browser webgpu test`);
      await tf.setBackend('cpu');
      const run = trainingRun(inputSize, steps);
      const cpuLosses = await trainingLosses(run);
      // Training must move, or equal losses would prove nothing.
      expect(Math.abs(cpuLosses[steps - 1] - cpuLosses[0])).toBeGreaterThan(1e-3);

      const { origin, context } = await startBrowser(await bundleEntry('entry-webgpu.ts'), webGpuArgs, cleanups);
      const pageErrors: string[] = [];
      const page = await openPage(context, `${origin}/`, pageErrors);
      await page.waitForFunction(() => 'trainOnWebGpu' in globalThis, undefined, { timeout: 30_000 });
      const result = (await page.evaluate(
        (input) => (globalThis as unknown as { trainOnWebGpu(run: TrainingRun): Promise<WebGpuBrowserResult> }).trainOnWebGpu(input),
        run,
      )) as WebGpuBrowserResult;
      await page.close();

      expect(pageErrors).toEqual([]);
      expect(result.navigatorGpu).toBe(true);
      expect(result.backend, result.summary).toBe('webgpu');
      // The summary names the adapter: `backend: webgpu (google swiftshader, software adapter)` here, a GPU's vendor
      // and architecture where Chromium has one.
      expect(result.summary).toMatch(/^backend: webgpu \((?!unknown adapter)[a-z0-9]+[^()]*\)/);
      expect(result.losses).toHaveLength(steps);
      result.losses.forEach((loss, step) =>
        expect(Math.abs(loss - cpuLosses[step]), `step ${step}: ${loss} vs cpu ${cpuLosses[step]}`).toBeLessThanOrEqual(1e-3 * Math.abs(cpuLosses[step])),
      );
    },
    240_000,
  );
});
