import sharp from 'sharp';
import { SeededRandom } from '@longtail/samplers';
import { describe, expect, it } from 'vitest';
import {
  CIFAR_MEAN,
  CIFAR_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  applyCifarTransform,
  cifarEvalTransform,
  cifarTrainTransform,
  decodeTransformed,
  fashionMnistTransform,
  imagenetEvalTransform,
  imagenetTrainTransform,
  randomResizedCropWindow,
  resizeCenterCropGeometry,
  transformOutputShape,
} from '../src/index.js';

/** Reference CIFAR augmentation written the torchvision way: build the padded array, crop it, flip it, normalise. */
function referenceCifar(pixels: Uint8Array, height: number, width: number, channels: number, size: number, padding: number, top: number, left: number, flip: boolean, mean: readonly number[], std: readonly number[], outChannels: number): Float32Array {
  // Centre-pad to size×size (grey repeated to outChannels), then pad `padding` zeros on every side.
  const framed = size + 2 * padding;
  const canvas = new Float64Array(framed * framed * outChannels);
  const offsetY = padding + Math.floor((size - height) / 2);
  const offsetX = padding + Math.floor((size - width) / 2);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < outChannels; c++) {
    canvas[((y + offsetY) * framed + x + offsetX) * outChannels + c] = pixels[(y * width + x) * channels + (channels === 1 ? 0 : c)] / 255;
  }
  const out = new Float32Array(size * size * outChannels);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const sourceX = flip ? size - 1 - x : x;
    for (let c = 0; c < outChannels; c++) out[(y * size + x) * outChannels + c] = (canvas[((y + top) * framed + sourceX + left) * outChannels + c] - mean[c]) / std[c];
  }
  return out;
}

function randomImage(length: number, seed: number): Uint8Array {
  const random = new SeededRandom(seed);
  return Uint8Array.from({ length }, () => random.nextInt(256));
}

describe('CIFAR-style augmentation', () => {
  it('random crop 32 with 4-pixel zero padding, flip and normalisation equal the reference construction', () => {
    const transform = cifarTrainTransform();
    const image = randomImage(32 * 32 * 3, 1);
    const flips = new Set<boolean>();
    const offsets = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const target = new Float32Array(32 * 32 * 3);
      applyCifarTransform(image, 0, 32, 32, 3, transform, new SeededRandom(seed), target, 0);
      // The draws, replayed: top, left in [0, 8], then the flip.
      const replay = new SeededRandom(seed);
      const top = replay.nextInt(9);
      const left = replay.nextInt(9);
      const flip = replay.next() < 0.5;
      flips.add(flip);
      offsets.add(`${top},${left}`);
      const expected = referenceCifar(image, 32, 32, 3, 32, 4, top, left, flip, CIFAR_MEAN, CIFAR_STD, 3);
      for (let i = 0; i < expected.length; i++) expect(target[i]).toBeCloseTo(expected[i], 5);
    }
    expect(flips).toEqual(new Set([true, false]));
    expect(offsets.size).toBeGreaterThan(20);
  });

  it('evaluation transform is normalisation only; the image can sit anywhere in a bigger target', () => {
    const image = randomImage(2 * 32 * 32 * 3, 2);
    const target = new Float32Array(10 + 32 * 32 * 3);
    applyCifarTransform(image, 3072, 32, 32, 3, cifarEvalTransform(), new SeededRandom(0), target, 10);
    for (const i of [0, 1, 2, 500, 3071]) expect(target[10 + i]).toBeCloseTo((image[3072 + i] / 255 - CIFAR_MEAN[i % 3]) / CIFAR_STD[i % 3], 5);
    expect(target[0]).toBe(0);
  });

  it('Fashion-MNIST recipe: 28×28 grey padded to 32×32 and repeated to 3 channels, then crop + flip', () => {
    const transform = fashionMnistTransform({ train: true });
    expect(transformOutputShape(transform)).toEqual([32, 32, 3]);
    const image = randomImage(28 * 28, 3);
    for (let seed = 0; seed < 10; seed++) {
      const target = new Float32Array(32 * 32 * 3);
      applyCifarTransform(image, 0, 28, 28, 1, transform, new SeededRandom(seed), target, 0);
      const replay = new SeededRandom(seed);
      const top = replay.nextInt(9);
      const left = replay.nextInt(9);
      const flip = replay.next() < 0.5;
      const expected = referenceCifar(image, 28, 28, 1, 32, 4, top, left, flip, transform.mean, transform.std, 3);
      for (let i = 0; i < expected.length; i++) expect(target[i]).toBeCloseTo(expected[i], 5);
    }
    // Evaluation: the 2-pixel border is the normalised zero; the centre is the image.
    const target = new Float32Array(32 * 32 * 3);
    applyCifarTransform(image, 0, 28, 28, 1, fashionMnistTransform({ train: false }), new SeededRandom(0), target, 0);
    expect(target[0]).toBeCloseTo(-0.286 / 0.353, 5);
    expect(target[(2 * 32 + 2) * 3 + 1]).toBeCloseTo((image[0] / 255 - 0.286) / 0.353, 5);
  });

  it('validates arguments by name', () => {
    expect(() => cifarTrainTransform({ mean: [0.5] })).toThrow(/mean/);
    expect(() => cifarTrainTransform({ std: [1, 0, 1] })).toThrow(/std/);
    expect(() => cifarTrainTransform({ padding: -1 })).toThrow(/padding/);
    expect(() => imagenetTrainTransform({ scale: [0.5, 0.1] })).toThrow(/scale/);
    expect(() => imagenetTrainTransform({ colorJitter: { hue: 0.1 } as object })).toThrow(/colorJitter\.hue/);
    expect(() => imagenetEvalTransform({ resize: 200, size: 224 })).toThrow(/size/);
    expect(() => applyCifarTransform(new Uint8Array(40 * 40 * 3), 0, 40, 40, 3, cifarTrainTransform(), new SeededRandom(0), new Float32Array(3072), 0)).toThrow(/larger than the transform size/);
  });
});

describe('ImageNet-style geometry (torchvision semantics)', () => {
  it('RandomResizedCrop windows stay inside the image, within scale and ratio (up to rounding)', () => {
    const random = new SeededRandom(5);
    for (let k = 0; k < 500; k++) {
      const window = randomResizedCropWindow(375, 500, [0.08, 1], [3 / 4, 4 / 3], random);
      expect(window.top).toBeGreaterThanOrEqual(0);
      expect(window.left).toBeGreaterThanOrEqual(0);
      expect(window.top + window.height).toBeLessThanOrEqual(375);
      expect(window.left + window.width).toBeLessThanOrEqual(500);
      const area = (window.height * window.width) / (375 * 500);
      expect(area).toBeGreaterThan(0.07);
      expect(window.width / window.height).toBeGreaterThan(0.7);
      expect(window.width / window.height).toBeLessThan(1.4);
    }
  });

  it('falls back to the central crop clamped to the ratio range when no draw fits', () => {
    // A 10×1000 strip: ratio 100 > 4/3, so every draw with scale 1 is too wide; fallback h = 10, w = round(10 · 4/3) = 13.
    const window = randomResizedCropWindow(10, 1000, [1, 1], [3 / 4, 4 / 3], new SeededRandom(0));
    expect(window).toEqual({ top: 0, left: Math.floor((1000 - 13) / 2), height: 10, width: 13 });
  });

  it('Resize(256) + CenterCrop(224) geometry', () => {
    expect(resizeCenterCropGeometry(375, 500, 256, 224)).toEqual({ resizedHeight: 256, resizedWidth: 341, top: 16, left: 58 });
    expect(resizeCenterCropGeometry(320, 256, 256, 224)).toEqual({ resizedHeight: 320, resizedWidth: 256, top: 48, left: 16 });
  });
});

describe('decoding with sharp', () => {
  const width = 256;
  const height = 320;
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    raw[3 * i] = i % 256;
    raw[3 * i + 1] = (i >> 8) % 256;
    raw[3 * i + 2] = (i * 7) % 256;
  }

  it('evaluation transform on a lossless PNG is the exact centre crop, normalised', async () => {
    const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
    const transform = imagenetEvalTransform();
    const out = new Float32Array(224 * 224 * 3);
    await decodeTransformed(png, transform, new SeededRandom(0), out, 0);
    let maxError = 0;
    for (let y = 0; y < 224; y++) for (let x = 0; x < 224; x++) for (let c = 0; c < 3; c++) {
      const expected = (raw[((y + 48) * width + x + 16) * 3 + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      maxError = Math.max(maxError, Math.abs(expected - out[(y * 224 + x) * 3 + c]));
    }
    expect(maxError).toBeLessThan(1e-5);
  });

  it('training transform with scale 1 and ratio 1 on a square image is the image, mirrored when the flip is drawn', async () => {
    const side = 64;
    const square = Buffer.from(raw.subarray(0, side * side * 3));
    const png = await sharp(square, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
    const transform = imagenetTrainTransform({ size: side, scale: [1, 1], ratio: [1, 1] });
    let sawFlip = false;
    let sawPlain = false;
    for (let seed = 0; seed < 8; seed++) {
      const out = new Float32Array(side * side * 3);
      await decodeTransformed(png, transform, new SeededRandom(seed), out, 0);
      const replay = new SeededRandom(seed);
      randomResizedCropWindow(side, side, [1, 1], [1, 1], replay);
      const flip = replay.next() < 0.5;
      if (flip) sawFlip = true;
      else sawPlain = true;
      for (const [y, x] of [[0, 0], [5, 60], [63, 1]]) {
        const sourceX = flip ? side - 1 - x : x;
        for (let c = 0; c < 3; c++) expect(out[(y * side + x) * 3 + c]).toBeCloseTo((square[(y * side + sourceX) * 3 + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], 4);
      }
    }
    expect(sawFlip && sawPlain).toBe(true);
  });

  it('brightness jitter multiplies by the drawn factor (clamped to [0, 1])', async () => {
    const side = 32;
    const grey = await sharp(Buffer.alloc(side * side * 3, 100), { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
    const transform = imagenetTrainTransform({ size: side, scale: [1, 1], ratio: [1, 1], flip: false, colorJitter: { brightness: 0.4 } });
    const out = new Float32Array(side * side * 3);
    await decodeTransformed(grey, transform, new SeededRandom(9), out, 0);
    const replay = new SeededRandom(9);
    randomResizedCropWindow(side, side, [1, 1], [1, 1], replay);
    replay.permutation(4);
    const factor = replay.uniform(0.6, 1.4);
    expect(out[0]).toBeCloseTo((Math.min(1, (100 / 255) * factor) - IMAGENET_MEAN[0]) / IMAGENET_STD[0], 4);
  });

  it('grey and RGBA inputs give 3 channels; garbage and truncated files are errors, not silent output', async () => {
    const out = new Float32Array(224 * 224 * 3);
    const greyJpeg = await sharp(Buffer.alloc(300 * 300, 128), { raw: { width: 300, height: 300, channels: 1 } }).jpeg().toBuffer();
    await decodeTransformed(greyJpeg, imagenetEvalTransform(), new SeededRandom(0), out, 0);
    expect(out[1]).toBeCloseTo((128 / 255 - IMAGENET_MEAN[1]) / IMAGENET_STD[1], 1);
    const rgba = await sharp(raw, { raw: { width, height, channels: 3 } }).ensureAlpha().png().toBuffer();
    await decodeTransformed(rgba, imagenetEvalTransform(), new SeededRandom(0), out, 0);
    expect(out[0]).toBeCloseTo((raw[(48 * width + 16) * 3] / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], 4);
    await expect(decodeTransformed(Buffer.from('not an image'), imagenetEvalTransform(), new SeededRandom(0), out, 0)).rejects.toThrow(/unsupported image format/);
    const jpeg = await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg().toBuffer();
    await expect(decodeTransformed(jpeg.subarray(0, jpeg.length >> 1), imagenetEvalTransform(), new SeededRandom(0), out, 0)).rejects.toThrow(/premature end|failOn/i);
  });
});
