import { readFile, realpath } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import type { SeededRandom } from '@longtail/samplers';
import { NOT_INSIDE_ROOT, lexicalPathProblem, quotePath, resolveInside } from './confinement.js';
import { DatasetError, requirePositiveInteger } from './errors.js';
import {
  applyCifarTransform,
  randomResizedCropWindow,
  resizeCenterCropGeometry,
  transformOutputShape,
  writeNormalizedRgb,
  type ImageTransform,
} from './transforms.js';

/**
 * What the batcher (and a trainer) needs from any labelled image collection, in memory or on disk.
 * Both {@link InMemoryImageDataset} and {@link FileImageDataset} implement it.
 */
export interface ImageSource {
  /** Number of images. */
  readonly length: number;
  /** Class index of every image, in `[0, numClasses)`. */
  readonly labels: Int32Array;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  /**
   * Writes image `index`, transformed, as HWC float32 into `target[offset …]`
   * (`transformOutputShape(transform)` values). Synchronous for in-memory sets, a promise for file-backed ones.
   */
  readImageInto(index: number, transform: ImageTransform, random: SeededRandom, target: Float32Array, offset: number): void | Promise<void>;
  /** Where image `index` comes from, for error messages ("data/x.jpg (train.txt line 12)"). */
  describe(index: number): string;
}

/** Fields of an in-memory image set (CIFAR, MNIST, Fashion-MNIST). */
export interface InMemoryImageData {
  /** N × height × width × channels bytes, HWC per image. */
  images: Uint8Array;
  labels: Int32Array;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  classNames?: readonly string[];
}

function checkLabels(labels: Int32Array, numClasses: number, describe: (index: number) => string): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label < 0 || label >= numClasses) throw new DatasetError(`label ${label} of ${describe(i)} is out of range [0, ${numClasses})`);
  }
}

/** Small images held in memory as one uint8 buffer (CIFAR-10/100, MNIST, Fashion-MNIST). */
export class InMemoryImageDataset implements ImageSource, InMemoryImageData {
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  /** Name used in error messages, e.g. "CIFAR-10 train". */
  readonly name: string;

  constructor(data: InMemoryImageData & { name?: string }) {
    if (data === null || typeof data !== 'object') throw new TypeError('data must be an object');
    if (!(data.images instanceof Uint8Array)) throw new TypeError('images must be a Uint8Array (N × H × W × C)');
    if (!(data.labels instanceof Int32Array)) throw new TypeError('labels must be an Int32Array');
    this.height = requirePositiveInteger(data.height, 'height');
    this.width = requirePositiveInteger(data.width, 'width');
    this.channels = requirePositiveInteger(data.channels, 'channels');
    this.numClasses = requirePositiveInteger(data.numClasses, 'numClasses');
    const imageSize = this.height * this.width * this.channels;
    if (data.images.length !== data.labels.length * imageSize) {
      throw new RangeError(`images has ${data.images.length} bytes, expected labels.length × ${this.height} × ${this.width} × ${this.channels} = ${data.labels.length * imageSize}`);
    }
    if (data.classNames !== undefined && data.classNames.length !== this.numClasses) {
      throw new RangeError(`classNames has ${data.classNames.length} entries, expected numClasses = ${this.numClasses}`);
    }
    this.images = data.images;
    this.labels = data.labels;
    this.classNames = data.classNames;
    this.name = data.name ?? 'in-memory data set';
    checkLabels(this.labels, this.numClasses, (i) => this.describe(i));
  }

  get length(): number {
    return this.labels.length;
  }

  /** Bytes of one image. */
  get imageSize(): number {
    return this.height * this.width * this.channels;
  }

  /** The raw HWC bytes of image `index` (a view, not a copy). */
  image(index: number): Uint8Array {
    this.checkIndex(index);
    const size = this.imageSize;
    return this.images.subarray(index * size, (index + 1) * size);
  }

  describe(index: number): string {
    return `${this.name} image ${index}`;
  }

  readImageInto(index: number, transform: ImageTransform, random: SeededRandom, target: Float32Array, offset: number): void {
    this.checkIndex(index);
    if (transform?.kind !== 'cifar') {
      throw new TypeError(`transform of kind '${String(transform?.kind)}' needs file-backed images; in-memory sets take cifarTrainTransform / cifarEvalTransform / fashionMnistTransform`);
    }
    applyCifarTransform(this.images, index * this.imageSize, this.height, this.width, this.channels, transform, random, target, offset);
  }

  /** A new data set with the images at `indices`, in that order (copied). */
  select(indices: ArrayLike<number>, name = this.name): InMemoryImageDataset {
    const size = this.imageSize;
    const images = new Uint8Array(indices.length * size);
    const labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      this.checkIndex(index, `indices[${i}]`);
      images.set(this.images.subarray(index * size, (index + 1) * size), i * size);
      labels[i] = this.labels[index];
    }
    return new InMemoryImageDataset({ images, labels, height: this.height, width: this.width, channels: this.channels, numClasses: this.numClasses, classNames: this.classNames, name });
  }

  private checkIndex(index: number, name = 'index'): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`${name} = ${index} is outside [0, ${this.length})`);
  }
}

/** Fields of a file-backed image set (ImageNet-LT, Places-LT, iNaturalist 2018). */
export interface FileImageData {
  /** Directory the image paths are relative to. */
  root: string;
  /**
   * Image paths relative to `root`. They must stay inside it: absolute paths, NUL bytes and `..` segments that climb
   * above the root throw when the data set is made, and a file whose realpath (after symbolic links) is outside the
   * root's realpath fails when it is read.
   */
  paths: string[];
  labels: Int32Array;
  numClasses: number;
  classNames?: readonly string[];
  /** The split or annotation file the list was read from (for error messages). */
  sourceFile: string;
  /** Per image: 1-based line of the split file, or 0-based entry of the annotation file's `images` array. */
  sourceLines: Int32Array;
  /** `'line'` for split files, `'entry'` for JSON annotation files. */
  sourceKind?: 'line' | 'entry';
}

/** libvips strictness: `'warning'` (default) rejects truncated or damaged files instead of decoding them partially. */
export type DecodeStrictness = 'none' | 'truncated' | 'error' | 'warning';

/** Images on disk (JPEG, PNG, anything sharp reads), decoded and resized with sharp on demand. */
export class FileImageDataset implements ImageSource, FileImageData {
  readonly root: string;
  readonly paths: string[];
  readonly labels: Int32Array;
  readonly numClasses: number;
  readonly classNames?: readonly string[];
  readonly sourceFile: string;
  readonly sourceLines: Int32Array;
  readonly sourceKind: 'line' | 'entry';
  /** Decoder strictness passed to sharp's `failOn`. */
  failOn: DecodeStrictness = 'warning';
  /** realpath of `root`, resolved once (on the first read) and shared with subsets. */
  private realRoot?: Promise<string>;

  constructor(data: FileImageData) {
    if (data === null || typeof data !== 'object') throw new TypeError('data must be an object');
    if (typeof data.root !== 'string') throw new TypeError('root must be a directory path');
    if (!Array.isArray(data.paths)) throw new TypeError('paths must be an array of relative paths');
    if (!(data.labels instanceof Int32Array) || data.labels.length !== data.paths.length) throw new TypeError('labels must be an Int32Array as long as paths');
    if (!(data.sourceLines instanceof Int32Array) || data.sourceLines.length !== data.paths.length) throw new TypeError('sourceLines must be an Int32Array as long as paths');
    this.root = data.root;
    this.paths = data.paths;
    this.labels = data.labels;
    this.numClasses = requirePositiveInteger(data.numClasses, 'numClasses');
    if (data.classNames !== undefined && data.classNames.length !== this.numClasses) {
      throw new RangeError(`classNames has ${data.classNames.length} entries, expected numClasses = ${this.numClasses}`);
    }
    this.classNames = data.classNames;
    this.sourceFile = data.sourceFile;
    this.sourceLines = data.sourceLines;
    this.sourceKind = data.sourceKind ?? 'line';
    checkLabels(this.labels, this.numClasses, (i) => this.describe(i));
    for (let i = 0; i < this.paths.length; i++) {
      const relative = this.paths[i];
      if (typeof relative !== 'string' || relative === '') throw new TypeError(`paths[${i}] must be a non-empty relative path, got ${String(relative)}`);
      const problem = lexicalPathProblem(relative);
      if (problem !== undefined) throw new DatasetError(`${this.sourcePosition(i)}: image path ${quotePath(relative)} ${problem}`, this.errorOptions(i));
    }
  }

  get length(): number {
    return this.labels.length;
  }

  /** Absolute path of image `index`. */
  filePath(index: number): string {
    return path.resolve(this.root, this.paths[index]);
  }

  /** The source position of image `index`: "train.txt line 12" or "train2018.json images[11]". */
  sourcePosition(index: number): string {
    return this.sourceKind === 'line' ? `${this.sourceFile} line ${this.sourceLines[index]}` : `${this.sourceFile} images[${this.sourceLines[index]}]`;
  }

  describe(index: number): string {
    return `${this.filePath(index)} (${this.sourcePosition(index)})`;
  }

  /** A new data set with the images at `indices`, in that order. */
  select(indices: ArrayLike<number>): FileImageDataset {
    const paths: string[] = [];
    const labels = new Int32Array(indices.length);
    const lines = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`indices[${i}] = ${index} is outside [0, ${this.length})`);
      paths.push(this.paths[index]);
      labels[i] = this.labels[index];
      lines[i] = this.sourceLines[index];
    }
    const subset = new FileImageDataset({ root: this.root, paths, labels, numClasses: this.numClasses, classNames: this.classNames, sourceFile: this.sourceFile, sourceLines: lines, sourceKind: this.sourceKind });
    subset.failOn = this.failOn;
    subset.realRoot = this.realRoot;
    return subset;
  }

  async readImageInto(index: number, transform: ImageTransform, random: SeededRandom, target: Float32Array, offset: number): Promise<void> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`index = ${index} is outside [0, ${this.length})`);
    transformOutputShape(transform);
    const file = this.filePath(index);
    // Confinement: read the file by its realpath, and only when that lies inside the root's realpath. Missing,
    // dangling and outside files share one message (and no cause), so nothing is told about what exists outside.
    const real = await resolveInside(await this.resolveRoot(), this.paths[index]);
    if (real === undefined) throw new DatasetError(`${file} (${this.sourcePosition(index)}): ${NOT_INSIDE_ROOT}`, this.errorOptions(index));
    try {
      const buffer = await readFile(real);
      await decodeTransformed(buffer, transform, random, target, offset, this.failOn);
    } catch (error) {
      let reason = (error as NodeJS.ErrnoException)?.code === 'ENOENT' ? 'file not found' : `cannot decode image: ${(error as Error)?.message ?? String(error)}`;
      // libvips sometimes reports only the generic failOn message (its warning text is per-thread and can be lost).
      if (/failOn/.test(reason)) reason += ` (the file is truncated or damaged; set failOn = 'error' or 'none' on the data set to accept it)`;
      throw new DatasetError(`${file} (${this.sourcePosition(index)}): ${reason}`, { ...this.errorOptions(index), cause: error });
    }
  }

  private errorOptions(index: number): { file: string; line?: number } {
    return { file: this.sourceFile, line: this.sourceKind === 'line' ? this.sourceLines[index] : undefined };
  }

  private resolveRoot(): Promise<string> {
    this.realRoot ??= realpath(path.resolve(this.root)).catch((error: unknown) => {
      this.realRoot = undefined; // let a later read retry (e.g. a network mount that came back)
      throw new DatasetError(`image root ${path.resolve(this.root)} (for ${this.sourceFile}) cannot be resolved: ${(error as Error)?.message ?? String(error)}`, { file: this.sourceFile, cause: error });
    });
    return this.realRoot;
  }
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, …) with sharp and writes it transformed into `target[offset …]`.
 * ImageNet transforms crop and resize in sharp (bilinear, no EXIF rotation, like PIL); the CIFAR transform gets the
 * full decoded image (which must not exceed its size), or with `resize: true` the image resized (shorter side) and
 * centre-cropped to its size.
 */
export async function decodeTransformed(
  encoded: Buffer | Uint8Array,
  transform: ImageTransform,
  random: SeededRandom,
  target: Float32Array,
  offset: number,
  failOn: DecodeStrictness = 'warning',
): Promise<void> {
  const input = { failOn } as const;
  const metadata = await sharp(encoded, input).metadata();
  const width = metadata.width;
  const height = metadata.height;
  if (!width || !height) throw new Error('image has no dimensions');
  if (transform.kind === 'cifar') {
    const channels = transform.channels === 1 ? 1 : 3;
    let pipeline = sharp(encoded, input);
    if (transform.resize) {
      // Shorter side to size, then the central size × size (torchvision Resize(size) + CenterCrop(size)).
      const geometry = resizeCenterCropGeometry(height, width, transform.size, transform.size);
      pipeline = pipeline
        .resize(geometry.resizedWidth, geometry.resizedHeight, { fit: 'fill', kernel: 'linear' })
        .extract({ left: geometry.left, top: geometry.top, width: transform.size, height: transform.size });
    }
    pipeline = pipeline.removeAlpha();
    pipeline = channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    applyCifarTransform(new Uint8Array(data.buffer, data.byteOffset, data.length), 0, info.height, info.width, info.channels, transform, random, target, offset);
    return;
  }
  let pipeline = sharp(encoded, input);
  let flip = false;
  if (transform.kind === 'imagenet-train') {
    const window = randomResizedCropWindow(height, width, transform.scale, transform.ratio, random);
    flip = transform.flip && random.next() < 0.5;
    pipeline = pipeline
      .extract({ left: window.left, top: window.top, width: window.width, height: window.height })
      .resize(transform.size, transform.size, { fit: 'fill', kernel: 'linear' });
  } else {
    const geometry = resizeCenterCropGeometry(height, width, transform.resize, transform.size);
    pipeline = pipeline
      .resize(geometry.resizedWidth, geometry.resizedHeight, { fit: 'fill', kernel: 'linear' })
      .extract({ left: geometry.left, top: geometry.top, width: transform.size, height: transform.size });
  }
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  let rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (info.channels !== 3) rgb = toRgb(rgb, info.channels, info.width * info.height);
  if (info.width !== transform.size || info.height !== transform.size) throw new Error(`decoded to ${info.width}×${info.height}, expected ${transform.size}×${transform.size}`);
  const jitter = transform.kind === 'imagenet-train' ? transform.colorJitter : undefined;
  writeNormalizedRgb(rgb, transform.size, flip, jitter, transform.mean, transform.std, random, target, offset);
}

function toRgb(pixels: Uint8Array, channels: number, count: number): Uint8Array {
  const rgb = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = pixels[i * channels + (channels >= 3 ? c : 0)];
  }
  return rgb;
}
