import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resnet32 } from '@longtail/backbones';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import type { BrowserContext } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { installedWasmPath } from '../src/index.js';
import type { BrowserResult } from './browser/entry.js';
import { trainingLosses, type TrainingRun } from './browser/training-run.js';
import { seededValues, seededWeights } from './helpers.js';

// The wasm path is the one for browsers. Here the published build of @longtail/backend is bundled for the browser
// (esbuild, platform 'browser': a top-level Node import would fail the bundle), served from loopback with the
// tfjs-backend-wasm binaries, and run in headless Chromium: selectBackend picks wasm, and ResNet-32 + GCL training
// steps give the losses the cpu backend gives in Node — on a plain page and on a cross-origin-isolated one, where
// SharedArrayBuffer makes tfjs-backend-wasm choose its threaded build (which chose one XNNPACK thread on this
// 2-core machine even when asked for two, so the thread count is not asserted).

const chromiumPath = process.env.LONGTAIL_CHROMIUM ?? '/usr/bin/chromium';
const testDirectory = path.dirname(fileURLToPath(import.meta.url));
const inputSize = 8;
const steps = 3;

/** Seeded weights and images (the initial weights are taken on the active backend; their values are not). */
function trainingRun(): TrainingRun {
  const clsNumList = [60, 30, 15, 8, 4, 2];
  const reference = resnet32({ numClasses: clsNumList.length, inputShape: [inputSize, inputSize, 3] });
  const weights = seededWeights(reference, 3).map((values) => Array.from(values));
  reference.dispose();
  return {
    weights,
    images: Array.from(seededValues(4 * inputSize * inputSize * 3, 5)),
    labels: [0, 2, 4, 5],
    inputSize,
    steps,
    clsNumList,
  };
}

async function serve(bundle: string): Promise<{ server: Server; origin: string }> {
  const wasmDirectory = installedWasmPath();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/' || url.pathname === '/isolated/') {
      // Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, and tfjs-backend-wasm its threaded build.
      const isolation = url.pathname === '/isolated/' ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
      response.writeHead(200, { 'content-type': 'text/html', ...isolation });
      response.end('<!doctype html><meta charset="utf-8"><script type="module" src="/bundle.js"></script>');
    } else if (url.pathname === '/bundle.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      response.end(bundle);
    } else if (/^\/wasm\/[\w.-]+\.wasm$/.test(url.pathname) && existsSync(path.join(wasmDirectory, path.basename(url.pathname)))) {
      response.writeHead(200, { 'content-type': 'application/wasm' });
      response.end(readFileSync(path.join(wasmDirectory, path.basename(url.pathname))));
    } else if (url.pathname === '/favicon.ico') {
      response.writeHead(204).end();
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const cleanups: Array<() => unknown> = [];
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
    const run = trainingRun();
    const cpuLosses = trainingLosses(run);
    const bundled = await build({
      entryPoints: [path.join(testDirectory, 'browser', 'entry.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const { server, origin } = await serve(bundled.outputFiles[0].text);
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { chromium } = await import('playwright-core');
    const userDataDirectory = mkdtempSync(path.join(tmpdir(), 'longtail-wasm-chromium-'));
    cleanups.push(() => rmSync(userDataDirectory, { recursive: true, force: true }));
    const context = await chromium.launchPersistentContext(userDataDirectory, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
    });
    cleanups.push(() => context.close());
    return { origin, context, run, cpuLosses };
  })();
  return harness;
}

describe('the wasm path in a browser (headless Chromium)', () => {
  it.skipIf(!existsSync(chromiumPath)).each([
    ['a plain page', '/', false],
    ['a cross-origin-isolated page (threaded wasm build available)', '/isolated/', true],
  ] as const)(
    '%s: bundles for the browser, selects wasm and trains ResNet-32 with GCL to the cpu backend’s losses',
    async (_label, pagePath, isolated) => {
      const { origin, context, run, cpuLosses } = await setUpHarness();
      // Training must move, or equal losses would prove nothing.
      expect(Math.abs(cpuLosses[steps - 1] - cpuLosses[0])).toBeGreaterThan(1e-3);
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(`${message.text()} ${message.location().url}`);
      });
      await page.goto(`${origin}${pagePath}`, { waitUntil: 'load' });
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
