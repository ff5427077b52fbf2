// Shared by the browser tests (browser-wasm.test.ts, browser-webgpu.test.ts): the seeded training run, the esbuild
// bundle of a page entry (the published build of @longtail/backend, platform 'browser'), a loopback server for it and
// the tfjs-backend-wasm binaries, and headless Chromium through playwright-core.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resnet32 } from '@longtail/backbones';
import { build } from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { installedWasmPath } from '../../src/index.js';
import { seededValues, seededWeights } from '../helpers.js';
import type { TrainingRun } from './training-run.js';

export const chromiumPath = process.env.LONGTAIL_CHROMIUM ?? '/usr/bin/chromium';
const browserDirectory = path.dirname(fileURLToPath(import.meta.url));

/** Seeded weights and images (the initial weights are taken on the active backend; their values are not). */
export function trainingRun(inputSize: number, steps: number): TrainingRun {
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

/** Bundles a page entry of this folder (e.g. `entry.ts`) for the browser as one ES module. */
export async function bundleEntry(entry: string): Promise<string> {
  const bundled = await build({
    entryPoints: [path.join(browserDirectory, entry)],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return bundled.outputFiles[0].text;
}

/**
 * Serves `bundle` from loopback (a secure context, as WebGPU needs): `/` a page that loads it, `/isolated/` the same
 * page cross-origin isolated (COOP + COEP, which give it SharedArrayBuffer), `/wasm/*.wasm` tfjs-backend-wasm's binaries.
 */
export async function serve(bundle: string): Promise<{ server: Server; origin: string }> {
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

/** Clean-ups registered by {@link startBrowser}, for the test file's `afterAll` to run in reverse order. */
export type Cleanups = Array<() => unknown>;

/** Serves `bundle` and starts headless Chromium (a fresh profile) with `extraArgs` besides the usual quiet flags. */
export async function startBrowser(bundle: string, extraArgs: string[], cleanups: Cleanups): Promise<{ origin: string; context: BrowserContext }> {
  const { server, origin } = await serve(bundle);
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const { chromium } = await import('playwright-core');
  const userDataDirectory = mkdtempSync(path.join(tmpdir(), 'longtail-chromium-'));
  cleanups.push(() => rmSync(userDataDirectory, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDirectory, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', ...extraArgs],
  });
  cleanups.push(() => context.close());
  return { origin, context };
}

/** Opens `origin + pagePath` and collects the page's uncaught errors and console errors into `pageErrors`. */
export async function openPage(context: BrowserContext, url: string, pageErrors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${message.text()} ${message.location().url}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return page;
}
