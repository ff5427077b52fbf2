/**
 * Tests that catch wiring errors in the transforms: normalisation constants as the reference's literals (not the
 * library's exported constants), colour jitter against hand-computed values, and the RandomResizedCrop aspect-ratio
 * distribution (log-uniform, as torchvision draws it).
 */
import sharp from 'sharp';
import { SeededRandom } from '@longtail/samplers';
import { describe, expect, it } from 'vitest';
import {
  applyCifarTransform,
  cifarEvalTransform,
  cifarTrainTransform,
  decodeTransformed,
  imagenetEvalTransform,
  imagenetTrainTransform,
  randomResizedCropWindow,
} from '../src/index.js';
import { writeNormalizedRgb } from '../src/transforms.js';

// The reference code's CIFAR normalisation (GCL-METHOD.md, "Training protocol"), and torchvision's ImageNet one.
const CIFAR_MEAN_LITERAL = [0.4914, 0.4822, 0.4465];
const CIFAR_STD_LITERAL = [0.2023, 0.1994, 0.201];
const IMAGENET_MEAN_LITERAL = [0.485, 0.456, 0.406];
const IMAGENET_STD_LITERAL = [0.229, 0.224, 0.225];

describe('normalisation constants are the reference literals', () => {
  /** A 32×32 RGB image, all zero except a few known pixels. */
  function knownImage(): { image: Uint8Array; pixels: Array<[number, number, [number, number, number]]> } {
    const image = new Uint8Array(32 * 32 * 3);
    const pixels: Array<[number, number, [number, number, number]]> = [
      [0, 0, [255, 128, 0]],
      [5, 17, [10, 200, 77]],
      [31, 31, [125, 126, 114]],
    ];
    for (const [y, x, rgb] of pixels) image.set(rgb, (y * 32 + x) * 3);
    return { image, pixels };
  }

  it('CIFAR evaluation transform: (x/255 − (0.4914, 0.4822, 0.4465)) / (0.2023, 0.1994, 0.2010)', () => {
    const transform = cifarEvalTransform();
    expect([...transform.mean]).toEqual(CIFAR_MEAN_LITERAL);
    expect([...transform.std]).toEqual(CIFAR_STD_LITERAL);
    const { image, pixels } = knownImage();
    const out = new Float32Array(32 * 32 * 3);
    applyCifarTransform(image, 0, 32, 32, 3, transform, new SeededRandom(0), out, 0);
    for (const [y, x, rgb] of pixels) {
      for (let c = 0; c < 3; c++) {
        expect(out[(y * 32 + x) * 3 + c]).toBeCloseTo((rgb[c] / 255 - CIFAR_MEAN_LITERAL[c]) / CIFAR_STD_LITERAL[c], 5);
      }
    }
    // A black pixel: −mean/std, e.g. −0.4914 / 0.2023 = −2.42906…
    expect(out[(1 * 32 + 1) * 3]).toBeCloseTo(-2.429065, 5);
    expect(out[(1 * 32 + 1) * 3 + 1]).toBeCloseTo(-0.4822 / 0.1994, 5);
    expect(out[(1 * 32 + 1) * 3 + 2]).toBeCloseTo(-2.221393, 5);
  });

  it('CIFAR training transform: the zero padding and the shifted image use the same literals', () => {
    const transform = cifarTrainTransform();
    const { image, pixels } = knownImage();
    let sawPadding = false;
    for (let seed = 0; seed < 20; seed++) {
      const out = new Float32Array(32 * 32 * 3);
      applyCifarTransform(image, 0, 32, 32, 3, transform, new SeededRandom(seed), out, 0);
      const replay = new SeededRandom(seed);
      const top = replay.nextInt(9);
      const left = replay.nextInt(9);
      const flip = replay.next() < 0.5;
      for (const [y, x, rgb] of pixels) {
        // Source (y, x) lands at output row y + 4 − top, column x + 4 − left (mirrored when flipped).
        const outY = y + 4 - top;
        let outX = x + 4 - left;
        if (outX < 0 || outX >= 32 || outY < 0 || outY >= 32) continue;
        if (flip) outX = 31 - outX;
        for (let c = 0; c < 3; c++) {
          expect(out[(outY * 32 + outX) * 3 + c]).toBeCloseTo((rgb[c] / 255 - CIFAR_MEAN_LITERAL[c]) / CIFAR_STD_LITERAL[c], 5);
        }
      }
      if (top === 0) {
        sawPadding = true;
        for (let c = 0; c < 3; c++) expect(out[c + 3 * 10]).toBeCloseTo(-CIFAR_MEAN_LITERAL[c] / CIFAR_STD_LITERAL[c], 5);
      }
    }
    expect(sawPadding).toBe(true);
  });

  it('ImageNet transforms: torchvision mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)', () => {
    for (const transform of [imagenetTrainTransform(), imagenetEvalTransform()]) {
      expect([...transform.mean]).toEqual(IMAGENET_MEAN_LITERAL);
      expect([...transform.std]).toEqual(IMAGENET_STD_LITERAL);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Colour jitter. torchvision (PIL path, as the reference's ImageNet recipe): grey L = 0.299 R + 0.587 G + 0.114 B;
// contrast blends every channel with the image's mean grey, saturation blends each pixel with its own grey, both
// `clamp(f · x + (1 − f) · other, 0, 1)`.

/** 2×2 crafted RGB image: pure red, pure green, pure blue, and (51, 102, 153). */
const CRAFTED = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 51, 102, 153]);

/** A stand-in generator that makes the jitter draw a fixed order and a fixed factor, and records what was asked. */
function fixedRandom(order: number[], factors: number[]) {
  const calls: Array<[number, number]> = [];
  let k = 0;
  const random = {
    permutation: (n: number) => {
      expect(n).toBe(4);
      return Int32Array.from(order);
    },
    uniform: (low: number, high: number) => {
      calls.push([low, high]);
      return factors[k++];
    },
  };
  return { random: random as unknown as SeededRandom, calls };
}

function jitter(options: { brightness?: number; contrast?: number; saturation?: number }, order: number[], factors: number[]) {
  const { random, calls } = fixedRandom(order, factors);
  const out = new Float32Array(12);
  // mean 0, std 1: the output is the jittered [0, 1] value itself.
  writeNormalizedRgb(CRAFTED, 2, false, options, [0, 0, 0], [1, 1, 1], random, out, 0);
  return { out: Array.from(out), calls };
}

function expectClose(actual: number[], expected: number[], digits = 6) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v, `value ${i}`).toBeCloseTo(expected[i], digits));
}

describe('colour jitter on a crafted image (hand-computed)', () => {
  // Greys: red 0.299, green 0.587, blue 0.114, (0.2, 0.4, 0.6) → 0.0598 + 0.2348 + 0.0684 = 0.363.
  // Mean grey of the image: (0.299 + 0.587 + 0.114 + 0.363) / 4 = 0.34075.

  it('contrast 0.5: every channel blended half-way with the mean grey 0.34075', () => {
    const { out, calls } = jitter({ contrast: 0.6 }, [1, 0, 2, 3], [0.5]);
    expect(calls).toEqual([[0.4, 1.6]]); // uniform(max(0, 1 − 0.6), 1 + 0.6)
    const g = 0.170375; // 0.5 · 0.34075
    expectClose(out, [0.5 + g, g, g, g, 0.5 + g, g, g, g, 0.5 + g, 0.1 + g, 0.2 + g, 0.3 + g]);
  });

  it('contrast 1.5: pushed away from the mean grey, clamped to [0, 1]', () => {
    const { out } = jitter({ contrast: 0.5 }, [1, 0, 2, 3], [1.5]);
    const g = -0.170375; // (1 − 1.5) · 0.34075
    const c = (x: number) => Math.min(1, Math.max(0, 1.5 * x + g));
    expectClose(out, [1, 0, 0, 0, 1, 0, 0, 0, 1, c(0.2), c(0.4), c(0.6)]);
    expect(out[9]).toBeCloseTo(0.129625, 6);
  });

  it('saturation 0.5: each pixel blended half-way with its own grey (0.299 / 0.587 / 0.114 weights)', () => {
    const { out, calls } = jitter({ saturation: 0.7 }, [2, 0, 1, 3], [0.5]);
    expect(calls[0][0]).toBeCloseTo(0.3, 12);
    expect(calls[0][1]).toBeCloseTo(1.7, 12);
    expectClose(out, [
      0.6495, 0.1495, 0.1495, // red: 0.5 · 1 + 0.5 · 0.299
      0.2935, 0.7935, 0.2935, // green: grey 0.587
      0.057, 0.057, 0.557, // blue: grey 0.114
      0.2815, 0.3815, 0.4815, // (0.2, 0.4, 0.6), grey 0.363
    ]);
  });

  it('saturation 0: the grayscale image', () => {
    const { out } = jitter({ saturation: 1 }, [2, 0, 1, 3], [0]);
    expectClose(out, [0.299, 0.299, 0.299, 0.587, 0.587, 0.587, 0.114, 0.114, 0.114, 0.363, 0.363, 0.363]);
  });

  it('the drawn order is applied (brightness and a clamping contrast do not commute)', () => {
    // Factors are drawn brightness, contrast, saturation (the enabled ones), whatever the order of application.
    const brightnessFirst = jitter({ brightness: 0.9, contrast: 0.9 }, [0, 1, 2, 3], [1.8, 1.8]).out;
    const contrastFirst = jitter({ brightness: 0.9, contrast: 0.9 }, [1, 0, 2, 3], [1.8, 1.8]).out;
    // Brightness 1.8 first: pixels (1, 0, 0), (0, 1, 0), (0, 0, 1), (0.36, 0.72, 1); mean grey
    // (0.299 + 0.587 + 0.114 + 0.10764 + 0.42264 + 0.114) / 4 = 0.41107; R of the last pixel 1.8 · 0.36 − 0.8 · 0.41107.
    expect(brightnessFirst[9]).toBeCloseTo(0.319144, 6);
    // Contrast first: 1.8 · 0.2 − 0.8 · 0.34075 = 0.0874, then brightness: 0.15732.
    expect(contrastFirst[9]).toBeCloseTo(0.15732, 6);
  });

  it('through decodeTransformed: contrast and saturation of imagenetTrainTransform, seeded draws replayed', async () => {
    // An 8×8 lossless PNG with strongly different channels; scale = ratio = 1 and size 8 keep the pixels as they are.
    const side = 8;
    const raw = Buffer.alloc(side * side * 3);
    for (let i = 0; i < side * side; i++) raw.set([(i * 37) % 256, (i * 11 + 40) % 256, 255 - ((i * 23) % 256)], 3 * i);
    const png = await sharp(raw, { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
    const transform = imagenetTrainTransform({ size: side, scale: [1, 1], ratio: [1, 1], flip: false, colorJitter: { contrast: 0.4, saturation: 0.4 } });
    const orders = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const out = new Float32Array(side * side * 3);
      await decodeTransformed(png, transform, new SeededRandom(seed), out, 0);
      // Replay the documented draws: crop window, then the jitter's permutation(4), contrast factor, saturation factor.
      const replay = new SeededRandom(seed);
      randomResizedCropWindow(side, side, [1, 1], [1, 1], replay);
      const order = Array.from(replay.permutation(4)).filter((op) => op === 1 || op === 2);
      const contrast = replay.uniform(0.6, 1.4);
      const saturation = replay.uniform(0.6, 1.4);
      orders.add(order.join(''));
      let work = Array.from(raw, (v) => v / 255);
      const grey = (w: number[], i: number) => 0.299 * w[3 * i] + 0.587 * w[3 * i + 1] + 0.114 * w[3 * i + 2];
      const clamp = (v: number) => Math.min(1, Math.max(0, v));
      for (const op of order) {
        if (op === 1) {
          let sum = 0;
          for (let i = 0; i < side * side; i++) sum += grey(work, i);
          const meanGrey = sum / (side * side);
          work = work.map((v) => clamp(contrast * v + (1 - contrast) * meanGrey));
        } else {
          const greys = Array.from({ length: side * side }, (_, i) => grey(work, i));
          work = work.map((v, k) => clamp(saturation * v + (1 - saturation) * greys[Math.floor(k / 3)]));
        }
      }
      let worst = 0;
      work.forEach((v, k) => {
        const expected = (v - IMAGENET_MEAN_LITERAL[k % 3]) / IMAGENET_STD_LITERAL[k % 3];
        worst = Math.max(worst, Math.abs(out[k] - expected));
      });
      expect(worst, `seed ${seed}`).toBeLessThan(1e-4);
    }
    expect(orders).toEqual(new Set(['12', '21']));
  });
});

describe('RandomResizedCrop aspect ratio is log-uniform in [3/4, 4/3] (torchvision: exp(uniform(log 3/4, log 4/3)))', () => {
  // A 10,000-pixel square and scale ≤ 0.25: every first attempt fits, and rounding moves log(w/h) by < 1e-3.
  const draws = 20_000;
  const logRatios: number[] = [];
  const areas: number[] = [];
  const random = new SeededRandom(2024);
  for (let k = 0; k < draws; k++) {
    const window = randomResizedCropWindow(10_000, 10_000, [0.05, 0.25], [3 / 4, 4 / 3], random);
    logRatios.push(Math.log(window.width / window.height));
    areas.push((window.width * window.height) / 1e8);
  }
  logRatios.sort((a, b) => a - b);
  const low = Math.log(3 / 4);
  const high = Math.log(4 / 3);
  const quantile = (q: number) => logRatios[Math.floor(q * (draws - 1))];

  it('log(ratio) stays in [log 3/4, log 4/3] and has mean 0 (uniform in ratio would give mean 0.027)', () => {
    expect(logRatios[0]).toBeGreaterThanOrEqual(low - 1e-3);
    expect(logRatios[draws - 1]).toBeLessThanOrEqual(high + 1e-3);
    const mean = logRatios.reduce((a, b) => a + b, 0) / draws;
    const sd = (high - low) / Math.sqrt(12); // 0.166
    expect(Math.abs(mean)).toBeLessThan(5 * (sd / Math.sqrt(draws))); // 0.0059
  });

  it('quartiles of log(ratio) are ±log(4/3)/2 = ±0.1438 (uniform in ratio: −0.110 and +0.172)', () => {
    expect(quantile(0.25)).toBeCloseTo(low / 2, 1);
    expect(Math.abs(quantile(0.25) - low / 2)).toBeLessThan(0.012);
    expect(Math.abs(quantile(0.5))).toBeLessThan(0.012);
    expect(Math.abs(quantile(0.75) - high / 2)).toBeLessThan(0.012);
  });

  it('Kolmogorov–Smirnov distance to Uniform(log 3/4, log 4/3) is below the 0.1 % critical value', () => {
    let d = 0;
    logRatios.forEach((v, i) => {
      const cdf = Math.min(1, Math.max(0, (v - low) / (high - low)));
      d = Math.max(d, Math.abs(cdf - i / draws), Math.abs(cdf - (i + 1) / draws));
    });
    expect(d).toBeLessThan(1.95 / Math.sqrt(draws));
  });

  it('the area fraction is uniform in the scale range (mean 0.15 for [0.05, 0.25])', () => {
    const mean = areas.reduce((a, b) => a + b, 0) / draws;
    expect(Math.abs(mean - 0.15)).toBeLessThan(5 * (0.2 / Math.sqrt(12) / Math.sqrt(draws)));
  });
});
