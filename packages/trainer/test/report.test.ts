import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildReportHtml,
  calibration,
  confusionSvg,
  evaluatePredictions,
  fitTemperature,
  logTicks,
  niceTicks,
  reliabilitySvg,
  validationSummary,
  writeReport,
  type EvaluationResult,
  type MetricRecord,
  type ReportData,
} from '../src/index.js';
import { chromiumAvailable, CHROMIUM, renderReport } from './report-helpers.js';

const NAMES = ['airplane', 'automobile', 'bird', 'a-very-long-class-name-indeed', 'deer', 'dog', 'frog', 'horse'];

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
  const result = evaluatePredictions({ logits, labels, numClasses }, counts, { classNames: NAMES });
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
    backend: 'backend: native (avx2, 2 threads); tfjs-node unavailable: not installed',
  };
}

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Logits whose confidence spreads over the bins: the true class gets a random bonus, so some rows are wrong. */
function randomPredictions(numClasses: number, perClass: number, seed: number): { logits: number[]; labels: number[] } {
  const next = random(seed);
  const logits: number[] = [];
  const labels: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < perClass; i++) {
      labels.push(c);
      for (let j = 0; j < numClasses; j++) logits.push(3 * next() + (j === c ? 4 * next() : 0));
    }
  }
  return { logits, labels };
}

/** The chart `<svg>` named `name` in `html`. */
function chart(html: string, name: string): string {
  const start = html.indexOf(`data-chart="${name}"`);
  expect(start, `chart ${name}`).toBeGreaterThan(0);
  return html.slice(html.lastIndexOf('<svg', start), html.indexOf('</svg>', start) + 6);
}

/** The texts of a `<g data-axis="…">` group (tooltips left out). */
function axisTexts(svg: string, axis: string): string[] {
  const group = new RegExp(`<g data-axis="${axis}">(.*?)</g>`).exec(svg)?.[1] ?? '';
  return [...group.matchAll(/<text[^>]*>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g)].map((m) => m[1]);
}

/** The tooltips of a `<g data-axis="…">` group. */
function axisTitles(svg: string, axis: string): string[] {
  const group = new RegExp(`<g data-axis="${axis}">(.*?)</g>`).exec(svg)?.[1] ?? '';
  return [...group.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]);
}

/** Visible prose of the page: headings, captions, notes and list items, tags stripped. */
function prose(html: string): string[] {
  return [...html.matchAll(/<(h1|h2|h3|figcaption|p|li)[^>]*>(.*?)<\/\1>/g)].map((m) => m[2].replace(/<[^>]+>/g, ''));
}

describe('round axis ticks', () => {
  it('niceTicks steps by 1, 2, 2.5 or 5 × 10^k and covers the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 5)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(niceTicks(0.0128, 5.01)).toEqual([0, 2, 4, 6]);
    expect(niceTicks(2.51, 5.01)).toEqual([2, 3, 4, 5, 6]);
    expect(niceTicks(0, 2400)).toEqual([0, 500, 1000, 1500, 2000, 2500]);
    expect(niceTicks(0, 5000)).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
    expect(niceTicks(0, 0.0128)).toEqual([0, 0.005, 0.01, 0.015]);
    expect(niceTicks(0.1234, 0.1299)).toEqual([0.122, 0.124, 0.126, 0.128, 0.13]);
    expect(niceTicks(-3, 7)).toEqual([-5, -2.5, 0, 2.5, 5, 7.5]);
    expect(niceTicks(0, 3.9)).toEqual([0, 1, 2, 3, 4]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 1, 10)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  });

  it('logTicks gives powers of ten, and 2 and 5 × 10^k over few decades', () => {
    expect(logTicks(10, 500)).toEqual([10, 20, 50, 100, 200, 500]);
    expect(logTicks(5, 500)).toEqual([5, 10, 20, 50, 100, 200, 500]);
    expect(logTicks(1, 5000)).toEqual([1, 10, 100, 1000, 10000]);
    expect(logTicks(1, 6000)).toEqual([1, 10, 100, 1000, 10000]);
    expect(logTicks(3, 3)).toEqual([2, 5]);
  });

  it("the report's axes carry those ticks: loss over epochs 0–6, accuracy 0–100%", () => {
    const html = buildReportHtml(syntheticRun());
    const loss = chart(html, 'loss');
    expect(axisTexts(loss, 'x')).toEqual(['0', '2', '4', '6']);
    expect(axisTexts(loss, 'y')).toEqual(['0', '0.5', '1', '1.5', '2']);
    expect(axisTexts(chart(html, 'accuracy'), 'y')).toEqual(['0%', '20%', '40%', '60%', '80%', '100%']);
    expect(axisTexts(chart(html, 'per-class'), 'right')).toEqual(['10', '20', '50', '100', '200', '500']);
    expect(axisTexts(chart(html, 'clouds'), 'y')).toEqual(['0', '1', '2', '3', '4']);
    // No tick anywhere has more digits than a round number needs.
    for (const name of ['loss', 'accuracy', 'per-class', 'shots', 'clouds', 'reliability']) {
      for (const text of axisTexts(chart(html, name), 'y')) expect(text).toMatch(/^-?\d+(\.\d|\.25|\.5|\.75)?%?$/);
    }
  });
});

describe('HTML report', () => {
  it('is self-contained: no external script, stylesheet or image, text escaped', () => {
    const html = buildReportHtml(syntheticRun());
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain('Synthetic &lt;run&gt; &amp; report');
    for (const chartName of ['loss', 'accuracy', 'per-class', 'shots', 'reliability', 'clouds', 'confusion']) expect(html).toContain(`data-chart="${chartName}"`);
    // Medium/few values appear in the summary table.
    expect(html).toMatch(/<th>stage 2<\/th><td>/);
  });

  it('says n/a for an empty shot group', () => {
    const run = syntheticRun();
    const counts = [500, 300];
    const result = evaluatePredictions({ logits: [1, 0, 0, 1], labels: [0, 1], numClasses: 2 }, counts);
    const html = buildReportHtml({ ...run, classNames: undefined, evaluations: [{ label: 'final', result }], cloudSizes: undefined });
    expect(html).toMatch(/<th>final<\/th><td>100\.0<\/td><td>100\.0<\/td><td>100\.0<\/td><td>n\/a<\/td><td>n\/a<\/td>/);
  });

  it('says "backend:" once in the header, and no word twice in a row in its prose', () => {
    const html = buildReportHtml(syntheticRun());
    const header = /<h1>.*?<\/h1><p class="note">(.*?)<\/p>/.exec(html)?.[1] ?? '';
    expect(header).toBe('generated 2026-01-01T00:00:00Z · backend: native (avx2, 2 threads); tfjs-node unavailable: not installed');
    expect(html).not.toMatch(/backend:\s*backend/i);
    expect(buildReportHtml({ ...syntheticRun(), backend: 'cpu (test)' })).toContain('backend: cpu (test)');
    for (const text of prose(html)) expect(text).not.toMatch(/\b([a-z]{2,})\b[\s:]+\1\b/i);
  });

  it('puts the class names on both axes of the confusion matrix: true rows, predicted columns, long names cut', () => {
    const html = buildReportHtml(syntheticRun());
    const svg = chart(html, 'confusion');
    const byFrequency = NAMES; // the counts are already in decreasing order
    const shown = byFrequency.map((name) => (name.length > 14 ? `${name.slice(0, 13)}…` : name));
    expect(axisTexts(svg, 'true')).toEqual(shown);
    expect(axisTexts(svg, 'predicted')).toEqual(shown);
    expect(axisTitles(svg, 'true')).toEqual(byFrequency);
    expect(svg).toContain('true class (most frequent first)');
    expect(svg).toContain('predicted class (most frequent first)');
    expect(svg).toMatch(/<title>true dog, predicted airplane: \d+\.\d%<\/title>/);
  });

  it('shows class indices at round positions (names in tooltips) with many classes', () => {
    const numClasses = 100;
    const confusion = Array.from({ length: numClasses }, (_, i) => Array.from({ length: numClasses }, (_, j) => (i === j ? 3 : j === 0 ? 1 : 0)));
    const order = Array.from({ length: numClasses }, (_, i) => numClasses - 1 - i);
    const names = Array.from({ length: numClasses }, (_, i) => `species number ${i}`);
    const svg = confusionSvg('confusion', confusion, order, 100, names);
    const texts = axisTexts(svg, 'true');
    expect(texts.length).toBeGreaterThan(4);
    expect(texts.length).toBeLessThanOrEqual(11);
    // Positions 0, 10, 20, … hold classes 99, 89, 79, …
    expect(texts.slice(0, 3)).toEqual(['99', '89', '79']);
    expect(axisTitles(svg, 'true').slice(0, 3)).toEqual(['species number 99', 'species number 89', 'species number 79']);
    expect(axisTexts(svg, 'predicted')).toEqual(texts);
    expect(svg).toContain('true class (class index, most frequent first)');
  });

  it("draws the reliability diagram's bars at the bins' accuracies, with the bin counts", () => {
    const numClasses = 5;
    const { logits, labels } = randomPredictions(numClasses, 80, 7);
    const groups = { many: [0, 1], medium: [2, 3], few: [4] };
    const result = calibration(logits, labels, numClasses, groups);
    expect(result.reliability.filter((b) => b.count > 0).length).toBeGreaterThan(5);
    const svg = reliabilitySvg('reliability', result.reliability);
    const area = /<rect class="plot-area" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"/.exec(svg);
    expect(area).not.toBeNull();
    const [top, plotHeight] = [Number(area![1]), Number(area![2])];
    const bars = [...svg.matchAll(/<rect class="bin" data-bin="(\d+)" data-count="(\d+)" data-accuracy="[^"]+" x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"/g)];
    expect(bars.map((m) => Number(m[1]))).toEqual(result.reliability.flatMap((b, i) => (b.count > 0 ? [i] : [])));
    for (const [, bin, count, y, height] of bars) {
      const expected = result.reliability[Number(bin)];
      expect(Number(count)).toBe(expected.count);
      expect(Number(height) / plotHeight).toBeCloseTo(expected.accuracy as number, 4);
      expect(Number(y) + Number(height)).toBeCloseTo(top + plotHeight, 1);
    }
    const counts = [...svg.matchAll(/<text class="bin-count"[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(counts).toEqual(result.reliability.filter((b) => b.count > 0).map((b) => b.count));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(labels.length);
  });

  it('shows calibration, selection, validation and temperature scaling when the results have them', () => {
    const counts = [300, 120, 60, 30, 10];
    const numClasses = counts.length;
    const test = randomPredictions(numClasses, 40, 1);
    const validation = randomPredictions(numClasses, 20, 2);
    const result = evaluatePredictions({ ...test, numClasses }, counts);
    const validationResult = evaluatePredictions({ ...validation, numClasses }, counts);
    const temperature = fitTemperature(validation.logits, validation.labels, numClasses);
    const after = calibration(test.logits, test.labels, numClasses, result.groups, { temperature });
    const before = result.calibration!;
    const stage1: EvaluationResult = { ...result, selection: { mode: 'test', epoch: 3, score: result.top1 } };
    const stage2: EvaluationResult = {
      ...result,
      selection: { mode: 'val', epoch: 7, score: 0.4567, validationSource: 'hold-out' },
      validation: validationSummary(validationResult),
      temperatureScaling: { temperature, fittedOn: validation.labels.length, before, after },
    };
    const html = buildReportHtml({ title: 't', metrics: [], evaluations: [{ label: 'stage 1', result: stage1 }, { label: 'stage 2', result: stage2 }] });
    expect(html).toContain("<strong>stage 1</strong>: selected on the test set (the paper&#39;s protocol), epoch 3");
    expect(html).toContain('<strong>stage 2</strong>: selected on the validation split (stratified hold-out of the training set), epoch 7 (validation mean per-class accuracy 45.7%)');
    const pct = (v: number | null) => (v === null ? 'n/a' : (100 * v).toFixed(1));
    expect(html).toContain(
      `<tr><th>stage 2</th><td>${pct(before.ece)}</td><td>${pct(before.classwiseEce)}</td><td>${pct(before.eceByGroup.many)}</td><td>${pct(before.eceByGroup.medium)}</td><td>${pct(before.eceByGroup.few)}</td><td>${before.nll.toFixed(3)}</td><td>15</td></tr>`,
    );
    const v = stage2.validation!;
    expect(html).toContain(`<tr><th>stage 2</th><td>${validation.labels.length}</td><td>${pct(v.top1)}</td><td>${pct(v.balancedAccuracy)}</td>`);
    // Stage 1 has no validation figures.
    expect(html).toMatch(/<table class="validation">.*<tr><th>stage 1<\/th><td colspan="7" class="missing">not recorded<\/td>/);
    expect(html).toContain(`<td rowspan="2">${Number(temperature.toPrecision(4))}</td><td rowspan="2">${validation.labels.length}</td><th>before (T = 1)</th><td>${pct(before.ece)}</td>`);
    expect(html).toContain(`<th>after</th><td>${pct(after.ece)}</td><td>${pct(after.classwiseEce)}</td>`);
    expect(html).toContain('data-chart="reliability-scaled"');
  });

  it('still renders results written before calibration and selection were recorded', () => {
    const run = syntheticRun();
    const old = run.evaluations.map(({ label, result }) => {
      const { calibration: _calibration, ...rest } = result;
      return { label, result: rest as EvaluationResult };
    });
    const html = buildReportHtml({ ...run, evaluations: old });
    expect(html).not.toContain('data-chart="reliability"');
    expect(html).toContain('Calibration of stage 2: not recorded');
    expect(html).toContain('<strong>stage 2</strong>: selection not recorded');
    expect(html).toMatch(/<th>stage 2<\/th><td colspan="7" class="missing">not recorded<\/td>/);
    for (const chartName of ['loss', 'accuracy', 'per-class', 'shots', 'clouds', 'confusion']) expect(html).toContain(`data-chart="${chartName}"`);
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
      expect(rendered.chartNames).toEqual(['loss', 'accuracy', 'per-class', 'shots', 'reliability', 'clouds', 'confusion']);
      expect(rendered.svgCount).toBe(7);
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
