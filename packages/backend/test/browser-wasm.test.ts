import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BrowserContext } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { BrowserResult } from './browser/entry.js';
import { bundleEntry, chromiumPath, openPage, startBrowser, trainingRun, type Cleanups } from './browser/harness.js';
import { trainingLosses, type TrainingRun } from './browser/training-run.js';

// The wasm path is the one for browsers. Here the published build of @longtail/backend is bundled for the browser
// (esbuild, platform 'browser': a top-level Node import would fail the bundle), served from loopback with the
// tfjs-backend-wasm binaries, and run in headless Chromium: selectBackend picks wasm, and ResNet-32 + GCL training
// steps give the losses the cpu backend gives in Node — on a plain page and on a cross-origin-isolated one, where
// SharedArrayBuffer makes tfjs-backend-wasm choose its threaded build (which chose one XNNPACK thread on this
// 2-core machine even when asked for two, so the thread count is not asserted).

const inputSize = 8;
const steps = 3;

const cleanups: Cleanups = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Harness {
  origin: string;
  context: BrowserContext;
  run: TrainingRun;
  cpuLosses: number[];
}

let harness: Promise<Harness> | undefined;

/** Once for both pages: the cpu reference in Node, the browser bundle, the server and Chromium. */
function setUpHarness(): Promise<Harness> {
  harness ??= (async () => {
    await tf.setBackend('cpu');
    const run = trainingRun(inputSize, steps);
    const cpuLosses = await trainingLosses(run);
    const { origin, context } = await startBrowser(await bundleEntry('entry.ts'), ['--disable-gpu'], cleanups);
    return { origin, context, run, cpuLosses };
  })();
  return harness;
}

describe('the wasm path in a browser (headless Chromium)', () => {
  // Without Chromium the test skips, except under CI=true (CI installs chromium), where the harness then fails.
  it.skipIf(!existsSync(chromiumPath) && process.env.CI !== 'true').each([
    ['a plain page', '/', false],
    ['a cross-origin-isolated page (threaded wasm build available)', '/isolated/', true],
  ] as const)(
    '%s: bundles for the browser, selects wasm and trains ResNet-32 with GCL to the cpu backend’s losses',
    async (_label, pagePath, isolated) => {
      const { origin, context, run, cpuLosses } = await setUpHarness();
      // Training must move, or equal losses would prove nothing.
      expect(Math.abs(cpuLosses[steps - 1] - cpuLosses[0])).toBeGreaterThan(1e-3);
      const pageErrors: string[] = [];
      const page = await openPage(context, `${origin}${pagePath}`, pageErrors);
      await page.waitForFunction(() => 'trainOnWasm' in globalThis, undefined, { timeout: 30_000 });
      const result = (await page.evaluate(
        (input) => (globalThis as unknown as { trainOnWasm(run: TrainingRun): Promise<BrowserResult> }).trainOnWasm(input),
        run,
      )) as BrowserResult;
      await page.close();

      expect(pageErrors).toEqual([]);
      expect(result.backend).toBe('wasm');
      expect(result.simd).toBe(true);
      expect(result.crossOriginIsolated).toBe(isolated);
      expect(result.multithreadSupport).toBe(isolated);
      expect(result.summary).toMatch(/^backend: wasm \(SIMD, \d+ threads?, trainable kernels\)/);
      expect(result.losses).toHaveLength(steps);
      result.losses.forEach((loss, step) => expect(Math.abs(loss - cpuLosses[step]), `step ${step}`).toBeLessThanOrEqual(1e-3));
    },
    240_000,
  );
});
