/**
 * `longtail check-data`: what is wrong with a config's data, before a run finds out. For an image folder, the data
 * set's own checker (`@longtail/datasets`: duplicates across splits, unreadable and very small images, empty classes);
 * for every data set, the training / validation / test images per class as the run would load them, the imbalance
 * factor and the shot groups; then the settings known to fail on such data (`settingWarnings`).
 */
import { classCounts } from '@longtail/samplers';
import { getDataset, manyMediumFew } from '@longtail/datasets';
import type { CliIo } from './cli-io.js';
import type { RunConfig } from './config.js';
import { datasetLoadOptions, loadTrainingData, type TrainingData } from './data.js';
import { settingWarnings } from './setting-warnings.js';

/** What `check-data --json` prints. */
export interface DataCheckReport {
  dataset: string;
  source: string;
  classNames: string[];
  train: number[];
  val: number[] | null;
  valSource: 'dataset' | 'hold-out' | null;
  test: number[];
  /** n_max / n_min over the classes with training images. */
  imbalanceRatio: number | null;
  many: number[];
  medium: number[];
  few: number[];
  /** Problems of the data themselves (unreadable images, classes without training images). */
  errors: string[];
  warnings: string[];
}

/** The report of a loaded data set: counts per split, groups, and the warnings about the config's settings. */
export function dataCheckReport(config: RunConfig, data: TrainingData): DataCheckReport {
  const train = classCounts(data.train.labels, data.numClasses);
  const val = data.val ? classCounts(data.val.labels, data.numClasses) : null;
  const test = classCounts(data.test.labels, data.numClasses);
  const present = train.filter((n) => n > 0);
  const groups = manyMediumFew(train, { manyAbove: config.evaluation.manyThreshold, fewBelow: config.evaluation.fewThreshold });
  const errors: string[] = [];
  const empty = train.flatMap((n, c) => (n === 0 ? [data.classNames[c] ?? String(c)] : []));
  if (empty.length > 0) errors.push(`${empty.length} classes have no training images: ${empty.slice(0, 10).join(', ')}${empty.length > 10 ? ', …' : ''}`);
  if (data.test.length === 0) errors.push('the test set has no images');
  const untested = test.flatMap((n, c) => (n === 0 && train[c] > 0 ? [data.classNames[c] ?? String(c)] : []));
  const warnings = settingWarnings(config, train, val ?? undefined);
  if (untested.length > 0) warnings.unshift(`${untested.length} classes have no test images (their accuracy is n/a): ${untested.slice(0, 10).join(', ')}${untested.length > 10 ? ', …' : ''}`);
  return {
    dataset: config.data.dataset,
    source: data.description,
    classNames: data.classNames,
    train,
    val,
    valSource: data.valSource ?? null,
    test,
    imbalanceRatio: present.length ? Math.max(...present) / Math.min(...present) : null,
    many: groups.many,
    medium: groups.medium,
    few: groups.few,
    errors,
    warnings,
  };
}

/** The report as the aligned text `check-data` prints. */
export function formatDataCheckReport(report: DataCheckReport): string {
  const shot = (c: number) => (report.many.includes(c) ? 'many' : report.few.includes(c) ? 'few' : 'medium');
  const total = (counts: number[] | null) => (counts ? counts.reduce((sum, n) => sum + n, 0) : 0);
  const lines = [
    `${report.dataset}: ${report.source}`,
    `${report.classNames.length} classes; ${total(report.train)} training, ${report.val ? `${total(report.val)} validation (${report.valSource === 'hold-out' ? 'held out of training' : 'the data set\'s own'}), ` : ''}${total(report.test)} test images; ` +
      `imbalance ratio ${report.imbalanceRatio === null ? 'n/a' : report.imbalanceRatio.toFixed(1)}`,
    `many: ${report.many.length} classes, medium: ${report.medium.length}, few: ${report.few.length}`,
    '',
    `class  name                  train${report.val ? '    val' : ''}   test  shot`,
    ...report.train.map(
      (n, c) =>
        `${String(c).padStart(5)}  ${(report.classNames[c] ?? '').slice(0, 20).padEnd(20)} ${String(n).padStart(6)}${report.val ? ` ${String(report.val[c]).padStart(6)}` : ''} ${String(report.test[c]).padStart(6)}  ${shot(c)}`,
    ),
  ];
  if (report.errors.length > 0) lines.push('', ...report.errors.map((error) => `error: ${error}`));
  if (report.warnings.length > 0) lines.push('', ...report.warnings.map((warning) => `warning: ${warning}`));
  if (report.errors.length === 0 && report.warnings.length === 0) lines.push('', 'no problems found');
  return `${lines.join('\n')}\n`;
}

/**
 * Runs the check; resolves to the exit code (1 when the data have errors). A data set with its own checks
 * (`DatasetSpec.check`, e.g. an image folder's) reports them first, and its report stands even when the data would
 * not load (the loading error is then one of the errors).
 */
export async function checkDataCommand(config: RunConfig, options: { json: boolean; io: CliIo }): Promise<number> {
  const spec = getDataset(config.data.dataset);
  const thresholds = { manyAbove: config.evaluation.manyThreshold, fewBelow: config.evaluation.fewThreshold };
  const own = spec.check ? await spec.check(datasetLoadOptions(config.data), thresholds) : null;
  let report: DataCheckReport | null = null;
  let loadError: string | null = null;
  try {
    report = dataCheckReport(config, await loadTrainingData(config));
  } catch (error) {
    if (!own) throw error;
    loadError = `the data do not load: ${(error as Error).message}`;
  }
  const errors = [...(own?.errors ?? []), ...(loadError ? [loadError] : []), ...(report?.errors ?? [])];
  if (options.json) {
    options.io.stdout.write(`${JSON.stringify({ ...(report ?? {}), ...(own ? { own: own.report } : {}), errors, warnings: [...(own?.warnings ?? []), ...(report?.warnings ?? [])] }, null, 2)}\n`);
  } else {
    const parts = [own ? own.text.trimEnd() : '', report ? formatDataCheckReport(report).trimEnd() : '', loadError ? `error: ${loadError}` : ''];
    options.io.stdout.write(`${parts.filter(Boolean).join('\n\n')}\n`);
  }
  return errors.length > 0 ? 1 : 0;
}
