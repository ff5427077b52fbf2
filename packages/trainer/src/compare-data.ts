/**
 * The data of `longtail compare`: what {@link compareRuns} reads from run directories and seed sweeps.
 *
 * What is read, per directory:
 * - a seed sweep (the directory holds `seeds-summary.json`, written by `longtail train --seeds`): `seeds`, `runs`
 *   (seed directories relative to the sweep's), `metrics.{top1,many,medium,few,ece,classwiseEce}` as
 *   `{ mean, std, values }` (fractions; `std` the sample standard deviation, `null` for one seed), `perClass` (one
 *   `{ mean, std }` per class), `classNames`, `trainCounts`, `selection` (the mode). Missing metrics are computed
 *   from the seeds' `results.json` where those exist, else "not recorded"; the method label comes from the first
 *   seed's `config.json` (or the sweep's own, if any);
 * - a run: `results.json` (the final evaluation: `top1`, `many`, `medium`, `few`, `perClassAccuracy`,
 *   `trainCounts`, `classNames`, `numSamples`, optional `calibration`, `selection`) and `config.json` (`stage1.loss.name`,
 *   `stage2.enabled`, `stage2.loss.name`, `model.backbone`, `seed`, `data.dataset`); every field is optional except
 *   `top1`, `perClassAccuracy` and `trainCounts`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './cli-io.js';
import type { EvaluationResult, SelectionMode } from './evaluation.js';
import { describeSelection, describeSelectionMode } from './report-calibration.js';
import { CONFIG_FILE, RESULTS_FILE } from './run-layout.js';
import { SEEDS_SUMMARY_FILE, seedStatistic } from './seeds.js';

/** The figures compared, in table order. */
export const COMPARE_METRICS = ['top1', 'many', 'medium', 'few', 'ece', 'classwiseEce'] as const;
export type CompareMetric = (typeof COMPARE_METRICS)[number];

/** One figure of one run: a run's value (`std` null) or the mean ± sample std of a sweep; fractions in [0, 1]. */
export interface ComparedFigure {
  mean: number | null;
  std: number | null;
}

/** One column of the comparison: a run or a seed sweep. */
export interface ComparedRun {
  directory: string;
  label: string;
  kind: 'run' | 'seeds';
  /** The seeds of a sweep. */
  seeds?: number[];
  method: { stage1Loss: string | null; stage2Loss: string | null; backbone: string | null; seed: number | null; dataset: string | null };
  metrics: Record<CompareMetric, ComparedFigure>;
  perClass: ComparedFigure[];
  trainCounts: number[];
  classNames?: string[];
  /** Test images (`null` when unknown, e.g. a sweep whose seeds' results are gone). */
  numSamples: number | null;
  selectionMode: SelectionMode | null;
  /** How the reported epoch was selected, in words. */
  selection: string;
}

/** What {@link compareHtml} and {@link compareMarkdown} render. */
export interface CompareData {
  generatedAt: string;
  runs: ComparedRun[];
  /** Per run, the difference to the first run in percentage points (`null` where either lacks the figure). */
  deltas: Array<Record<CompareMetric, number | null>>;
  /** True when the runs' training counts, class names, test size or data set differ: not comparable. */
  dataDiffer: boolean;
  /** One sentence per difference (data, selection protocol). */
  warnings: string[];
}

export interface CompareOptions {
  /** One label per run, replacing the label made from its config. */
  labels?: string[];
  /** Where relative run directories are resolved (default `process.cwd()`). */
  cwd?: string;
}

type Json = Record<string, unknown>;

function readJson(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Json;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message})`);
  }
}

const readJsonIfPresent = (file: string): Json | undefined => (existsSync(file) ? readJson(file) : undefined);
const numberOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const at = (value: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Json)[key] : undefined), value);
const single = (value: number | null): ComparedFigure => ({ mean: value, std: null });

function methodOf(config: Json | undefined, results: Json | undefined): ComparedRun['method'] {
  const stage2 = at(config, 'stage2', 'enabled') === false ? null : stringOrNull(at(config, 'stage2', 'loss', 'name'));
  return {
    stage1Loss: stringOrNull(at(config, 'stage1', 'loss', 'name')),
    stage2Loss: stage2,
    backbone: stringOrNull(at(config, 'model', 'backbone')),
    seed: numberOrNull(at(config, 'seed')),
    dataset: stringOrNull(at(config, 'data', 'dataset')) ?? stringOrNull(results?.dataset),
  };
}

/** `gcl / gcl, resnet32, seed 0` (stage-1 loss / stage-2 loss, backbone, seed or seeds). */
function methodLabel(method: ComparedRun['method'], seeds: number[] | undefined, directory: string): string {
  const losses = method.stage1Loss ? [method.stage1Loss, method.stage2Loss].filter(Boolean).join(' / ') : path.basename(directory);
  const seedText = seeds ? `seeds ${seeds.join(', ')}` : method.seed !== null ? `seed ${method.seed}` : '';
  return [losses, method.backbone, seedText].filter(Boolean).join(', ');
}

function selectionModeOf(value: unknown): SelectionMode | null {
  return value === 'val' || value === 'test' || value === 'last' ? value : null;
}

/** The mode alone in words: a sweep's seeds each select their own epoch. */
function describeMode(mode: SelectionMode | null): string {
  return mode === null ? 'selection not recorded' : `${describeSelectionMode(mode)}, each seed its own epoch`;
}

function runFromResults(directory: string, results: Json, config: Json | undefined): ComparedRun {
  const result = results as unknown as Partial<EvaluationResult>;
  if (typeof result.top1 !== 'number' || !Array.isArray(result.perClassAccuracy) || !Array.isArray(result.trainCounts)) {
    throw new Error(`${path.join(directory, RESULTS_FILE)} lacks top1, perClassAccuracy or trainCounts: not a longtail results file`);
  }
  const method = methodOf(config, results);
  const calibration = result.calibration;
  return {
    directory,
    label: methodLabel(method, undefined, directory),
    kind: 'run',
    method,
    metrics: {
      top1: single(result.top1),
      many: single(numberOrNull(result.many)),
      medium: single(numberOrNull(result.medium)),
      few: single(numberOrNull(result.few)),
      ece: single(numberOrNull(calibration?.ece)),
      classwiseEce: single(numberOrNull(calibration?.classwiseEce)),
    },
    perClass: result.perClassAccuracy.map((value) => single(numberOrNull(value))),
    trainCounts: result.trainCounts,
    ...(Array.isArray(result.classNames) ? { classNames: result.classNames } : {}),
    numSamples: numberOrNull(result.numSamples),
    selectionMode: selectionModeOf(result.selection?.mode),
    selection: describeSelection(result.selection),
  };
}

function figureOf(statistic: unknown): ComparedFigure | undefined {
  if (statistic === null || typeof statistic !== 'object') return undefined;
  return { mean: numberOrNull(at(statistic, 'mean')), std: numberOrNull(at(statistic, 'std')) };
}

/** A sweep's figure: from the summary, else computed from the seeds' results, else "not recorded". */
function sweepFigure(summary: Json, metric: CompareMetric, seedResults: Json[]): ComparedFigure {
  const recorded = figureOf(at(summary, 'metrics', metric));
  if (recorded && recorded.mean !== null) return recorded;
  const value = (r: Json) => (metric === 'ece' || metric === 'classwiseEce' ? at(r, 'calibration', metric) : r[metric]);
  const computed = seedResults.length > 0 ? seedStatistic(seedResults.map((r) => numberOrNull(value(r)))) : undefined;
  return computed ? { mean: computed.mean, std: computed.std } : (recorded ?? { mean: null, std: null });
}

function runFromSweep(directory: string, summary: Json): ComparedRun {
  const file = path.join(directory, SEEDS_SUMMARY_FILE);
  const trainCounts = summary.trainCounts;
  if (!Array.isArray(trainCounts)) throw new Error(`${file} lacks trainCounts: not a longtail seeds summary`);
  const seeds = Array.isArray(summary.seeds) ? summary.seeds.filter((s): s is number => typeof s === 'number') : [];
  const seedDirectories = (Array.isArray(summary.runs) ? summary.runs : []).filter((r): r is string => typeof r === 'string').map((r) => path.resolve(directory, r));
  const seedResults = seedDirectories.map((d) => readJsonIfPresent(path.join(d, RESULTS_FILE))).filter((r): r is Json => r !== undefined);
  const config = readJsonIfPresent(path.join(directory, CONFIG_FILE)) ?? seedDirectories.map((d) => readJsonIfPresent(path.join(d, CONFIG_FILE))).find(Boolean);
  const method = { ...methodOf(config, seedResults[0]), seed: null };
  const perClass = Array.isArray(summary.perClass) ? summary.perClass.map((s) => figureOf(s) ?? { mean: null, std: null }) : [];
  const mode = selectionModeOf(summary.selection) ?? selectionModeOf(at(seedResults[0], 'selection', 'mode'));
  const classNames = Array.isArray(summary.classNames) ? (summary.classNames as string[]) : Array.isArray(seedResults[0]?.classNames) ? (seedResults[0].classNames as string[]) : undefined;
  return {
    directory,
    label: methodLabel(method, seeds, directory),
    kind: 'seeds',
    seeds,
    method,
    metrics: Object.fromEntries(COMPARE_METRICS.map((metric) => [metric, sweepFigure(summary, metric, seedResults)])) as Record<CompareMetric, ComparedFigure>,
    perClass,
    trainCounts: trainCounts as number[],
    ...(classNames ? { classNames } : {}),
    numSamples: numberOrNull(seedResults[0]?.numSamples),
    selectionMode: mode,
    selection: describeMode(mode),
  };
}

/** Reads one run directory or seed sweep; throws a {@link UsageError} for a directory that is neither. */
function readComparedRun(directory: string, given: string): ComparedRun {
  if (!existsSync(directory) || !statSync(directory).isDirectory()) throw new UsageError(`${given} is not a directory`);
  const summary = readJsonIfPresent(path.join(directory, SEEDS_SUMMARY_FILE));
  if (summary) return runFromSweep(directory, summary);
  const results = readJsonIfPresent(path.join(directory, RESULTS_FILE));
  if (!results) {
    throw new UsageError(`${given} has no ${RESULTS_FILE}: not trained to the end? (longtail train --resume finishes it; a seed sweep needs its ${SEEDS_SUMMARY_FILE})`);
  }
  return runFromResults(directory, results, readJsonIfPresent(path.join(directory, CONFIG_FILE)));
}

const sameArray = (a: readonly unknown[] | undefined, b: readonly unknown[] | undefined) => JSON.stringify(a) === JSON.stringify(b);

/** Sentences naming how each run's data (and selection protocol) differ from the first run's. */
function differences(runs: ComparedRun[]): { dataDiffer: boolean; warnings: string[] } {
  const [first] = runs;
  const data: string[] = [];
  const protocol: string[] = [];
  for (const run of runs.slice(1)) {
    const against = `${run.label} (${run.directory}) and ${first.label}`;
    if (!sameArray(run.trainCounts, first.trainCounts)) {
      data.push(`${against} were trained on different data: the training images per class differ (${run.trainCounts.length} vs ${first.trainCounts.length} classes, ${sum(run.trainCounts)} vs ${sum(first.trainCounts)} images)`);
    }
    if (run.classNames && first.classNames && !sameArray(run.classNames, first.classNames)) data.push(`${against} have different class names`);
    if (run.numSamples !== null && first.numSamples !== null && run.numSamples !== first.numSamples) data.push(`${against} were tested on different test sets (${run.numSamples} vs ${first.numSamples} images)`);
    if (run.method.dataset && first.method.dataset && run.method.dataset !== first.method.dataset) data.push(`${against} use different data sets (${run.method.dataset} vs ${first.method.dataset})`);
    if (run.selectionMode !== first.selectionMode) protocol.push(`${against} selected their reported epoch differently (${run.selection} vs ${first.selection})`);
  }
  const warnings = data.map((text) => `${text}: not comparable.`).concat(protocol.map((text) => `${text}: the figures are not measured the same way.`));
  return { dataDiffer: data.length > 0, warnings };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function deltaTo(first: ComparedRun, run: ComparedRun): Record<CompareMetric, number | null> {
  return Object.fromEntries(
    COMPARE_METRICS.map((metric) => {
      const a = first.metrics[metric].mean;
      const b = run.metrics[metric].mean;
      return [metric, a === null || b === null ? null : 100 * (b - a)];
    }),
  ) as Record<CompareMetric, number | null>;
}

/**
 * Reads run directories (each `results.json` + `config.json`) or seed sweeps (`seeds-summary.json`) for comparison:
 * their figures, per-class accuracies, how each selected its epoch, the differences to the first in points, and
 * warnings where the runs' data differ.
 * @throws UsageError without runs, with a label count that does not match, or for a directory without results
 */
export function compareRuns(runDirectories: string[], options: CompareOptions = {}): CompareData {
  if (runDirectories.length < 1) throw new UsageError('compare needs at least one run directory (longtail compare runs/a runs/b)');
  if (options.labels && options.labels.length !== runDirectories.length) {
    throw new UsageError(`--labels gives ${options.labels.length} label${options.labels.length === 1 ? '' : 's'} for ${runDirectories.length} run${runDirectories.length === 1 ? '' : 's'}: one per run`);
  }
  const cwd = options.cwd ?? process.cwd();
  const runs = runDirectories.map((given, i) => {
    const run = readComparedRun(path.resolve(cwd, given), given);
    const label = options.labels?.[i];
    return label ? { ...run, label } : run;
  });
  return { generatedAt: new Date().toISOString(), runs, deltas: runs.map((run) => deltaTo(runs[0], run)), ...differences(runs) };
}

/** `45.3` or `45.3 ± 0.4` (percent, one decimal); `empty` when there is no value. */
export function formatFigure(figure: ComparedFigure, empty = 'n/a'): string {
  if (figure.mean === null) return empty;
  const mean = (100 * figure.mean).toFixed(1);
  return figure.std === null ? mean : `${mean} ± ${(100 * figure.std).toFixed(1)}`;
}

export const METRIC_TITLES: Record<CompareMetric, string> = { top1: 'overall', many: 'many', medium: 'medium', few: 'few', ece: 'ECE', classwiseEce: 'classwise ECE' };
