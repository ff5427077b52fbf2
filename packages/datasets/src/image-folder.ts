import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import { isInside } from './confinement.js';
import { FileImageDataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { imbalancedCounts, longTailedSubset } from './imbalance.js';
import { checkImageFolder, formatDataCheck } from './check-data.js';
import type { DatasetCheck, DatasetLoadOptions, DatasetSpec, LoadedDataset } from './registry.js';
import { stratifiedSplit } from './stratified-split.js';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  cifarEvalTransform,
  cifarTrainTransform,
  imagenetEvalTransform,
  imagenetTrainTransform,
  type ImageTransform,
} from './transforms.js';

/** File-name endings (compared case-insensitively) that an image folder reads; every other file is ignored. */
export const IMAGE_FOLDER_EXTENSIONS: readonly string[] = Object.freeze(['.jpg', '.jpeg', '.png', '.webp']);

/** Share of every class that {@link loadImageFolder} holds out as the test split when the folder has no `test/`. */
export const IMAGE_FOLDER_TEST_FRACTION = 0.2;

/** The parts of an image folder: its own `train/`, `val/`, `test/` folders, or (`all`) the root of a flat folder. */
export type ImageFolderPart = 'train' | 'val' | 'test' | 'all';

/** One class folder found by a scan. */
export interface ScannedClass {
  readonly name: string;
  /** The class folder, relative to the root (`train/cat`, or `cat` in a flat folder). */
  readonly directory: string;
  /** Its images, relative to the root, in walk order (names sorted, sub-folders walked where they sort). */
  readonly images: string[];
}

/** One part (split folder, or the whole flat folder) found by a scan. */
export interface ScannedPart {
  readonly part: ImageFolderPart;
  /** Relative to the root: `train`, `val`, `test`, or `''` for a flat folder. */
  readonly directory: string;
  /** Class folders by name, in sorted order. */
  readonly classes: Map<string, ScannedClass>;
}

/** What {@link scanImageFolder} finds: the layout, every class folder and image, and what it ignored or refuses. */
export interface ImageFolderScan {
  /** The root, absolute. */
  readonly root: string;
  readonly layout: 'splits' | 'flat';
  /** `train` (and `val`, `test` when present), or the one part `all` of a flat folder. */
  readonly parts: ScannedPart[];
  /** The class names: the sorted class folders of `train/` (flat: of the root). */
  readonly classNames: string[];
  /** Files that are not images by their ending, and top-level entries that are neither a class nor a split (relative). */
  readonly ignored: string[];
  /** Why the loader refuses the folder (empty list: it loads). */
  readonly problems: string[];
}

const SPLIT_FOLDERS = ['train', 'val', 'test'] as const;

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_FOLDER_EXTENSIONS.some((extension) => lower.endsWith(extension) && lower.length > extension.length);
}

/** Walks the folder tree: sorted names, hidden entries skipped, symbolic links followed only inside the root. */
class Walker {
  readonly ignored: string[] = [];
  readonly problems: string[] = [];

  constructor(
    readonly root: string,
    readonly realRoot: string,
  ) {}

  /** The non-hidden entries of `relative` (a directory), sorted, each as file / directory (links resolved). */
  async entries(relative: string): Promise<Array<{ name: string; relative: string; kind: 'file' | 'directory' }>> {
    const absolute = path.join(this.root, relative);
    let dirents: Dirent[];
    try {
      dirents = await readdir(absolute, { withFileTypes: true });
    } catch (error) {
      this.problems.push(`${absolute} cannot be read: ${(error as Error).message}`);
      return [];
    }
    const result: Array<{ name: string; relative: string; kind: 'file' | 'directory' }> = [];
    for (const dirent of dirents.sort((a, b) => byName(a.name, b.name))) {
      if (dirent.name.startsWith('.')) continue; // hidden files and folders (.DS_Store, .git, …)
      const entryRelative = relative === '' ? dirent.name : path.join(relative, dirent.name);
      let kind: 'file' | 'directory' | 'other' = dirent.isDirectory() ? 'directory' : dirent.isFile() ? 'file' : 'other';
      if (dirent.isSymbolicLink()) {
        // Followed when it resolves inside the root (as FileImageDataset requires when it reads); refused otherwise,
        // with one message for dangling and outside links (nothing is told about what exists outside the root).
        const real = await realpath(path.join(this.root, entryRelative)).catch(() => undefined);
        if (real === undefined || !isInside(real, this.realRoot)) {
          this.problems.push(`${path.join(this.root, entryRelative)} is a symbolic link that does not resolve to a file inside the data root ${this.root}`);
          continue;
        }
        const info = await stat(real);
        kind = info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other';
      }
      if (kind !== 'other') result.push({ name: dirent.name, relative: entryRelative, kind });
    }
    return result;
  }

  /** Images below a class folder (sub-folders walked, links to folders already visited skipped). */
  async images(relative: string, seen = new Set<string>()): Promise<string[]> {
    const real = await realpath(path.join(this.root, relative)).catch(() => path.join(this.root, relative));
    if (seen.has(real)) return [];
    seen.add(real);
    const images: string[] = [];
    for (const entry of await this.entries(relative)) {
      if (entry.kind === 'directory') images.push(...(await this.images(entry.relative, seen)));
      else if (isImageName(entry.name)) images.push(entry.relative);
      else this.ignored.push(entry.relative);
    }
    return images;
  }

  async part(part: ImageFolderPart, relative: string): Promise<ScannedPart> {
    const classes = new Map<string, ScannedClass>();
    for (const entry of await this.entries(relative)) {
      if (entry.kind === 'directory') classes.set(entry.name, { name: entry.name, directory: entry.relative, images: await this.images(entry.relative) });
      else this.ignored.push(entry.relative);
    }
    return { part, directory: relative, classes };
  }
}

/**
 * Scans an image folder without reading any image: the layout, the class folders of every part and their image
 * files, the files it ignores, and the problems that make {@link loadImageFolder} refuse it. The one scan that both
 * the loader and {@link checkImageFolder} use. Throws a {@link DatasetError} naming the root when it is missing or
 * not a directory.
 *
 * Rules: a folder with a `train/` sub-folder has the split layout (`train/`, optional `val/` and `test/`; other
 * top-level entries are ignored); otherwise every sub-folder of the root is a class. Names are sorted with plain
 * `<` (code units, locale-independent). Hidden entries (a leading `.`) are skipped; files whose names do not end in
 * `.jpg`, `.jpeg`, `.png` or `.webp` (any case) are listed in `ignored`; sub-folders of a class folder are walked.
 * Symbolic links are followed when they resolve inside the root; any other link is a problem.
 */
export async function scanImageFolder(root: string): Promise<ImageFolderScan> {
  if (typeof root !== 'string' || root === '') throw new TypeError(`root must be a directory path, got ${JSON.stringify(root)}`);
  const absolute = path.resolve(root);
  const info = await stat(absolute).catch(() => undefined);
  if (info === undefined) throw new DatasetError(`image folder ${absolute} does not exist`, { file: absolute });
  if (!info.isDirectory()) throw new DatasetError(`image folder ${absolute} is not a directory`, { file: absolute });
  const walker = new Walker(absolute, await realpath(absolute));
  const top = await walker.entries('');
  const parts: ScannedPart[] = [];
  const splitLayout = top.some((entry) => entry.name === 'train' && entry.kind === 'directory');
  if (splitLayout) {
    for (const name of SPLIT_FOLDERS) {
      if (top.some((entry) => entry.name === name && entry.kind === 'directory')) parts.push(await walker.part(name, name));
    }
    for (const entry of top) if (!(SPLIT_FOLDERS as readonly string[]).includes(entry.name) || entry.kind !== 'directory') walker.ignored.push(entry.relative);
  } else {
    parts.push(await walker.part('all', ''));
  }
  const problems = walker.problems;
  const trainPart = parts[0];
  const classNames = [...trainPart.classes.keys()];
  const trainDirectory = path.join(absolute, trainPart.directory);
  if (classNames.length === 0) {
    problems.push(
      splitLayout
        ? `${trainDirectory} has no class folders (expected ${path.join(trainDirectory, '<class>', '<image>')})`
        : `image folder ${absolute} has no class folders (expected ${path.join(absolute, '<class>', '<image>')} or ${path.join(absolute, 'train', '<class>', '<image>')})`,
    );
  }
  for (const part of parts.slice(1)) {
    for (const name of part.classes.keys()) {
      if (!trainPart.classes.has(name)) problems.push(`${path.join(absolute, part.directory, name)} is a class folder that ${trainDirectory} lacks (every class needs a folder in train/)`);
    }
    const images = [...part.classes.values()].reduce((sum, scanned) => sum + scanned.images.length, 0);
    if (images === 0) problems.push(`${path.join(absolute, part.directory)} has no images (${IMAGE_FOLDER_EXTENSIONS.join(', ')}); remove the folder or add images`);
  }
  for (const name of classNames) {
    const total = parts.reduce((sum, part) => sum + (part.classes.get(name)?.images.length ?? 0), 0);
    if (total === 0) {
      const where = path.join(absolute, trainPart.classes.get(name)!.directory);
      problems.push(`class folder ${where} has no images (${IMAGE_FOLDER_EXTENSIONS.join(', ')})${splitLayout ? ' and neither has the class in val/ or test/' : ''}; remove it or add images`);
    }
  }
  return { root: absolute, layout: splitLayout ? 'splits' : 'flat', parts, classNames, ignored: walker.ignored, problems };
}

/**
 * Runs `task` over `items` with at most `limit` in flight; results in input order.
 * @internal
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** The long tail {@link loadImageFolder} cuts out of the training part, as the CIFAR-LT profiles. */
export interface ImageFolderLongTail {
  /** `n_min / n_max` in (0, 1]. */
  factor: number;
  /** Default `'exp'`. */
  profile?: 'exp' | 'step';
  /** n_max, the images class 0 keeps; default the smallest training class (so every class has enough). */
  maxPerClass?: number;
  /** Seed of the per-class shuffle ({@link longTailedSubset}); default 0. */
  seed?: number;
}

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** The folder: `root/<class>/<image>` or `root/train/<class>/<image>` (+ `val/`, `test/`). */
  root: string;
  /** Share of every class held out as test when there is no `test/` folder; default 0.2. */
  testFraction?: number;
  /**
   * Share of the remaining training images of every class held out as validation when there is no `val/` folder;
   * default 0 (no validation split).
   */
  valFraction?: number;
  /** Seed of the stratified splits: test uses `seed`, validation `seed + 1`; default 0. */
  seed?: number;
  /** A long-tailed subset of the training part; default none (the folder's training images are used whole). */
  longTail?: ImageFolderLongTail;
  /**
   * Read every image's header with sharp at load time, so that a file that is not an image fails now, naming its
   * path, and not mid-training; default true. Truncated files pass this check; `checkImageFolder` decodes fully.
   */
  verify?: boolean;
  /** Headers read at a time; default 8. */
  concurrency?: number;
}

/** What {@link loadImageFolder} returns. */
export interface ImageFolder {
  /** The root, absolute. */
  root: string;
  layout: 'splits' | 'flat';
  classNames: string[];
  train: FileImageDataset;
  /** The `val/` folder, or the validation split when `valFraction` > 0; absent otherwise. */
  val?: FileImageDataset;
  test: FileImageDataset;
  /** Where each part came from, e.g. `{ train: 'train/', test: 'held out of train/ (20 % per class, seed 0)' }`. */
  sources: { train: string; val?: string; test: string };
}

function partDataset(scan: ImageFolderScan, part: ScannedPart): FileImageDataset {
  const paths: string[] = [];
  const labels: number[] = [];
  scan.classNames.forEach((name, label) => {
    for (const image of part.classes.get(name)?.images ?? []) {
      paths.push(image);
      labels.push(label);
    }
  });
  return new FileImageDataset({
    root: scan.root,
    paths,
    labels: Int32Array.from(labels),
    numClasses: scan.classNames.length,
    classNames: scan.classNames,
    sourceFile: path.join(scan.root, part.directory),
    sourceLines: Int32Array.from(paths, (_, i) => i),
    sourceKind: 'entry',
  });
}

function longTailSource(longTail: ImageFolderLongTail): string {
  const { factor, profile = 'exp', maxPerClass, seed = 0 } = longTail;
  return `, long tail ${profile} factor ${factor}${maxPerClass === undefined ? '' : ` n_max ${maxPerClass}`} seed ${seed}`;
}

function fraction(value: number | undefined, fallback: number, name: string): number {
  const result = value ?? fallback;
  if (typeof result !== 'number' || !(result >= 0 && result < 1)) throw new RangeError(`${name} must be in [0, 1), got ${String(result)}`);
  return result;
}

const percent = (value: number) => `${Math.round(value * 1000) / 10} %`;

/** Refuses the images sharp cannot read (header only), naming every path (the first 20) and the reason. */
async function verifyHeaders(scan: ImageFolderScan, concurrency: number): Promise<void> {
  const files = scan.parts.flatMap((part) => [...part.classes.values()].flatMap((scanned) => scanned.images));
  const results = await mapConcurrent(files, concurrency, async (relative) => {
    const file = path.join(scan.root, relative);
    try {
      const metadata = await sharp(file).metadata();
      return metadata.width && metadata.height ? undefined : { file, reason: 'image has no dimensions' };
    } catch (error) {
      return { file, reason: (error as Error).message };
    }
  });
  const failures = results.filter((failure) => failure !== undefined);
  if (failures.length > 0) {
    const shown = failures.slice(0, 20).map((failure) => `  ${failure.file}: ${failure.reason}`);
    if (failures.length > 20) shown.push(`  … and ${failures.length - 20} more`);
    throw new DatasetError(`image folder ${scan.root}: ${failures.length} image(s) cannot be read (remove or replace them; checkImageFolder lists every problem):\n${shown.join('\n')}`, {
      file: failures[0].file,
    });
  }
}

/**
 * The long-tailed subset of `train` ({@link imbalancedCounts} + {@link longTailedSubset}); errors name the options
 * as `names` says (the config's keys for the registry entry).
 * @internal
 */
export function cutLongTail(
  train: FileImageDataset,
  classNames: readonly string[],
  longTail: ImageFolderLongTail,
  trainSource: string,
  names: { maxPerClass: string; factor: string } = { maxPerClass: 'longTail.maxPerClass', factor: 'longTail.factor' },
): FileImageDataset {
  const counts = new Array<number>(classNames.length).fill(0);
  for (const label of train.labels) counts[label]++;
  const smallest = Math.min(...counts);
  if (longTail.maxPerClass === undefined && smallest === 0) {
    const empty = classNames[counts.indexOf(0)];
    throw new RangeError(`the long tail needs n_max, but class "${empty}" has no training images (${trainSource}): set ${names.maxPerClass} or add images`);
  }
  const maxPerClass = longTail.maxPerClass ?? smallest;
  let wanted: number[];
  try {
    wanted = imbalancedCounts({ numClasses: classNames.length, maxPerClass, factor: longTail.factor, profile: longTail.profile ?? 'exp' });
  } catch (error) {
    throw new RangeError(`${names.factor} / ${names.maxPerClass}: ${(error as Error).message}`, { cause: error });
  }
  wanted.forEach((want, c) => {
    if (want > counts[c]) throw new RangeError(`${names.maxPerClass} ${maxPerClass} asks ${want} images of class "${classNames[c]}", which has ${counts[c]} training images (${trainSource})`);
    if (want === 0) throw new RangeError(`the long tail leaves class "${classNames[c]}" no training images (n_max ${maxPerClass} × ${names.factor} ${longTail.factor} rounds to 0): raise one of them`);
  });
  return train.select(longTailedSubset(train.labels, wanted, longTail.seed ?? 0));
}

/**
 * Loads an image folder — `root/<class>/<image>`, or `root/train/<class>/<image>` with optional `val/` and `test/`
 * — as {@link FileImageDataset}s (images stay on disk and are decoded on demand by sharp). Class names are the sorted
 * class folders of `train/` (flat layout: of the root); the class index is the position.
 *
 * Splits: the folder's own `val/` and `test/` when present; otherwise test is held out of the training images with
 * {@link stratifiedSplit} (`testFraction` 0.2 of each class, seed `seed`), and — only when `valFraction` > 0 —
 * validation out of what remains (seed `seed + 1`). A long-tailed subset of the training part is cut only when
 * `longTail` is given, so an already long-tailed folder is used as it is.
 *
 * Refuses, with a {@link DatasetError} naming the path: a root that is missing or not a directory, no class folders,
 * a class folder in `val/` or `test/` that `train/` lacks, a `val/` or `test/` without images, a class without images
 * in any split (a class empty in `train/` but with images in `val/`/`test/` is kept, with 0 training images), a
 * symbolic link that leads outside the root, and (with `verify`, the default) a file sharp cannot read as an image.
 */
export async function loadImageFolder(options: ImageFolderOptions): Promise<ImageFolder> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const testFraction = fraction(options.testFraction, IMAGE_FOLDER_TEST_FRACTION, 'testFraction');
  const valFraction = fraction(options.valFraction, 0, 'valFraction');
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${String(seed)}`);
  const scan = await scanImageFolder(options.root);
  if (scan.problems.length > 0) {
    const message = scan.problems.length === 1 ? scan.problems[0] : `image folder ${scan.root} cannot be loaded:\n${scan.problems.map((problem) => `  ${problem}`).join('\n')}`;
    throw new DatasetError(message, { file: scan.root });
  }
  if (options.verify ?? true) await verifyHeaders(scan, options.concurrency ?? 8);
  const numClasses = scan.classNames.length;
  const part = (name: ImageFolderPart) => scan.parts.find((candidate) => candidate.part === name);
  const trainPart = part('train') ?? part('all')!;
  const trainFolder = scan.layout === 'flat' ? `${scan.root}/` : 'train/';
  let train = partDataset(scan, trainPart);
  const sources: ImageFolder['sources'] = { train: trainFolder, test: 'test/' };
  let test: FileImageDataset;
  const testPart = part('test');
  if (testPart) {
    test = partDataset(scan, testPart);
  } else {
    const split = stratifiedSplit(train.labels, numClasses, testFraction, seed);
    test = train.select(split.holdOut);
    train = train.select(split.keep);
    sources.test = `held out of ${trainFolder} (${percent(testFraction)} per class, seed ${seed})`;
    sources.train = `${trainFolder} less test`;
  }
  let val: FileImageDataset | undefined;
  const valPart = part('val');
  if (valPart) {
    val = partDataset(scan, valPart);
    sources.val = 'val/';
  } else if (valFraction > 0) {
    const split = stratifiedSplit(train.labels, numClasses, valFraction, seed + 1);
    val = train.select(split.holdOut);
    train = train.select(split.keep);
    sources.val = `held out of ${trainFolder} after test (${percent(valFraction)} per class, seed ${seed + 1})`;
    sources.train = testPart ? `${trainFolder} less val` : `${trainFolder} less test and val`;
  }
  if (options.longTail !== undefined) {
    train = cutLongTail(train, scan.classNames, options.longTail, sources.train);
    sources.train += longTailSource(options.longTail);
  }
  return { root: scan.root, layout: scan.layout, classNames: scan.classNames, train, ...(val ? { val } : {}), test, sources };
}

/**
 * The transforms of the `image-folder` data set. `auto`, `cifar`: the CIFAR recipe on files of any size — each
 * image resized (shorter side) and centre-cropped to `inputSize` (default 32), then random crop with
 * `round(inputSize / 8)` zero padding and flip for training — normalised with the ImageNet mean/std (photographs);
 * cheap enough for a CPU. `imagenet`: random-resized crop / resize + centre crop at `inputSize` (default 224), as the
 * ImageNet-LT set. `none`: the evaluation transform for training too.
 */
export function imageFolderTransforms(options: Pick<DatasetLoadOptions, 'augmentation' | 'inputSize'>): { trainTransform: ImageTransform; evalTransform: ImageTransform } {
  if (options.augmentation === 'imagenet') {
    const size = options.inputSize ?? 224;
    return { trainTransform: imagenetTrainTransform({ size }), evalTransform: imagenetEvalTransform({ size, resize: Math.round((size * 256) / 224) }) };
  }
  const size = options.inputSize ?? 32;
  const common = { size, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD, resize: true };
  const evalTransform = cifarEvalTransform(common);
  return { trainTransform: options.augmentation === 'none' ? evalTransform : cifarTrainTransform({ ...common, padding: Math.round(size / 8) }), evalTransform };
}

/**
 * Registry entry `"image-folder"`: your own images under `data.root` ({@link loadImageFolder}), split with seed
 * `subsetSeed`, the long tail of `imbalance` cut only when `longTail` is true, transforms of
 * {@link imageFolderTransforms}. Not `fileBacked` in the registry's sense (there are no split files).
 */
export const imageFolderSpec: DatasetSpec = {
  name: 'image-folder',
  description: 'your images: <root>/<class>/<image> or <root>/{train,val,test}/<class>/<image> (JPEG, PNG, WebP)',
  fileBacked: false,
  augmentation: 'cifar',
  async load(options): Promise<LoadedDataset> {
    if (options.root === null) throw new Error('image-folder needs data.root: the folder holding <class>/<image> or train/<class>/<image>');
    const folder = await loadImageFolder({ root: options.root, seed: options.subsetSeed });
    const { val, test, sources } = folder;
    let train = folder.train;
    if (options.longTail === true) {
      const { factor, profile, maxPerClass } = options.imbalance;
      const longTail = { factor, profile, seed: options.subsetSeed, ...(maxPerClass === null ? {} : { maxPerClass }) };
      train = cutLongTail(train, folder.classNames, longTail, sources.train, { maxPerClass: 'data.imbalance.maxPerClass', factor: 'data.imbalance.factor' });
      sources.train += longTailSource(longTail);
    }
    return {
      train,
      test,
      ...(val ? { val } : {}),
      ...imageFolderTransforms(options),
      classNames: folder.classNames,
      description:
        `image folder ${folder.root}: ${folder.classNames.length} classes; train ${train.length} (${sources.train})` +
        (val ? `, val ${val.length} (${sources.val})` : '') +
        `, test ${test.length} (${sources.test})`,
    };
  },
  async check(options, thresholds): Promise<DatasetCheck> {
    if (options.root === null) throw new Error('image-folder needs data.root: the folder holding <class>/<image> or train/<class>/<image>');
    const report = await checkImageFolder(options.root, { manyAbove: thresholds.manyAbove, fewBelow: thresholds.fewBelow });
    return { errors: [...report.errors], warnings: [...report.warnings], text: formatDataCheck(report), report };
  },
};
