import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InMemoryImageDataset, classCounts, imbalancedCounts, longTailedSubset, makeLongTailed } from '../src/index.js';
import { requireShared, sharedAvailable, sharedDirectory, skipWithoutShared } from './helpers.js';

interface ProfileCase {
  dataset: string;
  cls_num: number;
  imb_type: 'exp' | 'step';
  imb_factor: number;
  img_max: number;
  img_num_per_cls: number[];
}

const golden = sharedAvailable
  ? (JSON.parse(readFileSync(path.join(sharedDirectory, 'golden/sampler_and_imbalance.json'), 'utf8')).get_img_num_per_cls as Record<string, ProfileCase>)
  : {};

/** A balanced set of 1×1 grey images with `perClass` images per class, labels interleaved as in CIFAR files. */
function balancedSet(numClasses: number, perClass: number): InMemoryImageDataset {
  const labels = new Int32Array(numClasses * perClass);
  for (let i = 0; i < labels.length; i++) labels[i] = (i * 7 + Math.floor(i / numClasses)) % numClasses;
  const images = new Uint8Array(labels.length);
  for (let i = 0; i < images.length; i++) images[i] = i % 251;
  return new InMemoryImageDataset({ images, labels, height: 1, width: 1, channels: 1, numClasses });
}

describe.skipIf(skipWithoutShared)('imbalancedCounts against the reference get_img_num_per_cls', () => {
  it('has golden cases for both profiles and both data sets', () => {
    requireShared();
    const cases = Object.values(golden);
    expect(cases.length).toBeGreaterThanOrEqual(6);
    expect(new Set(cases.map((c) => c.imb_type))).toEqual(new Set(['exp', 'step']));
    expect(new Set(cases.map((c) => c.dataset))).toEqual(new Set(['cifar10', 'cifar100']));
  });

  for (const [name, reference] of Object.entries(golden)) {
    it(`${name}: counts equal the reference`, () => {
      const counts = imbalancedCounts({ numClasses: reference.cls_num, maxPerClass: reference.img_max, factor: reference.imb_factor, profile: reference.imb_type });
      expect(counts).toEqual(reference.img_num_per_cls);
    });

    it(`${name}: makeLongTailed of a balanced ${reference.dataset} training set has exactly the reference counts`, () => {
      const balanced = balancedSet(reference.cls_num, reference.img_max);
      const longTailed = makeLongTailed(balanced, { factor: reference.imb_factor, profile: reference.imb_type, seed: 0 });
      expect(classCounts(longTailed.labels, reference.cls_num)).toEqual(reference.img_num_per_cls);
      expect(longTailed.length).toBe(reference.img_num_per_cls.reduce((a, b) => a + b, 0));
    });
  }
});

describe('imbalancedCounts', () => {
  it('gives the Fashion-MNIST-LT counts (exp, 0.01, 6000 per class): 14,886 images', () => {
    const counts = imbalancedCounts({ numClasses: 10, maxPerClass: 6000, factor: 0.01 });
    expect(counts).toEqual([6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(14886);
  });

  it('handles one class and an odd number of classes in the step profile', () => {
    expect(imbalancedCounts({ numClasses: 1, maxPerClass: 10, factor: 0.1 })).toEqual([10]);
    expect(imbalancedCounts({ numClasses: 5, maxPerClass: 100, factor: 0.1, profile: 'step' })).toEqual([100, 100, 10, 10, 10]);
    expect(imbalancedCounts({ numClasses: 4, maxPerClass: 100, factor: 1 })).toEqual([100, 100, 100, 100]);
  });

  it('names the bad argument', () => {
    expect(() => imbalancedCounts({ numClasses: 0, maxPerClass: 10, factor: 0.1 })).toThrow(/numClasses/);
    expect(() => imbalancedCounts({ numClasses: 10, maxPerClass: -1, factor: 0.1 })).toThrow(/maxPerClass/);
    expect(() => imbalancedCounts({ numClasses: 10, maxPerClass: 10, factor: 100 })).toThrow(/factor/);
    expect(() => imbalancedCounts({ numClasses: 10, maxPerClass: 10, factor: 0.1, profile: 'linear' as 'exp' })).toThrow(/profile/);
  });
});

describe('longTailedSubset', () => {
  const labels = balancedSet(10, 500).labels;
  const counts = imbalancedCounts({ numClasses: 10, maxPerClass: 500, factor: 0.02 });

  it('keeps counts[c] distinct images of class c, class 0 first', () => {
    const subset = longTailedSubset(labels, counts, 3);
    expect(new Set(subset).size).toBe(subset.length);
    let offset = 0;
    for (let c = 0; c < 10; c++) {
      for (let k = 0; k < counts[c]; k++) expect(labels[subset[offset + k]]).toBe(c);
      offset += counts[c];
    }
  });

  it('is the first n of a seeded per-class shuffle: the same seed gives the same subset, another seed another one', () => {
    const a = longTailedSubset(labels, counts, 7);
    const b = longTailedSubset(labels, counts, 7);
    const c = longTailedSubset(labels, counts, 8);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    // Taking fewer images from a class keeps a prefix of the same shuffle.
    const fewer = longTailedSubset(labels, counts.map((n) => Math.floor(n / 2)), 7);
    expect(Array.from(fewer.subarray(0, 250))).toEqual(Array.from(a.subarray(0, 250)));
  });

  it('is not simply the first images of each class', () => {
    const subset = longTailedSubset(labels, counts, 0);
    const firstOfClass9 = Array.from(labels.keys()).filter((i) => labels[i] === 9).slice(0, counts[9]);
    expect(Array.from(subset.subarray(subset.length - counts[9])).sort((x, y) => x - y)).not.toEqual(firstOfClass9);
  });

  it('names the class that has too few images and the bad label', () => {
    expect(() => longTailedSubset(labels, [501, ...counts.slice(1)], 0)).toThrow(/counts\[0\] = 501 but class 0 has only 500/);
    expect(() => longTailedSubset([0, 1, 5], [1, 1], 0)).toThrow(/labels\[2\] = 5/);
  });
});
