import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { classCounts, loadImageNetLT, loadPlacesLT, manyMediumFew, readSplitFile } from '../src/index.js';
import { requireShared, sharedDirectory, skipWithoutShared } from './helpers.js';

const splits = path.join(sharedDirectory, 'splits');

describe.skipIf(skipWithoutShared)('class statistics of the real benchmark split files', () => {
  beforeAll(requireShared);

  it('Places-LT train: 62,500 images, 365 classes, max 4980, min 5, 131 / 163 / 71 many / medium / few', async () => {
    const dataset = await loadPlacesLT({ splitFile: path.join(splits, 'Places_LT_train.txt'), root: sharedDirectory });
    expect(dataset.length).toBe(62500);
    expect(dataset.numClasses).toBe(365);
    const counts = classCounts(dataset.labels, dataset.numClasses);
    expect(Math.max(...counts)).toBe(4980);
    expect(Math.min(...counts)).toBe(5);
    const groups = manyMediumFew(counts);
    expect([groups.many.length, groups.medium.length, groups.few.length]).toEqual([131, 163, 71]);
    // Every class lands in exactly one group.
    expect([...groups.many, ...groups.medium, ...groups.few].sort((a, b) => a - b)).toEqual(Array.from({ length: 365 }, (_, i) => i));
    expect(dataset.paths[0]).toBe('data_256/a/airfield/00004851.jpg');
    expect(dataset.filePath(0)).toBe(path.resolve(sharedDirectory, 'data_256/a/airfield/00004851.jpg'));
  });

  it('ImageNet-LT test: 50,000 images, 1000 balanced classes (50 each)', async () => {
    const dataset = await loadImageNetLT({ splitFile: path.join(splits, 'ImageNet_LT_test.txt'), root: sharedDirectory });
    expect(dataset.length).toBe(50000);
    const counts = classCounts(dataset.labels, 1000);
    expect(new Set(counts)).toEqual(new Set([50]));
    expect(manyMediumFew(counts)).toEqual({ many: [], medium: Array.from({ length: 1000 }, (_, i) => i), few: [] });
  });

  it('Places-LT test: 36,500 images, 100 per class', async () => {
    const split = await readSplitFile(path.join(splits, 'Places_LT_test.txt'), { numClasses: 365 });
    expect(split.paths.length).toBe(36500);
    expect(new Set(classCounts(split.labels, 365))).toEqual(new Set([100]));
    expect(split.lineNumbers[0]).toBe(1);
  });
});

describe('manyMediumFew and classCounts', () => {
  it('uses > 100, 20 … 100 and < 20 (boundaries included in medium)', () => {
    expect(manyMediumFew([101, 100, 20, 19, 0, 5000])).toEqual({ many: [0, 5], medium: [1, 2], few: [3, 4] });
    expect(manyMediumFew([50, 10], { manyAbove: 40, fewBelow: 5 })).toEqual({ many: [0], medium: [1], few: [] });
  });

  it('counts labels and names a label out of range', () => {
    expect(classCounts([0, 2, 2, 1, 2], 4)).toEqual([1, 1, 3, 0]);
    expect(() => classCounts([0, 4], 4)).toThrow(/labels\[1\] = 4/);
    expect(() => classCounts([0], 0)).toThrow(/numClasses/);
    expect(() => manyMediumFew([1, -1])).toThrow(/counts\[1\]/);
  });
});
