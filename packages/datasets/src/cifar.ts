import { access, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CIFAR100_CLASS_NAMES, CIFAR100_COARSE_CLASS_NAMES, CIFAR10_CLASS_NAMES } from './class-names.js';
import { InMemoryImageDataset } from './dataset.js';
import { downloadAndExtract, type DownloadProgress } from './download.js';
import { DatasetError } from './errors.js';

/** The official binary distributions (Krizhevsky, University of Toronto). */
export const CIFAR_ARCHIVES = Object.freeze({
  cifar10: Object.freeze({
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    md5: 'c32a1d4ab5d03f1284b67883e8d87530',
    folder: 'cifar-10-batches-bin',
    train: Object.freeze(['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']),
    test: Object.freeze(['test_batch.bin']),
  }),
  cifar100: Object.freeze({
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
    md5: '03b5dce01913d631647c71ecec9e9cb8',
    folder: 'cifar-100-binary',
    train: Object.freeze(['train.bin']),
    test: Object.freeze(['test.bin']),
  }),
});

/** Which CIFAR distribution. */
export type CifarName = keyof typeof CIFAR_ARCHIVES;

/** Options of {@link loadCifar10} and {@link loadCifar100}. */
export interface CifarLoadOptions {
  /**
   * Directory holding `cifar-10-batches-bin/` (or `cifar-100-binary/`), or that folder itself.
   * Default `$LONGTAIL_DATA`.
   */
  directory?: string;
  /** `'train'` (50,000 images) or `'test'` (10,000, balanced). */
  split: 'train' | 'test';
  /** Download and extract the official archive (MD5-checked) into `directory` when the files are missing. */
  download?: boolean;
  onProgress?: (progress: DownloadProgress) => void;
  /** Archive URL override (mirrors, tests). The MD5 check uses `md5` (default the official archive's). */
  url?: string;
  md5?: string;
}

function resolveDirectory(options: CifarLoadOptions): string {
  const directory = options.directory ?? process.env.LONGTAIL_DATA;
  if (directory === undefined || directory === '') {
    throw new TypeError('directory must be given (or set LONGTAIL_DATA) — the folder that holds the CIFAR binary distribution');
  }
  return path.resolve(directory);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The folder holding the batch files, or undefined when they are not (all) there. */
async function findCifarFolder(directory: string, name: CifarName, split: 'train' | 'test'): Promise<string | undefined> {
  const archive = CIFAR_ARCHIVES[name];
  for (const folder of [path.join(directory, archive.folder), directory]) {
    const present = await Promise.all(archive[split].map((file) => exists(path.join(folder, file))));
    if (present.every(Boolean)) return folder;
  }
  return undefined;
}

function missingFilesMessage(directory: string, name: CifarName, split: 'train' | 'test', extra = ''): string {
  const archive = CIFAR_ARCHIVES[name];
  const files = archive[split].map((file) => path.join(directory, archive.folder, file)).join(', ');
  return (
    `${name === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100'} ${split} files not found. Put ${files} there: extract ${archive.url} ` +
    `(MD5 ${archive.md5}) into ${directory}, or pass { download: true } on a machine that is online.${extra}`
  );
}

/**
 * Finds (and with `download: true`, fetches) the files of a CIFAR split. Exported for tools that only want the files.
 * @returns the absolute paths of the split's batch files.
 */
export async function ensureCifarFiles(name: CifarName, options: CifarLoadOptions): Promise<string[]> {
  const archive = CIFAR_ARCHIVES[name];
  if (archive === undefined) throw new TypeError(`name must be 'cifar10' or 'cifar100', got ${String(name)}`);
  if (options.split !== 'train' && options.split !== 'test') throw new TypeError(`split must be 'train' or 'test', got ${String(options.split)}`);
  const directory = resolveDirectory(options);
  let folder = await findCifarFolder(directory, name, options.split);
  if (folder === undefined && options.download) {
    try {
      await downloadAndExtract(options.url ?? archive.url, directory, { md5: options.md5 ?? archive.md5, onProgress: options.onProgress });
    } catch (error) {
      throw new DatasetError(missingFilesMessage(directory, name, options.split, ` Download failed: ${(error as Error).message}`), { cause: error });
    }
    folder = await findCifarFolder(directory, name, options.split);
    if (folder === undefined) throw new DatasetError(missingFilesMessage(directory, name, options.split, ' The downloaded archive did not contain them.'));
  }
  if (folder === undefined) throw new DatasetError(missingFilesMessage(directory, name, options.split));
  return archive[options.split].map((file) => path.join(folder!, file));
}

/**
 * Parses CIFAR binary batch files: records of `labelBytes` label bytes then 3072 image bytes (1024 red, 1024 green,
 * 1024 blue, row-major 32×32), converted to HWC. `labelByte` picks which label byte is the class.
 */
export async function readCifarBinary(files: string[], labelBytes: 1 | 2, labelByte: number, numClasses: number) {
  const recordSize = labelBytes + 3072;
  const buffers = await Promise.all(files.map((file) => readFile(file)));
  let count = 0;
  buffers.forEach((buffer, i) => {
    if (buffer.length === 0 || buffer.length % recordSize !== 0) {
      throw new DatasetError(`${files[i]}: ${buffer.length} bytes is not a whole number of ${recordSize}-byte records (truncated or not a CIFAR binary file)`, { file: files[i] });
    }
    count += buffer.length / recordSize;
  });
  const images = new Uint8Array(count * 3072);
  const labels = new Int32Array(count);
  let image = 0;
  buffers.forEach((buffer, fileIndex) => {
    for (let offset = 0; offset < buffer.length; offset += recordSize, image++) {
      const label = buffer[offset + labelByte];
      if (label >= numClasses) {
        throw new DatasetError(`${files[fileIndex]}: record ${offset / recordSize} has label ${label}, outside [0, ${numClasses})`, { file: files[fileIndex] });
      }
      labels[image] = label;
      const planes = offset + labelBytes;
      const out = image * 3072;
      for (let pixel = 0; pixel < 1024; pixel++) {
        images[out + 3 * pixel] = buffer[planes + pixel];
        images[out + 3 * pixel + 1] = buffer[planes + 1024 + pixel];
        images[out + 3 * pixel + 2] = buffer[planes + 2048 + pixel];
      }
    }
  });
  return { images, labels };
}

/**
 * Loads CIFAR-10 from the official binary distribution (`cifar-10-batches-bin/data_batch_1..5.bin`, `test_batch.bin`).
 * Use {@link makeLongTailed} for CIFAR-10-LT.
 */
export async function loadCifar10(options: CifarLoadOptions): Promise<InMemoryImageDataset> {
  const files = await ensureCifarFiles('cifar10', options);
  const { images, labels } = await readCifarBinary(files, 1, 0, 10);
  return new InMemoryImageDataset({ images, labels, height: 32, width: 32, channels: 3, numClasses: 10, classNames: CIFAR10_CLASS_NAMES, name: `CIFAR-10 ${options.split}` });
}

/**
 * Loads CIFAR-100 from the official binary distribution (`cifar-100-binary/train.bin`, `test.bin`); `labelType`
 * `'fine'` (default, 100 classes) or `'coarse'` (20 super-classes).
 */
export async function loadCifar100(options: CifarLoadOptions & { labelType?: 'fine' | 'coarse' }): Promise<InMemoryImageDataset> {
  const labelType = options.labelType ?? 'fine';
  if (labelType !== 'fine' && labelType !== 'coarse') throw new TypeError(`labelType must be 'fine' or 'coarse', got ${String(labelType)}`);
  const files = await ensureCifarFiles('cifar100', options);
  const fine = labelType === 'fine';
  const { images, labels } = await readCifarBinary(files, 2, fine ? 1 : 0, fine ? 100 : 20);
  return new InMemoryImageDataset({
    images,
    labels,
    height: 32,
    width: 32,
    channels: 3,
    numClasses: fine ? 100 : 20,
    classNames: fine ? CIFAR100_CLASS_NAMES : CIFAR100_COARSE_CLASS_NAMES,
    name: `CIFAR-100 ${options.split}`,
  });
}

/** Downloads and extracts a CIFAR archive into `directory` (MD5-checked) unless its files are already there. */
export async function downloadCifar(name: CifarName, options: Omit<CifarLoadOptions, 'split' | 'download'>): Promise<string> {
  await ensureCifarFiles(name, { ...options, split: 'test', download: true });
  const files = await ensureCifarFiles(name, { ...options, split: 'train', download: true });
  return path.dirname(files[0]);
}
