import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildReportHtml, evaluatePredictions, writeReport, type MetricRecord, type ReportData } from '../src/index.js';
import { chromiumAvailable, CHROMIUM, renderReport } from './report-helpers.js';

function syntheticRun(): ReportData {
  const counts = [500, 300, 160, 90, 50, 30, 18, 10];
  const numClasses = counts.length;
  const metrics: MetricRecord[] = [];
  let globalStep = 0;
  for (const [stage, epochs] of [
    [1, 4],
    [2, 2],
  ] as const) {
    for (let epoch = 0; epoch < epochs; epoch++) {
      for (let step = 0; step < 5; step++) {
        metrics.push({ type: 'step', stage, epoch, step, globalStep: globalStep++, loss: 2 / (1 + epoch + step / 5), accuracy: 0.1 * epoch, lr: 0.1, imagesPerSecond: 100, time: '' });
      }
      metrics.push({ type: 'epoch', stage, epoch, trainLoss: 1, trainAccuracy: 0.5, lr: 0.1, seconds: 1, imagesPerSecond: 100, top1: 0.2 + 0.1 * epoch, top5: 0.9, many: 0.5, medium: 0.3, few: 0.1, time: '' });
    }
  }
  const labels: number[] = [];
  const logits: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < 10; i++) {
      labels.push(c);
      const row = new Array(numClasses).fill(0);
      row[i < 10 - c ? c : 0] = 1; // rarer classes are more often predicted as class 0
      logits.push(...row);
    }
  }
  const result = evaluatePredictions({ logits, labels, numClasses }, counts);
  return {
    title: 'Synthetic <run> & report',
    generatedAt: '2026-01-01T00:00:00Z',
    config: { seed: 0 },
    metrics,
    evaluations: [
      { label: 'stage 1', result },
      { label: 'stage 2', result },
    ],
    cloudSizes: counts.map((n) => Math.log(500) - Math.log(n)),
    backend: 'cpu (test)',
  };
}

describe('HTML report', () => {
  it('is self-contained: no external script, stylesheet or image, text escaped', () => {
    const html = buildReportHtml(syntheticRun());
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain('Synthetic &lt;run&gt; &amp; report');
    for (const chart of ['loss', 'accuracy', 'per-class', 'shots', 'clouds', 'confusion']) expect(html).toContain(`data-chart="${chart}"`);
    // Medium/few values appear in the summary table.
    expect(html).toMatch(/<th>stage 2<\/th><td>/);
  });

  it('says n/a for an empty shot group', () => {
    const run = syntheticRun();
    const counts = [500, 300];
    const result = evaluatePredictions({ logits: [1, 0, 0, 1], labels: [0, 1], numClasses: 2 }, counts);
    const html = buildReportHtml({ ...run, evaluations: [{ label: 'final', result }], cloudSizes: undefined });
    expect(html).toMatch(/<th>final<\/th><td>100\.0<\/td><td>100\.0<\/td><td>100\.0<\/td><td>n\/a<\/td><td>n\/a<\/td>/);
  });

  it.skipIf(!chromiumAvailable)(
    'renders its charts in headless Chromium with no console errors (screenshot saved)',
    async () => {
      const directory = mkdtempSync(path.join(tmpdir(), 'longtail-report-'));
      const file = path.join(directory, 'report.html');
      await writeReport(file, syntheticRun());
      const rendered = await renderReport(file, directory);
      expect(rendered.errors).toEqual([]);
      expect(rendered.externalRequests).toEqual([]);
      expect(rendered.chartNames).toEqual(['loss', 'accuracy', 'per-class', 'shots', 'clouds', 'confusion']);
      expect(rendered.svgCount).toBe(6);
      expect(rendered.confusionCells).toBeGreaterThan(8);
      expect(rendered.perClassBars).toBeGreaterThanOrEqual(8);
      expect(existsSync(rendered.screenshot)).toBe(true);
      expect(statSync(rendered.screenshot).size).toBeGreaterThan(10_000);
      console.log(`report screenshot: ${rendered.screenshot}`);
    },
    60_000,
  );
  if (!chromiumAvailable) console.warn(`skipping the Chromium report test: ${CHROMIUM} not found (apt-get install chromium)`);
});

export { readFileSync };
