/**
 * Seed sweeps: the same config trained once per seed (`longtail train --seeds 0,1,2`), one run directory per seed
 * under the config's output directory, and one summary of them: mean ± standard deviation of the overall, many /
 * medium / few accuracy and the ECE, and of each class's accuracy. Long-tailed results move by points with the seed;
 * a single run says little.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import type { RunConfig } from './config.js';
import type { EvaluationResult } from './evaluation.js';
import { RESULTS_FILE } from './run-layout.js';

/** The summary file a sweep writes into its parent directory (and `longtail compare` reads). */
export const SEEDS_SUMMARY_FILE = 'seeds-summary.json';
/** Its Markdown table. */
export const SEEDS_SUMMARY_MARKDOWN = 'seeds-summary.md';

/** Mean and sample standard deviation (n − 1) of one figure over the seeds; `null` where no seed has a value. */
export interface SeedStatistic {
  mean: number | null;
  /** `null` with fewer than two values. */
  std: number | null;
  /** The value of each seed, in the order of `seeds` (`null` where undefined, e.g. an empty few-shot group). */
  values: Array<number | null>;
}

/** The figures a sweep summarises. */
export const SEED_METRICS = ['top1', 'top5', 'many', 'medium', 'few', 'ece', 'classwiseEce'] as const;
export type SeedMetric = (typeof SEED_METRICS)[number];

/** What `seeds-summary.json` holds. */
export interface SeedsSummary {
  kind: 'longtail-seeds-summary';
  seeds: number[];
  /** Run directories of the seeds, relative to the summary's directory. */
  runs: string[];
  metrics: Record<SeedMetric, SeedStatistic>;
  /** Test accuracy of each class over the seeds. */
  perClass: SeedStatistic[];
  classNames?: string[];
  trainCounts: number[];
  /** How each seed's reported epoch was chosen (`evaluation.select`). */
  selection: string | null;
}

/** The run directory of one seed of a sweep. */
export function seedRunDirectory(parent: string, seed: number): string {
  return path.join(parent, `seed-${seed}`);
}

/**
 * Parses `--seeds`: comma-separated non-negative integers (`0,1,2`) or a range `0-4`; no duplicates.
 * @throws RangeError naming the bad entry
 */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',').map((entry) => entry.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [from, to] = [Number(range[1]), Number(range[2])];
      if (to < from) throw new RangeError(`--seeds: the range "${part}" runs backwards`);
      for (let seed = from; seed <= to; seed++) seeds.push(seed);
    } else if (/^\d+$/.test(part)) {
      seeds.push(Number(part));
    } else {
      throw new RangeError(`--seeds must be comma-separated non-negative integers or ranges (0,1,2 or 0-4), got "${part}"`);
    }
  }
  const repeated = seeds.find((seed, index) => seeds.indexOf(seed) !== index);
  if (repeated !== undefined) throw new RangeError(`--seeds lists seed ${repeated} twice`);
  if (seeds.length === 0) throw new RangeError('--seeds needs at least one seed');
  return seeds;
}

/** The config of one seed of a sweep: `seed` set, and the seed's own run directory under the sweep's. */
export function seedConfig(config: RunConfig, parent: string, seed: number): RunConfig {
  return { ...config, seed, outputDir: seedRunDirectory(parent, seed) };
}

/** Mean and sample standard deviation of the finite values. */
export function seedStatistic(values: Array<number | null | undefined>): SeedStatistic {
  const clean = values.map((value) => (typeof value === 'number' && Number.isFinite(value) ? value : null));
  const present = clean.filter((value): value is number => value !== null);
  if (present.length === 0) return { mean: null, std: null, values: clean };
  const mean = present.reduce((sum, value) => sum + value, 0) / present.length;
  const std = present.length < 2 ? null : Math.sqrt(present.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (present.length - 1));
  return { mean, std, values: clean };
}

/** Reads one seed's final results. */
function readSeedResults(directory: string): EvaluationResult {
  const file = path.join(directory, RESULTS_FILE);
  if (!existsSync(file)) throw new Error(`${file} does not exist: the seed's run did not finish (train it with --resume)`);
  return JSON.parse(readFileSync(file, 'utf8')) as EvaluationResult;
}

/** The summary of finished seed runs (their `results.json`); throws when their data differ (class counts). */
export function summarizeSeeds(parent: string, seeds: number[]): SeedsSummary {
  const results = seeds.map((seed) => readSeedResults(seedRunDirectory(parent, seed)));
  const first = results[0];
  results.forEach((result, index) => {
    if (JSON.stringify(result.trainCounts) !== JSON.stringify(first.trainCounts)) {
      throw new Error(`seed ${seeds[index]} was trained on other data than seed ${seeds[0]} (training images per class differ): the seeds cannot be summarised together`);
    }
  });
  const value = (result: EvaluationResult, metric: SeedMetric): number | null => {
    if (metric === 'ece') return result.calibration?.ece ?? null;
    if (metric === 'classwiseEce') return result.calibration?.classwiseEce ?? null;
    return result[metric];
  };
  const metrics = Object.fromEntries(SEED_METRICS.map((metric) => [metric, seedStatistic(results.map((result) => value(result, metric)))])) as Record<SeedMetric, SeedStatistic>;
  return {
    kind: 'longtail-seeds-summary',
    seeds,
    runs: seeds.map((seed) => path.basename(seedRunDirectory(parent, seed))),
    metrics,
    perClass: first.perClassAccuracy.map((_, c) => seedStatistic(results.map((result) => result.perClassAccuracy[c]))),
    ...(first.classNames ? { classNames: first.classNames } : {}),
    trainCounts: first.trainCounts,
    selection: first.selection?.mode ?? null,
  };
}

/** `mean ± std` in percent with one decimal (`n/a` without a value; no `±` with one seed). */
export function formatSeedStatistic(statistic: SeedStatistic): string {
  if (statistic.mean === null) return 'n/a';
  const mean = (100 * statistic.mean).toFixed(1);
  return statistic.std === null ? mean : `${mean} ± ${(100 * statistic.std).toFixed(1)}`;
}

/** The summary as Markdown: one table of the headline figures, one of the classes (%). */
export function seedsSummaryMarkdown(summary: SeedsSummary): string {
  const headline = ['top1', 'many', 'medium', 'few', 'ece', 'classwiseEce'] as const;
  const titles: Record<(typeof headline)[number], string> = { top1: 'overall', many: 'many', medium: 'medium', few: 'few', ece: 'ECE', classwiseEce: 'classwise ECE' };
  const lines = [
    `Seeds ${summary.seeds.join(', ')}: test figures (%) of each seed's ${summary.selection === null ? 'reported' : `${summary.selection}-selected`} epoch, mean ± sample standard deviation.`,
    '',
    `| ${headline.map((metric) => titles[metric]).join(' | ')} |`,
    `| ${headline.map(() => '---').join(' | ')} |`,
    `| ${headline.map((metric) => formatSeedStatistic(summary.metrics[metric])).join(' | ')} |`,
    '',
    '| class | training images | accuracy |',
    '| --- | --- | --- |',
    ...summary.perClass.map((statistic, c) => `| ${summary.classNames?.[c] ?? c} | ${summary.trainCounts[c]} | ${formatSeedStatistic(statistic)} |`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes `seeds-summary.json` and `seeds-summary.md` into the sweep's directory; returns the summary. */
export async function writeSeedsSummary(parent: string, seeds: number[]): Promise<SeedsSummary> {
  const summary = summarizeSeeds(parent, seeds);
  await writeFileAtomic(path.join(parent, SEEDS_SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFileAtomic(path.join(parent, SEEDS_SUMMARY_MARKDOWN), seedsSummaryMarkdown(summary));
  return summary;
}
