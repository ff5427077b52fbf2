import type { SeededRandom } from '@longtail/samplers';
import { requireNonNegativeInteger, requirePositiveInteger } from './errors.js';

/** Per-channel mean of CIFAR-10 training images, as the GCL/LDAM reference code normalises (also used for CIFAR-100). */
export const CIFAR_MEAN: readonly number[] = Object.freeze([0.4914, 0.4822, 0.4465]);
/** Per-channel standard deviation paired with {@link CIFAR_MEAN} in the reference code. */
export const CIFAR_STD: readonly number[] = Object.freeze([0.2023, 0.1994, 0.201]);
/** ImageNet mean (torchvision), used for ImageNet-LT, Places-LT and iNaturalist. */
export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406]);
/** ImageNet standard deviation (torchvision). */
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225]);
/** Fashion-MNIST training-set pixel mean (of x / 255), repeated for the three output channels. */
export const FASHION_MNIST_MEAN: readonly number[] = Object.freeze([0.286, 0.286, 0.286]);
/** Fashion-MNIST training-set pixel standard deviation, repeated for the three output channels. */
export const FASHION_MNIST_STD: readonly number[] = Object.freeze([0.353, 0.353, 0.353]);

/**
 * CIFAR-style transform on small images held in memory: centre zero-padding up to `size` (28 → 32 for MNIST-like
 * input), random crop of `size` from the image zero-padded by `padding` on every side, horizontal flip with
 * probability 0.5, grey input repeated to `channels`, then `(x / 255 − mean) / std` per channel.
 * Padded pixels are 0 before normalisation, as torchvision's `RandomCrop(32, padding=4)` then `Normalize`.
 */
export interface CifarTransform {
  readonly kind: 'cifar';
  /** Output height and width. */
  readonly size: number;
  /** Random-crop padding in pixels; 0 disables the crop. */
  readonly padding: number;
  /** Random horizontal flip (p = 0.5). */
  readonly flip: boolean;
  /** Output channels; a one-channel input is repeated. */
  readonly channels: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /**
   * Files only: first resize the decoded image (shorter side to `size`, bilinear) and centre-crop it to
   * `size × size`, so that folders of mixed image sizes work (the `image-folder` data set). Absent (false): the
   * image is centre-padded and must not exceed `size`. In-memory images must then already be `size × size`.
   */
  readonly resize?: boolean;
}

/** Colour jitter factors as torchvision `ColorJitter(brightness, contrast, saturation)` (hue is not supported). */
export interface ColorJitterOptions {
  brightness?: number;
  contrast?: number;
  saturation?: number;
}

/**
 * ImageNet-style training transform: torchvision `RandomResizedCrop(size, scale, ratio)` (10 attempts, then the
 * central fallback), horizontal flip (p = 0.5), optional `ColorJitter` (random order of the three operations, tensor
 * semantics on [0, 1] values), then normalisation. Decoding, cropping and the bilinear resize run in sharp.
 */
export interface ImageNetTrainTransform {
  readonly kind: 'imagenet-train';
  readonly size: number;
  readonly scale: readonly [number, number];
  readonly ratio: readonly [number, number];
  readonly flip: boolean;
  readonly colorJitter?: Readonly<ColorJitterOptions>;
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** ImageNet-style evaluation transform: shorter side resized to `resize` (256), centre crop `size` (224), normalise. */
export interface ImageNetEvalTransform {
  readonly kind: 'imagenet-eval';
  readonly resize: number;
  readonly size: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Any transform the batcher accepts. */
export type ImageTransform = CifarTransform | ImageNetTrainTransform | ImageNetEvalTransform;

function meanStd(options: { mean?: readonly number[]; std?: readonly number[] }, channels: number, defaults: [readonly number[], readonly number[]]) {
  const mean = [...(options.mean ?? defaults[0])];
  const std = [...(options.std ?? defaults[1])];
  if (mean.length !== channels || !mean.every(Number.isFinite)) throw new TypeError(`mean must hold ${channels} finite numbers, got [${mean}]`);
  if (std.length !== channels || !std.every((v) => Number.isFinite(v) && v > 0)) throw new TypeError(`std must hold ${channels} positive numbers, got [${std}]`);
  return { mean: Object.freeze(mean), std: Object.freeze(std) };
}

/** Options of the CIFAR-style transforms. */
export interface CifarTransformOptions {
  /** Output side, default 32. */
  size?: number;
  /** Crop padding, default 4 for training (ignored by the evaluation transform). */
  padding?: number;
  /** Output channels, default 3. */
  channels?: number;
  /** Default {@link CIFAR_MEAN}. */
  mean?: readonly number[];
  /** Default {@link CIFAR_STD}. */
  std?: readonly number[];
  /** Files only: resize (shorter side) + centre-crop every image to `size × size` first; default false. */
  resize?: boolean;
}

function resizeFlag(options: { resize?: boolean }): { resize?: true } {
  if (options.resize !== undefined && typeof options.resize !== 'boolean') throw new TypeError(`resize must be a boolean, got ${String(options.resize)}`);
  // Only present when set, so that the transforms of in-memory sets keep their exact shape.
  return options.resize ? { resize: true } : {};
}

/** CIFAR training augmentation: random crop 32 with 4-pixel zero padding, horizontal flip, CIFAR mean/std. */
export function cifarTrainTransform(options: CifarTransformOptions = {}): CifarTransform {
  const channels = requirePositiveInteger(options.channels ?? 3, 'channels');
  return Object.freeze({
    kind: 'cifar' as const,
    size: requirePositiveInteger(options.size ?? 32, 'size'),
    padding: requireNonNegativeInteger(options.padding ?? 4, 'padding'),
    flip: true,
    channels,
    ...meanStd(options, channels, [CIFAR_MEAN, CIFAR_STD]),
    ...resizeFlag(options),
  });
}

/** CIFAR evaluation transform: normalisation only (plus centre padding / channel repeat when needed). */
export function cifarEvalTransform(options: Omit<CifarTransformOptions, 'padding'> = {}): CifarTransform {
  const channels = requirePositiveInteger(options.channels ?? 3, 'channels');
  return Object.freeze({
    kind: 'cifar' as const,
    size: requirePositiveInteger(options.size ?? 32, 'size'),
    padding: 0,
    flip: false,
    channels,
    ...meanStd(options, channels, [CIFAR_MEAN, CIFAR_STD]),
    ...resizeFlag(options),
  });
}

/**
 * The Fashion-MNIST recipe of this project: 28×28 grey centre-padded to 32×32, repeated to 3 channels, then the CIFAR
 * augmentation (crop with padding 4, flip) with {@link FASHION_MNIST_MEAN}/{@link FASHION_MNIST_STD}, so that CIFAR
 * backbones (ResNet-32) take it unchanged. `train: false` gives the evaluation variant (no crop, no flip).
 */
export function fashionMnistTransform(options: { train: boolean }): CifarTransform {
  const common = { size: 32, channels: 3, mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD };
  return options.train ? cifarTrainTransform(common) : cifarEvalTransform(common);
}

/** ImageNet training transform; defaults size 224, scale [0.08, 1], ratio [3/4, 4/3], flip, no jitter, ImageNet mean/std. */
export function imagenetTrainTransform(
  options: {
    size?: number;
    scale?: readonly [number, number];
    ratio?: readonly [number, number];
    flip?: boolean;
    colorJitter?: ColorJitterOptions;
    mean?: readonly number[];
    std?: readonly number[];
  } = {},
): ImageNetTrainTransform {
  const scale = options.scale ?? [0.08, 1];
  const ratio = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scale.length === 2 && scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new RangeError(`scale must be [low, high] with 0 < low ≤ high ≤ 1, got [${scale}]`);
  if (!(ratio.length === 2 && ratio[0] > 0 && ratio[0] <= ratio[1])) throw new RangeError(`ratio must be [low, high] with 0 < low ≤ high, got [${ratio}]`);
  const jitter = options.colorJitter;
  if (jitter !== undefined) {
    for (const key of ['brightness', 'contrast', 'saturation'] as const) {
      const value = jitter[key];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new RangeError(`colorJitter.${key} must be a non-negative number, got ${value}`);
    }
    for (const key of Object.keys(jitter)) {
      if (!['brightness', 'contrast', 'saturation'].includes(key)) throw new TypeError(`colorJitter.${key} is not supported (brightness, contrast, saturation)`);
    }
  }
  return Object.freeze({
    kind: 'imagenet-train' as const,
    size: requirePositiveInteger(options.size ?? 224, 'size'),
    scale: [scale[0], scale[1]] as const,
    ratio: [ratio[0], ratio[1]] as const,
    flip: options.flip ?? true,
    colorJitter: jitter === undefined ? undefined : Object.freeze({ ...jitter }),
    ...meanStd(options, 3, [IMAGENET_MEAN, IMAGENET_STD]),
  });
}

/** ImageNet evaluation transform; defaults resize 256, size 224, ImageNet mean/std. */
export function imagenetEvalTransform(options: { resize?: number; size?: number; mean?: readonly number[]; std?: readonly number[] } = {}): ImageNetEvalTransform {
  const resize = requirePositiveInteger(options.resize ?? 256, 'resize');
  const size = requirePositiveInteger(options.size ?? 224, 'size');
  if (size > resize) throw new RangeError(`size (${size}) must not exceed resize (${resize})`);
  return Object.freeze({ kind: 'imagenet-eval' as const, resize, size, ...meanStd(options, 3, [IMAGENET_MEAN, IMAGENET_STD]) });
}

/** `[height, width, channels]` of one transformed image. */
export function transformOutputShape(transform: ImageTransform): [number, number, number] {
  switch (transform?.kind) {
    case 'cifar':
      return [transform.size, transform.size, transform.channels];
    case 'imagenet-train':
    case 'imagenet-eval':
      return [transform.size, transform.size, 3];
    default:
      throw new TypeError(`transform must come from cifarTrainTransform, cifarEvalTransform, fashionMnistTransform, imagenetTrainTransform or imagenetEvalTransform, got ${JSON.stringify(transform)}`);
  }
}

/**
 * Applies a {@link CifarTransform} to one HWC uint8 image and writes `size × size × channels` float32 values
 * (HWC) into `target` at `targetOffset`. Random draws, in order: crop top `nextInt(2p + 1)`, crop left
 * `nextInt(2p + 1)` (only when padding p > 0), flip `next() < 0.5` (only when flip is on).
 */
export function applyCifarTransform(
  pixels: Uint8Array,
  pixelOffset: number,
  height: number,
  width: number,
  channels: number,
  transform: CifarTransform,
  random: SeededRandom,
  target: Float32Array,
  targetOffset: number,
): void {
  const { size, padding, channels: outChannels, mean, std } = transform;
  if (transform.resize && (height !== size || width !== size)) {
    throw new RangeError(`image is ${height}×${width}; a resizing CIFAR transform (resize: true) resizes only file-backed images, in memory they must already be ${size}×${size}`);
  }
  if (height > size || width > size) throw new RangeError(`image is ${height}×${width}, larger than the transform size ${size}; use a larger size or an ImageNet transform`);
  if (channels !== outChannels && channels !== 1) throw new RangeError(`image has ${channels} channels, transform wants ${outChannels} (only 1-channel input is repeated)`);
  if (targetOffset + size * size * outChannels > target.length) throw new RangeError('target is too small for the transformed image');
  let top = padding;
  let left = padding;
  if (padding > 0) {
    top = random.nextInt(2 * padding + 1);
    left = random.nextInt(2 * padding + 1);
  }
  const flip = transform.flip && random.next() < 0.5;
  // Position of the source image inside the size×size frame, then the crop window shifts it by (top − p, left − p).
  const originY = Math.floor((size - height) / 2) + padding - top;
  const originX = Math.floor((size - width) / 2) + padding - left;
  const scale = new Float32Array(outChannels);
  const shift = new Float32Array(outChannels);
  for (let c = 0; c < outChannels; c++) {
    scale[c] = 1 / (255 * std[c]);
    shift[c] = -mean[c] / std[c];
  }
  let out = targetOffset;
  for (let y = 0; y < size; y++) {
    const sourceY = y - originY;
    const rowInside = sourceY >= 0 && sourceY < height;
    for (let x = 0; x < size; x++) {
      const sourceX = (flip ? size - 1 - x : x) - originX;
      if (rowInside && sourceX >= 0 && sourceX < width) {
        const base = pixelOffset + (sourceY * width + sourceX) * channels;
        for (let c = 0; c < outChannels; c++) target[out++] = pixels[base + (channels === 1 ? 0 : c)] * scale[c] + shift[c];
      } else {
        for (let c = 0; c < outChannels; c++) target[out++] = shift[c];
      }
    }
  }
}

/** Python's `round` (half to even), which torchvision's crop arithmetic uses. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** A crop window `{ top, left, height, width }` in source pixels. */
export interface CropWindow {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * torchvision `RandomResizedCrop.get_params`: up to 10 draws of area fraction `uniform(scale)` and log-uniform aspect
 * ratio; the first window that fits wins (top `nextInt(H − h + 1)`, left `nextInt(W − w + 1)`), else the central crop
 * clamped to the ratio range.
 */
export function randomResizedCropWindow(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  random: SeededRandom,
): CropWindow {
  const area = height * width;
  const logLow = Math.log(ratio[0]);
  const logHigh = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * random.uniform(scale[0], scale[1]);
    const aspect = Math.exp(random.uniform(logLow, logHigh));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = random.nextInt(height - h + 1);
      const left = random.nextInt(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < ratio[0]) {
    w = width;
    h = roundHalfEven(w / ratio[0]);
  } else if (inRatio > ratio[1]) {
    h = height;
    w = roundHalfEven(h * ratio[1]);
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** torchvision `Resize(resize)` (shorter side, `int` of the longer) then `CenterCrop(size)` geometry. */
export function resizeCenterCropGeometry(height: number, width: number, resize: number, size: number) {
  let resizedHeight: number;
  let resizedWidth: number;
  if (width <= height) {
    resizedWidth = resize;
    resizedHeight = Math.trunc((resize * height) / width);
  } else {
    resizedHeight = resize;
    resizedWidth = Math.trunc((resize * width) / height);
  }
  const top = roundHalfEven((resizedHeight - size) / 2);
  const left = roundHalfEven((resizedWidth - size) / 2);
  return { resizedHeight, resizedWidth, top, left };
}

/**
 * Writes an RGB uint8 image (`size × size × 3`, HWC) into `target` as normalised float32, optionally mirrored and
 * colour-jittered. Jitter draws (torchvision order): a permutation of the four operations (hue slot unused), then
 * the brightness, contrast and saturation factors, each `uniform(max(0, 1 − f), 1 + f)` when enabled.
 */
export function writeNormalizedRgb(
  pixels: Uint8Array,
  size: number,
  flip: boolean,
  jitter: Readonly<ColorJitterOptions> | undefined,
  mean: readonly number[],
  std: readonly number[],
  random: SeededRandom | undefined,
  target: Float32Array,
  targetOffset: number,
): void {
  const count = size * size;
  if (targetOffset + count * 3 > target.length) throw new RangeError('target is too small for the transformed image');
  const active = jitter && random && ((jitter.brightness ?? 0) > 0 || (jitter.contrast ?? 0) > 0 || (jitter.saturation ?? 0) > 0);
  if (!active) {
    const s0 = 1 / (255 * std[0]), s1 = 1 / (255 * std[1]), s2 = 1 / (255 * std[2]);
    const b0 = -mean[0] / std[0], b1 = -mean[1] / std[1], b2 = -mean[2] / std[2];
    let out = targetOffset;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const source = (y * size + (flip ? size - 1 - x : x)) * 3;
        target[out++] = pixels[source] * s0 + b0;
        target[out++] = pixels[source + 1] * s1 + b1;
        target[out++] = pixels[source + 2] * s2 + b2;
      }
    }
    return;
  }
  // Jitter in float [0, 1] (torchvision tensor semantics), then normalise.
  const work = new Float32Array(count * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const source = (y * size + (flip ? size - 1 - x : x)) * 3;
      const dest = (y * size + x) * 3;
      work[dest] = pixels[source] / 255;
      work[dest + 1] = pixels[source + 1] / 255;
      work[dest + 2] = pixels[source + 2] / 255;
    }
  }
  const order = random!.permutation(4);
  const factor = (f: number | undefined) => (f !== undefined && f > 0 ? random!.uniform(Math.max(0, 1 - f), 1 + f) : undefined);
  const brightness = factor(jitter!.brightness);
  const contrast = factor(jitter!.contrast);
  const saturation = factor(jitter!.saturation);
  for (const operation of order) {
    if (operation === 0 && brightness !== undefined) {
      for (let i = 0; i < work.length; i++) work[i] = clamp01(work[i] * brightness);
    } else if (operation === 1 && contrast !== undefined) {
      let sum = 0;
      for (let i = 0; i < count; i++) sum += 0.299 * work[3 * i] + 0.587 * work[3 * i + 1] + 0.114 * work[3 * i + 2];
      const greyMean = sum / count;
      for (let i = 0; i < work.length; i++) work[i] = clamp01(contrast * work[i] + (1 - contrast) * greyMean);
    } else if (operation === 2 && saturation !== undefined) {
      for (let i = 0; i < count; i++) {
        const grey = 0.299 * work[3 * i] + 0.587 * work[3 * i + 1] + 0.114 * work[3 * i + 2];
        for (let c = 0; c < 3; c++) work[3 * i + c] = clamp01(saturation * work[3 * i + c] + (1 - saturation) * grey);
      }
    }
  }
  let out = targetOffset;
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < 3; c++) target[out++] = (work[3 * i + c] - mean[c]) / std[c];
  }
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}
