import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  IMAGE_FOLDER_EXTENSIONS,
  IMAGE_FOLDER_TEST_FRACTION,
  mapConcurrent,
  scanImageFolder,
  type ImageFolderPart,
} from './image-folder.js';
import { manyMediumFew, type ShotGroups } from './statistics.js';
import { heldOutCount } from './stratified-split.js';

/** Options of {@link checkImageFolder}. */
export interface DataCheckOptions {
  /** Many-shot: more than this many training images; default 100 (as {@link manyMediumFew}). */
  manyAbove?: number;
  /** Few-shot: fewer than this many training images; default 20. */
  fewBelow?: number;
  /** An image with a side shorter than this (pixels) is reported as tiny; default 8. */
  minSide?: number;
  /** As the loader's `testFraction` (default 0.2): predicts the held-out test counts when there is no `test/`. */
  testFraction?: number;
  /** As the loader's `valFraction` (default 0): predicts held-out validation counts when there is no `val/`. */
  valFraction?: number;
  /**
   * `'full'` (default) decodes every image as training will (sharp, `failOn: 'warning'`), which also finds truncated
   * files; `'header'` reads only the header (faster; finds files that are not images at all).
   */
  decode?: 'full' | 'header';
  /** Files read, hashed and decoded at a time; default 8. */
  concurrency?: number;
}

/** One image file of a check, `path` relative to the root. */
export interface DataCheckImage {
  path: string;
  /** The folder it is in: `train`, `val`, `test`, or `all` (a flat folder). */
  part: ImageFolderPart;
  className: string;
}

/** Per-class image counts of one split the loader will produce. */
export interface DataCheckSplit {
  name: 'train' | 'val' | 'test';
  /**
   * `folder`: the split's own folder; `held out`: the seeded stratified split the loader makes (the counts are exact
   * for any seed, which images go where depends on it).
   */
  source: 'folder' | 'held out';
  /** Images per class, class index order. */
  counts: number[];
  total: number;
}

/** Files with identical bytes (sha256). */
export interface DataCheckDuplicate {
  sha256: string;
  files: DataCheckImage[];
  /** The copies lie in different folders (`train/` and `test/`, …): a leak between splits. */
  acrossParts: boolean;
  /** The copies lie in different classes: contradictory labels. */
  acrossClasses: boolean;
}

/** The report of {@link checkImageFolder}. */
export interface DataCheckReport {
  /** The root, absolute. */
  root: string;
  layout: 'splits' | 'flat';
  classNames: string[];
  /** `train`, then `val` (when the loader makes one), then `test`. */
  splits: DataCheckSplit[];
  /** The training counts (the `train` entry of `splits`), which the groups and the ratio are computed from. */
  trainCounts: number[];
  /** max / min training images over the classes that have any ("imbalance ratio 100"); null when none has. */
  imbalanceRatio: number | null;
  thresholds: { manyAbove: number; fewBelow: number };
  /** {@link manyMediumFew} of `trainCounts`. */
  groups: ShotGroups;
  /** Image files checked (every split). */
  images: number;
  decode: 'full' | 'header';
  /** Groups of identical files, largest first. */
  duplicates: DataCheckDuplicate[];
  /** Files sharp cannot read or decode, with its message. */
  unreadable: Array<DataCheckImage & { reason: string }>;
  /** Images with a side shorter than `minSide`. */
  tiny: Array<DataCheckImage & { width: number; height: number }>;
  minSide: number;
  /** Class folders without an image (`directory` relative to the root). */
  emptyClasses: Array<{ part: ImageFolderPart; className: string; directory: string }>;
  /** Files and folders that are not images or classes, relative to the root. */
  ignored: string[];
  /** Why the loader refuses the folder (empty: it loads, unless `unreadable` is non-empty). */
  errors: string[];
  /** What is legal but probably not what you want, one sentence each. */
  warnings: string[];
}

function listed(names: readonly string[], limit = 10): string {
  const shown = names.slice(0, limit).map((name) => JSON.stringify(name));
  return names.length > limit ? `${shown.join(', ')} … (${names.length - limit} more)` : shown.join(', ');
}

function requireNumber(value: number, name: string, check: (value: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !check(value)) throw new RangeError(`${name} must be ${expected}, got ${String(value)}`);
  return value;
}

/**
 * Checks an image folder before training (the trainer's `longtail check-data`): the layout and class list exactly as
 * `loadImageFolder` sees them, per-split class counts (held-out splits predicted with `heldOutCount`), the imbalance
 * ratio and many / medium / few-shot groups of the training part, identical files (sha256 of the bytes) within and
 * across splits, images sharp cannot decode, tiny images, empty class folders, ignored files, the errors that make
 * the loader refuse the folder, and warnings. Every file is read, hashed and decoded once, `concurrency` (8) at a
 * time. Throws only when the root is missing or not a directory; everything else is in the report.
 */
export async function checkImageFolder(root: string, options: DataCheckOptions = {}): Promise<DataCheckReport> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const manyAbove = requireNumber(options.manyAbove ?? 100, 'manyAbove', (v) => v >= 0, 'a non-negative number');
  const fewBelow = requireNumber(options.fewBelow ?? 20, 'fewBelow', (v) => v >= 0 && v <= manyAbove, `a number in [0, manyAbove = ${manyAbove}]`);
  const minSide = requireNumber(options.minSide ?? 8, 'minSide', (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const testFraction = requireNumber(options.testFraction ?? IMAGE_FOLDER_TEST_FRACTION, 'testFraction', (v) => v >= 0 && v < 1, 'in [0, 1)');
  const valFraction = requireNumber(options.valFraction ?? 0, 'valFraction', (v) => v >= 0 && v < 1, 'in [0, 1)');
  const concurrency = requireNumber(options.concurrency ?? 8, 'concurrency', (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const decode = options.decode ?? 'full';
  if (decode !== 'full' && decode !== 'header') throw new TypeError(`decode must be 'full' or 'header', got ${String(decode)}`);

  const scan = await scanImageFolder(root);
  const { classNames } = scan;
  const numClasses = classNames.length;
  const partOf = (name: ImageFolderPart) => scan.parts.find((part) => part.part === name);
  const countsOf = (name: ImageFolderPart) => classNames.map((className) => partOf(name)?.classes.get(className)?.images.length ?? 0);

  // The splits the loader makes: own folders, else held out of the training folder (test first, then val).
  let train = countsOf(scan.layout === 'flat' ? 'all' : 'train');
  const splits: DataCheckSplit[] = [];
  let test: DataCheckSplit;
  if (partOf('test')) {
    test = { name: 'test', source: 'folder', counts: countsOf('test'), total: 0 };
  } else {
    const held = train.map((n) => heldOutCount(n, testFraction));
    train = train.map((n, c) => n - held[c]);
    test = { name: 'test', source: 'held out', counts: held, total: 0 };
  }
  let val: DataCheckSplit | undefined;
  if (partOf('val')) {
    val = { name: 'val', source: 'folder', counts: countsOf('val'), total: 0 };
  } else if (valFraction > 0) {
    const held = train.map((n) => heldOutCount(n, valFraction));
    train = train.map((n, c) => n - held[c]);
    val = { name: 'val', source: 'held out', counts: held, total: 0 };
  }
  splits.push({ name: 'train', source: 'folder', counts: train, total: 0 });
  if (val) splits.push(val);
  splits.push(test);
  for (const split of splits) split.total = split.counts.reduce((sum, n) => sum + n, 0);

  const withImages = train.filter((n) => n > 0);
  const imbalanceRatio = withImages.length === 0 ? null : Math.max(...withImages) / Math.min(...withImages);
  const groups = manyMediumFew(train, { manyAbove, fewBelow });

  // Every file once: bytes → sha256, header → size, and (full) a decode as training does it.
  const files: DataCheckImage[] = scan.parts.flatMap((part) => [...part.classes.values()].flatMap((scanned) => scanned.images.map((image) => ({ path: image, part: part.part, className: scanned.name }))));
  const results = await mapConcurrent(files, concurrency, async (file) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(scan.root, file.path));
    } catch (error) {
      return { reason: `cannot be read: ${(error as Error).message}` };
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    try {
      const metadata = await sharp(bytes, { failOn: 'warning' }).metadata();
      if (!metadata.width || !metadata.height) return { sha256, reason: 'image has no dimensions' };
      if (decode === 'full') await sharp(bytes, { failOn: 'warning' }).raw().toBuffer();
      return { sha256, width: metadata.width, height: metadata.height };
    } catch (error) {
      const reason = (error as Error).message;
      // libvips sometimes reports only the generic failOn message (its warning text is per-thread and can be lost).
      return { sha256, reason: /failOn/.test(reason) ? `${reason} (the file is truncated or damaged)` : reason };
    }
  });
  const unreadable: DataCheckReport['unreadable'] = [];
  const tiny: DataCheckReport['tiny'] = [];
  const byHash = new Map<string, DataCheckImage[]>();
  results.forEach((result, i) => {
    const file = files[i];
    if (result.sha256 !== undefined) {
      const group = byHash.get(result.sha256);
      if (group) group.push(file);
      else byHash.set(result.sha256, [file]);
    }
    if (result.reason !== undefined) unreadable.push({ ...file, reason: result.reason });
    else if (result.width! < minSide || result.height! < minSide) tiny.push({ ...file, width: result.width!, height: result.height! });
  });
  const duplicates: DataCheckDuplicate[] = [...byHash]
    .filter(([, group]) => group.length > 1)
    .map(([sha256, group]) => ({
      sha256,
      files: group,
      acrossParts: new Set(group.map((file) => file.part)).size > 1,
      acrossClasses: new Set(group.map((file) => file.className)).size > 1,
    }))
    .sort((a, b) => b.files.length - a.files.length || (a.files[0].path < b.files[0].path ? -1 : 1));

  const emptyClasses: DataCheckReport['emptyClasses'] = [];
  for (const part of scan.parts) {
    for (const scanned of part.classes.values()) if (scanned.images.length === 0) emptyClasses.push({ part: part.part, className: scanned.name, directory: scanned.directory });
  }

  const report: DataCheckReport = {
    root: scan.root,
    layout: scan.layout,
    classNames,
    splits,
    trainCounts: train,
    imbalanceRatio,
    thresholds: { manyAbove, fewBelow },
    groups,
    images: files.length,
    decode,
    duplicates,
    unreadable,
    tiny,
    minSide,
    emptyClasses,
    ignored: scan.ignored,
    errors: [...scan.problems],
    warnings: [],
  };
  report.warnings = dataCheckWarnings(report);
  return report;
}

const folderName = (part: ImageFolderPart, root: string) => (part === 'all' ? `${root}/` : `${part}/`);

/** The warnings of a report (what the loader accepts but a run would probably suffer from). */
function dataCheckWarnings(report: DataCheckReport): string[] {
  const warnings: string[] = [];
  const { classNames, trainCounts, thresholds, groups } = report;
  const names = (predicate: (c: number) => boolean) => classNames.filter((_, c) => predicate(c));
  if (report.unreadable.length > 0) {
    warnings.push(`${report.unreadable.length} image(s) cannot be ${report.decode === 'full' ? 'decoded' : 'read'}: training stops at the first of them; remove or replace them`);
  }
  if (report.tiny.length > 0) warnings.push(`${report.tiny.length} image(s) have a side shorter than ${report.minSide} px: they are upscaled to the input size and carry little information`);
  const leaks = new Map<string, DataCheckDuplicate[]>();
  for (const duplicate of report.duplicates.filter((d) => d.acrossParts)) {
    const key = [...new Set(duplicate.files.map((file) => folderName(file.part, report.root)))].sort().join(' and ');
    leaks.set(key, [...(leaks.get(key) ?? []), duplicate]);
  }
  for (const [key, group] of leaks) {
    const [a, b] = group[0].files;
    warnings.push(`${group.length} image(s) appear in both ${key} (identical bytes): evaluation measures memory, not generalisation; e.g. ${a.path} = ${b.path}`);
  }
  const within = report.duplicates.filter((d) => !d.acrossParts);
  if (within.length > 0) {
    const heldOut = report.splits.some((split) => split.source === 'held out');
    const [a, b] = within[0].files;
    const folders = [...new Set(within.map((d) => folderName(d.files[0].part, report.root)))].join(', ');
    warnings.push(
      `${within.length} group(s) of identical images inside ${folders}${heldOut ? ' (a held-out split may get one copy and training another)' : ''}; e.g. ${a.path} = ${b.path}`,
    );
  }
  const conflicting = report.duplicates.filter((d) => d.acrossClasses);
  if (conflicting.length > 0) {
    const [a, b] = conflicting[0].files.filter((file, i, all) => i === 0 || file.className !== all[0].className);
    warnings.push(`${conflicting.length} group(s) of identical images under different classes (contradictory labels); e.g. ${a.path} = ${b.path}`);
  }
  if (classNames.length === 1) warnings.push(`only one class (${JSON.stringify(classNames[0])}): a classifier has nothing to tell apart`);
  const none = names((c) => trainCounts[c] === 0);
  if (none.length > 0) warnings.push(`class(es) without training images (they cannot be learnt): ${listed(none)}`);
  const single = names((c) => trainCounts[c] === 1);
  if (single.length > 0) warnings.push(`class(es) with a single training image: ${listed(single)}`);
  for (const split of report.splits.filter((s) => s.name !== 'train')) {
    const absent = names((c) => split.counts[c] === 0);
    const what = split.name === 'test' ? 'test' : 'validation';
    if (absent.length > 0) warnings.push(`class(es) without ${what} images (their ${what} accuracy is not measured): ${listed(absent)}`);
  }
  if (classNames.length > 0) {
    if (groups.many.length === 0) warnings.push(`the many-shot group is empty (no class has more than ${thresholds.manyAbove} training images)`);
    if (groups.medium.length === 0) warnings.push(`the medium-shot group is empty (no class has ${thresholds.fewBelow} to ${thresholds.manyAbove} training images)`);
    if (groups.few.length === 0) warnings.push(`the few-shot group is empty (no class has fewer than ${thresholds.fewBelow} training images): few-shot accuracy will not be reported`);
  }
  const emptyKept = report.emptyClasses.filter((empty) => report.errors.every((error) => !error.includes(path.join(report.root, empty.directory))));
  if (emptyKept.length > 0) warnings.push(`empty class folder(s): ${listed(emptyKept.map((empty) => empty.directory))}`);
  if (report.ignored.length > 0) {
    warnings.push(`${report.ignored.length} file(s) or folder(s) ignored (images must end in ${IMAGE_FOLDER_EXTENSIONS.join(', ')}; splits are train/, val/, test/): ${listed(report.ignored, 5)}`);
  }
  return warnings;
}

function table(rows: string[][], rightAligned: (column: number) => boolean): string[] {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (rightAligned(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd());
}

/**
 * The text a CLI prints for a {@link DataCheckReport}: the layout, an aligned table of classes and their counts per
 * split (held-out splits marked `*`), the imbalance ratio and shot groups, then unreadable and tiny images,
 * duplicates (up to 20 of each), the errors and the warnings. Ends with a newline.
 */
export function formatDataCheck(report: DataCheckReport): string {
  const lines: string[] = [];
  const folders = report.layout === 'flat' ? 'one folder per class' : `${report.splits.filter((s) => s.source === 'folder').map((s) => `${s.name}/`).join(', ')}`;
  lines.push(`image folder ${report.root} (${folders}): ${report.classNames.length} classes, ${report.images} images`);
  const header = ['#', 'class', ...report.splits.map((split) => `${split.name}${split.source === 'held out' ? '*' : ''}`)];
  const rows = report.classNames.map((name, c) => [String(c), name, ...report.splits.map((split) => String(split.counts[c]))]);
  const total = ['', 'total', ...report.splits.map((split) => String(split.total))];
  lines.push(...table([header, ...rows, total], (column) => column !== 1).map((line) => `  ${line}`));
  const heldOut = report.splits.filter((split) => split.source === 'held out');
  if (heldOut.length > 0) lines.push(`  * held out of the training folder by the loader's seeded stratified split (counts exact for any seed)`);
  const { manyAbove, fewBelow } = report.thresholds;
  const ratio = report.imbalanceRatio === null ? 'n/a' : `${report.imbalanceRatio.toFixed(2)} (max ${Math.max(...report.trainCounts)} / min ${Math.min(...report.trainCounts.filter((n) => n > 0))} training images)`;
  lines.push(`imbalance ratio: ${ratio}`);
  lines.push(`shot groups (many > ${manyAbove}, medium ${fewBelow}–${manyAbove}, few < ${fewBelow} training images): many ${report.groups.many.length}, medium ${report.groups.medium.length}, few ${report.groups.few.length}`);
  lines.push(
    `checked ${report.images} images (${report.decode === 'full' ? 'full decode' : 'headers'}): ${report.unreadable.length} unreadable, ${report.tiny.length} tiny (< ${report.minSide} px), ${report.duplicates.length} duplicate group(s)`,
  );
  const section = <T>(title: string, items: T[], line: (item: T) => string) => {
    if (items.length === 0) return;
    lines.push('', `${title}:`);
    for (const item of items.slice(0, 20)) lines.push(`  ${line(item)}`);
    if (items.length > 20) lines.push(`  … ${items.length - 20} more`);
  };
  section('unreadable images', report.unreadable, (item) => `${item.path}: ${item.reason}`);
  section(`tiny images (a side < ${report.minSide} px)`, report.tiny, (item) => `${item.path}: ${item.width}×${item.height}`);
  section('identical images (sha256 of the bytes)', report.duplicates, (item) => item.files.map((file) => file.path).join(' = '));
  section('errors (the loader refuses the folder)', report.errors, (item) => `- ${item}`);
  section('warnings', report.warnings, (item) => `- ${item}`);
  if (report.errors.length === 0 && report.warnings.length === 0) lines.push('', 'no problems found');
  return `${lines.join('\n')}\n`;
}
