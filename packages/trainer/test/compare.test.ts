import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareCommand, compareHtml, compareMarkdown, compareRuns, evaluatePredictions, UsageError, type CliIo, type EvaluationResult } from '../src/index.js';
import { summarizeSeeds } from '../src/seeds.js';
import { chromiumAvailable, renderPage } from './report-helpers.js';

const COUNTS = [300, 150, 80, 40, 15, 6]; // many: 0, 1; medium: 2, 3; few: 4, 5
const NAMES = ['cat', 'dog', 'owl', 'elk', 'yak', 'emu'];
const PER_CLASS = 25;

/** Deterministic pseudo-random numbers in [0, 1) (a 32-bit LCG). */
function random(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Test logits: noise plus a bonus on the true class that shrinks with the class's rank (`strength` per method). */
function predictions(strength: number, seed: number, numClasses = COUNTS.length) {
  const next = random(seed);
  const logits: number[] = [];
  const labels: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < PER_CLASS; i++) {
      labels.push(c);
      for (let j = 0; j < numClasses; j++) logits.push(2 * next() + (j === c ? strength * (1 - c / (numClasses + 2)) * 2 * next() : 0) + (j === 0 ? 0.5 : 0));
    }
  }
  return { logits, labels, numClasses };
}

/** Top-1, per-class and shot-group accuracies, and the 15-bin ECE, computed here without the package's code. */
function expectedFigures({ logits, labels, numClasses }: ReturnType<typeof predictions>, counts: number[]) {
  const hits = new Array<number>(numClasses).fill(0);
  const totals = new Array<number>(numClasses).fill(0);
  const binCount = new Array<number>(15).fill(0);
  const binCorrect = new Array<number>(15).fill(0);
  const binConfidence = new Array<number>(15).fill(0);
  let correct = 0;
  labels.forEach((label, i) => {
    const row = logits.slice(i * numClasses, (i + 1) * numClasses);
    const predicted = row.indexOf(Math.max(...row));
    const exp = row.map((v) => Math.exp(v - Math.max(...row)));
    const confidence = Math.max(...exp) / exp.reduce((a, b) => a + b, 0);
    const bin = Math.min(14, Math.max(0, Math.ceil(confidence * 15) - 1));
    totals[label]++;
    binCount[bin]++;
    binConfidence[bin] += confidence;
    if (predicted === label) {
      hits[label]++;
      binCorrect[bin]++;
      correct++;
    }
  });
  const perClass = hits.map((h, c) => h / totals[c]);
  const mean = (classes: number[]) => (classes.length ? classes.reduce((s, c) => s + perClass[c], 0) / classes.length : null);
  const classes = counts.map((_, c) => c);
  return {
    top1: correct / labels.length,
    many: mean(classes.filter((c) => counts[c] > 100)),
    medium: mean(classes.filter((c) => counts[c] <= 100 && counts[c] >= 20)),
    few: mean(classes.filter((c) => counts[c] < 20)),
    ece: binCount.reduce((s, n, b) => s + Math.abs(binCorrect[b] - binConfidence[b]), 0) / labels.length,
    perClass,
  };
}

function config(stage1: string, stage2: string | null, seed: number) {
  return {
    name: `${stage1}-${seed}`,
    seed,
    data: { dataset: 'synthetic' },
    model: { backbone: 'tiny', head: 'auto' },
    stage1: { epochs: 10, loss: { name: stage1 } },
    stage2: { enabled: stage2 !== null, epochs: 5, loss: { name: stage2 ?? 'gcl' } },
  };
}

function writeRun(directory: string, result: EvaluationResult, runConfig: object): void {
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, 'results.json'), JSON.stringify({ stage: 2, epoch: 10, best: true, checkpointSha256: 'ab', dataset: 'synthetic', ...result }, null, 2));
  writeFileSync(path.join(directory, 'config.json'), JSON.stringify(runConfig, null, 2));
}

interface Fixture {
  root: string;
  ce: string;
  gcl: string;
  sweep: string;
  old: string;
  empty: string;
  expected: { ce: ReturnType<typeof expectedFigures>; gcl: ReturnType<typeof expectedFigures>; seeds: Array<ReturnType<typeof expectedFigures>> };
}

function fixture(): Fixture {
  const root = mkdtempSync(path.join(tmpdir(), 'longtail-compare-'));
  const run = (strength: number, seed: number) => {
    const p = predictions(strength, seed);
    return { p, result: evaluatePredictions(p, COUNTS, { classNames: NAMES }), expected: expectedFigures(p, COUNTS) };
  };
  const ce = run(1, 1);
  writeRun(path.join(root, 'ce'), { ...ce.result, selection: { mode: 'val', epoch: 7, score: 0.41, validationSource: 'hold-out' } }, config('ce', null, 0));
  const gcl = run(3, 2);
  writeRun(path.join(root, 'gcl'), { ...gcl.result, selection: { mode: 'val', epoch: 4, score: 0.52, validationSource: 'hold-out' } }, config('gcl', 'gcl', 0));
  const seeds = [0, 1, 2].map((seed) => run(2 + seed / 2, 10 + seed));
  seeds.forEach((s, seed) => writeRun(path.join(root, 'sweep', `seed-${seed}`), { ...s.result, selection: { mode: 'val', epoch: 5, score: 0.5 } }, config('gcl', 'gcl', seed)));
  writeFileSync(path.join(root, 'sweep', 'seeds-summary.json'), JSON.stringify(summarizeSeeds(path.join(root, 'sweep'), [0, 1, 2]), null, 2));
  // A run written before calibration and selection existed, on other data (one class fewer).
  const oldPredictions = predictions(2, 3, 5);
  const { calibration: _calibration, ...old } = evaluatePredictions(oldPredictions, COUNTS.slice(0, 5));
  writeRun(path.join(root, 'old'), old as EvaluationResult, config('ldam', null, 1));
  mkdirSync(path.join(root, 'empty'));
  writeFileSync(path.join(root, 'empty', 'config.json'), '{}');
  return {
    root,
    ce: path.join(root, 'ce'),
    gcl: path.join(root, 'gcl'),
    sweep: path.join(root, 'sweep'),
    old: path.join(root, 'old'),
    empty: path.join(root, 'empty'),
    expected: { ce: ce.expected, gcl: gcl.expected, seeds: seeds.map((s) => s.expected) },
  };
}

/** The cells of each body row of a Markdown table. */
function markdownRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| method') && !line.startsWith('| ---'))
    .map((line) => line.slice(2, -2).split(' | '));
}

const pct = (value: number | null) => (value === null ? 'n/a' : (100 * value).toFixed(1));

function meanStd(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1));
  return `${pct(mean)} ± ${pct(std)}`;
}

function memoryIo(cwd: string): CliIo & { out: () => string } {
  let text = '';
  return { stdout: { write: (t: string) => (text += t) }, stderr: { write: () => true }, cwd, env: {}, out: () => text };
}

describe('compareRuns / compareMarkdown', () => {
  const f = fixture();

  it('tabulates each run against independently computed figures, labelled from its config', () => {
    const data = compareRuns([f.ce, f.gcl]);
    expect(data.runs.map((r) => r.label)).toEqual(['ce, tiny, seed 0', 'gcl / gcl, tiny, seed 0']);
    const rows = markdownRows(compareMarkdown(data));
    for (const [row, expected] of [
      [rows[0], f.expected.ce],
      [rows[1], f.expected.gcl],
    ] as const) {
      expect(row.slice(1)).toEqual([pct(expected.top1), pct(expected.many), pct(expected.medium), pct(expected.few), pct(expected.ece)]);
    }
    expect(compareMarkdown(data).split('\n').slice(0, 2)).toEqual(['| method | overall | many | medium | few | ECE |', '| --- | ---: | ---: | ---: | ---: | ---: |']);
    expect(data.warnings).toEqual([]);
    expect(data.dataDiffer).toBe(false);
    expect(data.runs[0].selection).toBe('selected on the validation split (stratified hold-out of the training set), epoch 7 (validation mean per-class accuracy 41.0%)');
  });

  it('gives the differences to the first run in points, coloured by which way is better', () => {
    const data = compareRuns([f.ce, f.gcl]);
    const { ce, gcl } = f.expected;
    expect(data.deltas[0].top1).toBe(0);
    expect(data.deltas[1].top1).toBeCloseTo(100 * (gcl.top1 - ce.top1), 10);
    expect(data.deltas[1].few).toBeCloseTo(100 * ((gcl.few as number) - (ce.few as number)), 10);
    expect(data.deltas[1].ece).toBeCloseTo(100 * (gcl.ece - ce.ece), 10);
    const html = compareHtml(data);
    const cell = (metric: string) => new RegExp(`<td class="(\\w+)" data-metric="${metric}" data-delta="[^"]+">([^<]+)</td>`).exec(html);
    const top1 = cell('top1');
    expect(top1?.[2]).toBe(`${gcl.top1 > ce.top1 ? '+' : '-'}${Math.abs(100 * (gcl.top1 - ce.top1)).toFixed(1)}`);
    expect(top1?.[1]).toBe(gcl.top1 > ce.top1 ? 'better' : 'worse');
    expect(cell('ece')?.[1]).toBe(gcl.ece < ce.ece ? 'better' : 'worse');
  });

  it('reads a seed sweep: mean ± sample std of the seeds, the classwise ECE from the seeds when needed', () => {
    const summaryFile = path.join(f.sweep, 'seeds-summary.json');
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
    delete summary.metrics.classwiseEce; // a summary without it: computed from the seeds' results
    writeFileSync(summaryFile, JSON.stringify(summary));
    const data = compareRuns([f.ce, f.sweep], { labels: ['CE', 'GCL (3 seeds)'] });
    const sweep = data.runs[1];
    expect(sweep.kind).toBe('seeds');
    expect(sweep.seeds).toEqual([0, 1, 2]);
    expect(sweep.selection).toBe('selected on the validation split, each seed its own epoch');
    const seeds = f.expected.seeds;
    const row = markdownRows(compareMarkdown(data))[1];
    expect(row).toEqual([
      'GCL (3 seeds)',
      meanStd(seeds.map((s) => s.top1)),
      meanStd(seeds.map((s) => s.many as number)),
      meanStd(seeds.map((s) => s.medium as number)),
      meanStd(seeds.map((s) => s.few as number)),
      meanStd(seeds.map((s) => s.ece)),
    ]);
    const classwise = [0, 1, 2].map((seed) => JSON.parse(readFileSync(path.join(f.sweep, `seed-${seed}`, 'results.json'), 'utf8')).calibration.classwiseEce as number);
    expect(sweep.metrics.classwiseEce.mean).toBeCloseTo(classwise.reduce((a, b) => a + b, 0) / 3, 12);
    expect(sweep.perClass[5].mean).toBeCloseTo(seeds.reduce((s, e) => s + e.perClass[5], 0) / 3, 12);
    expect(sweep.label).toBe('GCL (3 seeds)');
    expect(compareRuns([f.sweep]).runs[0].label).toBe('gcl / gcl, tiny, seeds 0, 1, 2');
    const html = compareHtml(data);
    expect(html).toContain(`<td data-metric="top1">${meanStd(seeds.map((s) => s.top1))}</td>`);
  });

  it("warns when the runs' data differ, and says ECE is not recorded for old results", () => {
    const data = compareRuns([f.ce, f.old]);
    expect(data.dataDiffer).toBe(true);
    expect(data.warnings[0]).toMatch(/ldam, tiny, seed 1 .* and ce, tiny, seed 0 were trained on different data: the training images per class differ \(5 vs 6 classes, 585 vs 591 images\): not comparable\./);
    expect(data.warnings.some((w) => /test sets \(125 vs 150 images\)/.test(w))).toBe(true);
    expect(data.warnings.some((w) => /selected their reported epoch differently \(selection not recorded vs selected on the validation split/.test(w))).toBe(true);
    const markdown = compareMarkdown(data);
    expect(markdownRows(markdown)[1][5]).toBe('not recorded');
    expect(markdown).toContain('> warning: ');
    const html = compareHtml(data);
    expect(html).toContain("The runs&#39; data differ: not comparable.");
    expect(html).toContain('<td data-metric="ece">not recorded</td>');
    expect(html).toContain('selection not recorded');
  });

  it('refuses no runs, a label count that does not match, and directories without results', () => {
    expect(() => compareRuns([])).toThrow(UsageError);
    expect(() => compareRuns([])).toThrow(/at least one run directory/);
    expect(() => compareRuns([f.ce, f.gcl], { labels: ['one'] })).toThrow(/--labels gives 1 label for 2 runs: one per run/);
    expect(() => compareRuns([f.ce, 'empty'], { cwd: f.root })).toThrow(/^empty has no results\.json: not trained to the end\?/);
    expect(() => compareRuns(['missing'], { cwd: f.root })).toThrow(/missing is not a directory/);
  });

  it('compareCommand writes the page and the Markdown file, prints the table and the files', async () => {
    const io = memoryIo(f.root);
    await compareCommand({ runs: ['ce', 'gcl'], markdown: 'table.md', labels: ['CE', 'GCL'], io });
    const html = path.join(f.root, 'compare.html');
    const markdown = path.join(f.root, 'table.md');
    expect(existsSync(html)).toBe(true);
    expect(readFileSync(markdown, 'utf8')).toBe(compareMarkdown(compareRuns([f.ce, f.gcl], { labels: ['CE', 'GCL'] })));
    expect(io.out()).toBe(`${readFileSync(markdown, 'utf8')}wrote ${html}\nwrote ${markdown}\n`);
    await compareCommand({ runs: ['ce'], out: 'pages/one.html', io: memoryIo(f.root) });
    expect(existsSync(path.join(f.root, 'pages', 'one.html'))).toBe(true);
  });

  it('is one self-contained page: no script, no external resource, names in the per-class tooltips', () => {
    const html = compareHtml(compareRuns([f.ce, f.gcl, f.sweep]));
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    for (const name of ['compare-shots', 'compare-per-class']) expect(html).toContain(`data-chart="${name}"`);
    expect(html).toMatch(/<title>gcl \/ gcl, tiny, seed 0 — emu: \d+\.\d% \(6 training images\)<\/title>/);
    expect(html).toMatch(/<title>gcl \/ gcl, tiny, seeds 0, 1, 2 — emu \(± \d+\.\d\): \d+\.\d% \(6 training images\)<\/title>/);
  });

  it.skipIf(!chromiumAvailable)(
    'renders in headless Chromium with no console errors',
    async () => {
      const file = path.join(f.root, 'render.html');
      writeFileSync(file, compareHtml(compareRuns([f.ce, f.gcl, f.sweep, f.old])));
      const page = await renderPage(file, f.root, 'compare.png', { dots: 'svg[data-chart="compare-per-class"] circle', deltas: 'table.deltas td[data-delta]' });
      expect(page.errors).toEqual([]);
      expect(page.externalRequests).toEqual([]);
      expect(page.chartNames).toEqual(['compare-shots', 'compare-per-class']);
      expect(page.counts.dots).toBe(6 + 6 + 6 + 5);
      expect(page.counts.deltas).toBe(3 * 6 - 2); // the old run has no ECE: two n/a cells
    },
    60_000,
  );
});
