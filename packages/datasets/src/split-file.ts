import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { lexicalPathProblem, quotePath } from './confinement.js';
import { FileImageDataset } from './dataset.js';
import { DatasetError, requirePositiveInteger } from './errors.js';

/** Contents of a split file. */
export interface SplitFile {
  /** Image paths relative to the data set root, in file order. */
  paths: string[];
  labels: Int32Array;
  /** 1-based line number of each entry, for error messages. */
  lineNumbers: Int32Array;
}

/**
 * Reads a split file of the ImageNet-LT / Places-LT format: one `relative/path label` per line (the path may contain
 * spaces; the label is the last whitespace-separated field). Empty lines are ignored; any other malformed line, a
 * negative label or (when `numClasses` is given) a label ≥ numClasses throws a {@link DatasetError} naming the file
 * and line. So does a path that could leave the data root (checked without touching the file system): an absolute
 * path, one with a NUL byte, or one whose `..` segments climb above the root.
 */
export async function readSplitFile(file: string, options: { numClasses?: number } = {}): Promise<SplitFile> {
  if (typeof file !== 'string' || file === '') throw new TypeError('file must be the path of a split file');
  const numClasses = options.numClasses === undefined ? undefined : requirePositiveInteger(options.numClasses, 'numClasses');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DatasetError(`cannot read split file ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const paths: string[] = [];
  const labels: number[] = [];
  const lineNumbers: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const match = /^\s*(\S.*?)\s+(\S+)\s*$/.exec(line);
    const where = `${file} line ${i + 1}`;
    if (!match) throw new DatasetError(`${where}: expected "relative/path label", got "${line}"`, { file, line: i + 1 });
    if (!/^\d+$/.test(match[2])) throw new DatasetError(`${where}: label "${match[2]}" is not a non-negative integer (line "${line}")`, { file, line: i + 1 });
    const problem = lexicalPathProblem(match[1]);
    if (problem !== undefined) throw new DatasetError(`${where}: image path ${quotePath(match[1])} ${problem}`, { file, line: i + 1 });
    const label = Number(match[2]);
    if (numClasses !== undefined && label >= numClasses) {
      throw new DatasetError(`${where}: label ${label} is out of range [0, ${numClasses}) (line "${line}")`, { file, line: i + 1 });
    }
    paths.push(match[1]);
    labels.push(label);
    lineNumbers.push(i + 1);
  }
  return { paths, labels: Int32Array.from(labels), lineNumbers: Int32Array.from(lineNumbers) };
}

/** Options of {@link loadSplitFileDataset}. */
export interface SplitFileDatasetOptions {
  /** The split file (`relative/path label` per line). */
  splitFile: string;
  /** Directory the paths are relative to. */
  root: string;
  /** Number of classes; default `max label + 1`. Labels outside `[0, numClasses)` throw, naming file and line. */
  numClasses?: number;
  classNames?: readonly string[];
}

/** A {@link FileImageDataset} from a split file and an image root (ImageNet-LT, Places-LT, or your own). */
export async function loadSplitFileDataset(options: SplitFileDatasetOptions): Promise<FileImageDataset> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (typeof options.root !== 'string' || options.root === '') throw new TypeError('root must be the image root directory');
  const split = await readSplitFile(options.splitFile, { numClasses: options.numClasses });
  await requireDirectory(options.root, options.splitFile);
  if (split.paths.length === 0) throw new DatasetError(`${options.splitFile}: the split file lists no images`, { file: options.splitFile });
  let maxLabel = 0;
  for (const label of split.labels) maxLabel = Math.max(maxLabel, label);
  return new FileImageDataset({
    root: path.resolve(options.root),
    paths: split.paths,
    labels: split.labels,
    numClasses: options.numClasses ?? maxLabel + 1,
    classNames: options.classNames,
    sourceFile: options.splitFile,
    sourceLines: split.lineNumbers,
    sourceKind: 'line',
  });
}

/**
 * ImageNet-LT (Liu et al., 2019): 1000 classes; `ImageNet_LT_train.txt` (115,846 images, 1280 … 5 per class),
 * `ImageNet_LT_val.txt`, `ImageNet_LT_test.txt` (50,000, balanced); paths like `train/n01440764/n01440764_190.JPEG`
 * relative to the ILSVRC-2012 root.
 */
export function loadImageNetLT(options: { splitFile: string; root: string }): Promise<FileImageDataset> {
  return loadSplitFileDataset({ ...options, numClasses: 1000 });
}

/**
 * Places-LT (Liu et al., 2019): 365 classes; `Places_LT_train.txt` (62,500 images, 4980 … 5 per class),
 * `Places_LT_val.txt`, `Places_LT_test.txt` (36,500, balanced); paths like `data_256/a/airfield/00000001.jpg` relative
 * to the Places365-Standard root.
 */
export function loadPlacesLT(options: { splitFile: string; root: string }): Promise<FileImageDataset> {
  return loadSplitFileDataset({ ...options, numClasses: 365 });
}

/** Fails early (instead of on every image) when the image root is wrong. */
export async function requireDirectory(root: string, listFile: string): Promise<void> {
  const isDirectory = await stat(root).then((info) => info.isDirectory(), () => false);
  if (!isDirectory) throw new DatasetError(`image root ${path.resolve(root)} (for ${listFile}) is not a directory`, { file: listFile });
}
