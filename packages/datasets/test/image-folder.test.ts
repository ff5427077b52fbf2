/**
 * The image-folder data set: layouts, class order, the seeded stratified splits (sizes against an independent count),
 * decoding (solid colours against hand-computed normalised values, grey → 3 channels, mixed sizes), the opt-in long
 * tail, the registry entry, and every refusal naming its path.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { SeededRandom } from '@longtail/samplers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCifarTransform,
  cifarEvalTransform,
  cifarTrainTransform,
  DatasetError,
  getDataset,
  imageFolderTransforms,
  imbalancedCounts,
  IMAGENET_MEAN,
  IMAGENET_STD,
  loadImageFolder,
  scanImageFolder,
  stratifiedSplit,
  transformOutputShape,
  type DatasetLoadOptions,
  type FileImageDataset,
} from '../src/index.js';
import { temporaryDirectory } from './helpers.js';
import { textureJpeg, writeClass, writeCorrupt, writeImage } from './image-folder-fixtures.js';

const scratch = temporaryDirectory('longtail-image-folder-');
afterAll(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => {
  const directory = path.join(scratch.directory, `${counter++}-${name}`);
  mkdirSync(directory, { recursive: true });
  return directory;
};

/** Images per class, by label. */
const countsOf = (dataset: FileImageDataset) => {
  const counts = new Array<number>(dataset.numClasses).fill(0);
  for (const label of dataset.labels) counts[label]++;
  return counts;
};
/** The stratified-split rule, written out independently: round(n·f), at least 1 from 2 images on, never the last. */
const held = (n: number, fraction: number) => (n < 2 || fraction === 0 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * fraction))));

const loadOptions = (root: string | null, extra: Partial<DatasetLoadOptions> = {}): DatasetLoadOptions => ({
  root,
  trainFile: null,
  testFile: null,
  source: 'auto',
  imbalance: { factor: 0.01, profile: 'exp', maxPerClass: null },
  subsetSeed: 0,
  inputSize: null,
  augmentation: 'auto',
  ...extra,
});

describe('image-folder: the split layout (train/, val/, test/)', () => {
  let root: string;
  beforeAll(async () => {
    root = fresh('splits');
    // Classes sort by code unit: "Zebra" (upper case) before "ant"; a locale-aware sort would put it last.
    await writeClass(path.join(root, 'train/ant'), 6, { formats: ['png', 'jpeg', 'webp'], sizes: [[12, 10], [40, 7], [64, 64]], salt: 1 });
    await writeClass(path.join(root, 'train/bee'), 5, { formats: ['jpeg'], sizes: [[20, 30]], salt: 2 });
    await writeImage(path.join(root, 'train/bee/grey.JPG'), { width: 16, height: 16, colour: [90, 90, 90], format: 'jpeg', grey: true });
    await writeClass(path.join(root, 'train/Zebra'), 4, { formats: ['webp'], sizes: [[9, 9], [33, 17]], salt: 3 });
    mkdirSync(path.join(root, 'train/dog')); // empty in train, has test images: kept with 0 training images
    // Hidden files are skipped, other non-images ignored (and listed), upper-case endings read, sub-folders walked.
    await writeImage(path.join(root, 'train/ant/.hidden.png'), { width: 8, height: 8, colour: [1, 2, 3] });
    writeFileSync(path.join(root, 'train/ant/notes.txt'), 'not an image');
    await writeImage(path.join(root, 'train/ant/more/deep.PNG'), { width: 8, height: 8, colour: [4, 5, 6] });
    writeFileSync(path.join(root, 'README.md'), 'top-level file');
    await writeClass(path.join(root, 'val/ant'), 1, { salt: 4 });
    await writeClass(path.join(root, 'val/bee'), 2, { salt: 5 });
    await writeClass(path.join(root, 'test/ant'), 2, { salt: 6 });
    await writeClass(path.join(root, 'test/bee'), 2, { salt: 7 });
    await writeClass(path.join(root, 'test/dog'), 3, { salt: 8 });
    await writeClass(path.join(root, 'test/Zebra'), 1, { salt: 9 });
  });

  it('class names are the sorted train/ folders, indices their positions; val/ and test/ are the own splits', async () => {
    const folder = await loadImageFolder({ root });
    expect(folder.layout).toBe('splits');
    expect(folder.classNames).toEqual(['Zebra', 'ant', 'bee', 'dog']);
    expect(countsOf(folder.train)).toEqual([4, 7, 6, 0]);
    expect(countsOf(folder.val!)).toEqual([0, 1, 2, 0]);
    expect(countsOf(folder.test)).toEqual([1, 2, 2, 3]);
    expect(folder.sources).toEqual({ train: 'train/', val: 'val/', test: 'test/' });
    expect(folder.train.paths).toEqual([
      'train/Zebra/img0.webp',
      'train/Zebra/img1.webp',
      'train/Zebra/img2.webp',
      'train/Zebra/img3.webp',
      'train/ant/img0.png',
      'train/ant/img1.jpg',
      'train/ant/img2.webp',
      'train/ant/img3.png',
      'train/ant/img4.jpg',
      'train/ant/img5.webp',
      'train/ant/more/deep.PNG',
      'train/bee/grey.JPG',
      'train/bee/img0.jpg',
      'train/bee/img1.jpg',
      'train/bee/img2.jpg',
      'train/bee/img3.jpg',
      'train/bee/img4.jpg',
    ]);
    expect(Array.from(folder.train.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    expect(folder.train.classNames).toEqual(folder.classNames);
    expect(folder.train.root).toBe(path.resolve(root));
    expect(folder.train.describe(0)).toBe(`${path.join(root, 'train/Zebra/img0.webp')} (${path.join(root, 'train')} images[0])`);
    const scan = await scanImageFolder(root);
    expect(scan.ignored).toEqual(['train/ant/notes.txt', 'README.md']);
    expect(scan.problems).toEqual([]);
  });

  it('decodes every image (PNG, JPEG, WebP, grey, 7 … 64 px) to 32 × 32 × 3 of its solid colour (CIFAR-style, ImageNet mean/std)', async () => {
    const folder = await loadImageFolder({ root });
    const { trainTransform, evalTransform } = imageFolderTransforms({ augmentation: 'auto', inputSize: null });
    expect(transformOutputShape(trainTransform)).toEqual([32, 32, 3]);
    expect(trainTransform).toMatchObject({ kind: 'cifar', padding: 4, flip: true, resize: true });
    const out = new Float32Array(32 * 32 * 3);
    for (let i = 0; i < folder.train.length; i++) {
      const file = folder.train.filePath(i);
      const { data } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const colour = [data[0], data[1], data[2]]; // solid: the first pixel is every pixel (JPEG rounding included)
      const value = (c: number) => (colour[c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      await folder.train.readImageInto(i, evalTransform, new SeededRandom(i), out, 0);
      for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) expect(Math.abs(out[3 * p + c] - value(c))).toBeLessThan(0.02);
      // Training: every pixel is the colour or the zero padding (−mean / std); the crop moves, nothing else appears.
      await folder.train.readImageInto(i, trainTransform, new SeededRandom(i), out, 0);
      let paddedPixels = 0;
      for (let p = 0; p < 32 * 32; p++) {
        const near = (expected: (c: number) => number) => [0, 1, 2].every((c) => Math.abs(out[3 * p + c] - expected(c)) < 0.02);
        const padded = near((c) => -IMAGENET_MEAN[c] / IMAGENET_STD[c]);
        expect(padded || near(value)).toBe(true);
        if (padded && !near(value)) paddedPixels++;
      }
      expect(paddedPixels).toBeLessThanOrEqual(32 * 32 - 28 * 28); // at most 4 rows and 4 columns of padding
    }
  });

  it('a grey image becomes three equal channels; an exact PNG colour gives the exact normalised value', async () => {
    const grey = fresh('grey');
    await writeImage(path.join(grey, 'only/a.png'), { width: 7, height: 50, colour: [128, 128, 128], grey: true });
    await writeImage(path.join(grey, 'only/b.png'), { width: 50, height: 20, colour: [200, 100, 50] });
    expect((await sharp(path.join(grey, 'only/a.png')).metadata()).channels).toBe(1);
    const folder = await loadImageFolder({ root: grey, testFraction: 0 });
    const { evalTransform } = imageFolderTransforms({ augmentation: 'none', inputSize: 8 });
    const out = new Float32Array(8 * 8 * 3);
    await folder.train.readImageInto(0, evalTransform, new SeededRandom(0), out, 0);
    const expectedGrey = [0, 1, 2].map((c) => (128 / 255 - [0.485, 0.456, 0.406][c]) / [0.229, 0.224, 0.225][c]);
    for (let p = 0; p < 64; p++) for (let c = 0; c < 3; c++) expect(out[3 * p + c]).toBeCloseTo(expectedGrey[c], 5);
    await folder.train.readImageInto(1, evalTransform, new SeededRandom(0), out, 0);
    const expected = [200, 100, 50].map((v, c) => (v / 255 - [0.485, 0.456, 0.406][c]) / [0.229, 0.224, 0.225][c]);
    for (let p = 0; p < 64; p++) for (let c = 0; c < 3; c++) expect(out[3 * p + c]).toBeCloseTo(expected[c], 5);
  });

  it('resize: true is a files-only option; the in-memory CIFAR transforms keep their shape', () => {
    expect('resize' in cifarTrainTransform()).toBe(false);
    expect(cifarEvalTransform({ resize: true }).resize).toBe(true);
    expect(() => cifarEvalTransform({ resize: 1 as unknown as boolean })).toThrow('resize must be a boolean, got 1');
    const image = new Uint8Array(4 * 4 * 3).fill(100);
    const target = new Float32Array(8 * 8 * 3);
    expect(() => applyCifarTransform(image, 0, 4, 4, 3, cifarEvalTransform({ size: 8, resize: true }), new SeededRandom(0), target, 0)).toThrow(
      'image is 4×4; a resizing CIFAR transform (resize: true) resizes only file-backed images, in memory they must already be 8×8',
    );
    applyCifarTransform(image, 0, 4, 4, 3, cifarEvalTransform({ size: 8 }), new SeededRandom(0), target, 0); // centre-padded as before
    expect(target[0]).toBeCloseTo(-0.4914 / 0.2023, 5);
  });

  it('imagenet augmentation: random-resized crop / resize + centre crop at inputSize (default 224)', () => {
    const { trainTransform, evalTransform } = imageFolderTransforms({ augmentation: 'imagenet', inputSize: null });
    expect(trainTransform.kind).toBe('imagenet-train');
    expect(evalTransform).toMatchObject({ kind: 'imagenet-eval', size: 224, resize: 256 });
    expect(imageFolderTransforms({ augmentation: 'cifar', inputSize: 64 }).trainTransform).toMatchObject({ kind: 'cifar', size: 64, padding: 8 });
  });

  it('the registry entry: train whole by default, val passed on, data.root required', async () => {
    const loaded = await getDataset('image-folder').load(loadOptions(root));
    expect(countsOf(loaded.train as FileImageDataset)).toEqual([4, 7, 6, 0]);
    expect(loaded.val?.length).toBe(3);
    expect(loaded.test.length).toBe(8);
    expect(loaded.classNames).toEqual(['Zebra', 'ant', 'bee', 'dog']);
    expect(loaded.description).toBe(`image folder ${path.resolve(root)}: 4 classes; train 17 (train/), val 3 (val/), test 8 (test/)`);
    expect(getDataset('image-folder')).toMatchObject({ fileBacked: false, augmentation: 'cifar' });
    await expect(getDataset('image-folder').load(loadOptions(null))).rejects.toThrow(/^image-folder needs data\.root/);
    // A class without training images has no n_max for the long tail: named.
    await expect(getDataset('image-folder').load(loadOptions(root, { longTail: true }))).rejects.toThrow(
      /the long tail needs n_max, but class "dog" has no training images \(train\/\): set data\.imbalance\.maxPerClass/,
    );
  });
});

describe('image-folder: a flat folder (root/<class>/…) and the seeded stratified split', () => {
  let root: string;
  const sizes = { a10: 10, a2: 7, b: 3, B: 1 };
  beforeAll(async () => {
    root = fresh('flat');
    let salt = 20;
    for (const [name, count] of Object.entries(sizes)) await writeClass(path.join(root, name), count, { salt: salt++ });
  });

  it('test = round(20 %) of every class (at least 1, never the last image), the rest trains; nothing lost or doubled', async () => {
    const folder = await loadImageFolder({ root });
    expect(folder.layout).toBe('flat');
    expect(folder.classNames).toEqual(['B', 'a10', 'a2', 'b']);
    const totals = [1, 10, 7, 3];
    expect(countsOf(folder.test)).toEqual(totals.map((n) => held(n, 0.2)));
    expect(countsOf(folder.test)).toEqual([0, 2, 1, 1]);
    expect(countsOf(folder.train)).toEqual(totals.map((n) => n - held(n, 0.2)));
    expect(folder.val).toBeUndefined();
    const all = [...folder.train.paths, ...folder.test.paths].sort();
    expect(new Set(all).size).toBe(21);
    expect(folder.sources).toEqual({ train: `${path.resolve(root)}/ less test`, test: `held out of ${path.resolve(root)}/ (20 % per class, seed 0)` });
    // Labels follow the paths' class folders.
    folder.test.paths.forEach((p, i) => expect(folder.classNames[folder.test.labels[i]]).toBe(p.split(path.sep)[0]));
  });

  it('the split is the same for a seed and differs between seeds; valFraction holds validation out of the rest', async () => {
    const a = await loadImageFolder({ root, seed: 3 });
    const b = await loadImageFolder({ root, seed: 3 });
    const c = await loadImageFolder({ root, seed: 4 });
    expect(b.test.paths).toEqual(a.test.paths);
    expect(c.test.paths).not.toEqual(a.test.paths);
    expect(countsOf(c.test)).toEqual(countsOf(a.test));
    const withVal = await loadImageFolder({ root, seed: 3, testFraction: 0.3, valFraction: 0.5 });
    const totals = [1, 10, 7, 3];
    const test = totals.map((n) => held(n, 0.3));
    const val = totals.map((n, k) => held(n - test[k], 0.5));
    expect(countsOf(withVal.test)).toEqual(test);
    expect(countsOf(withVal.val!)).toEqual(val);
    expect(countsOf(withVal.train)).toEqual(totals.map((n, k) => n - test[k] - val[k]));
    const everything = [...withVal.train.paths, ...withVal.val!.paths, ...withVal.test.paths];
    expect(new Set(everything).size).toBe(21);
    // The same test split as stratifiedSplit with the seed over the folder in class order.
    const whole = await loadImageFolder({ root, testFraction: 0 });
    const split = stratifiedSplit(whole.train.labels, 4, 0.3, 3);
    expect(withVal.test.paths).toEqual(Array.from(split.holdOut, (i) => whole.train.paths[i]));
  });

  it('train/ without test/: test is held out of train/', async () => {
    const trainOnly = fresh('train-only');
    await writeClass(path.join(trainOnly, 'train/x'), 5, { salt: 40 });
    await writeClass(path.join(trainOnly, 'train/y'), 4, { salt: 41 });
    await writeClass(path.join(trainOnly, 'val/y'), 1, { salt: 42 });
    const folder = await loadImageFolder({ root: trainOnly, valFraction: 0.5 });
    expect(countsOf(folder.test)).toEqual([held(5, 0.2), held(4, 0.2)]);
    expect(countsOf(folder.train)).toEqual([5 - held(5, 0.2), 4 - held(4, 0.2)]);
    expect(countsOf(folder.val!)).toEqual([0, 1]); // the own val/ wins over valFraction
    expect(folder.sources.test).toBe('held out of train/ (20 % per class, seed 0)');
    expect(folder.test.paths.every((p) => p.startsWith(`train${path.sep}`))).toBe(true);
  });
});

describe('image-folder: the long tail only when asked', () => {
  let root: string;
  beforeAll(async () => {
    root = fresh('balanced');
    for (let c = 0; c < 4; c++) await writeClass(path.join(root, `class${c}`), 12, { salt: 60 + c });
  });

  it('longTail gives imbalancedCounts of the training part (n_max = smallest class), seeded; without it nothing is cut', async () => {
    const whole = await loadImageFolder({ root, testFraction: 0.25 });
    expect(countsOf(whole.train)).toEqual([9, 9, 9, 9]);
    const tail = await loadImageFolder({ root, testFraction: 0.25, longTail: { factor: 0.2, seed: 5 } });
    // ⌊9 · 0.2^(i/3)⌋ by hand: 9, ⌊5.26⌋, ⌊3.08⌋, ⌊1.8⌋.
    expect(countsOf(tail.train)).toEqual([9, 5, 3, 1]);
    expect(countsOf(tail.train)).toEqual(imbalancedCounts({ numClasses: 4, maxPerClass: 9, factor: 0.2 }));
    expect(countsOf(tail.test)).toEqual([3, 3, 3, 3]); // test stays balanced
    expect(new Set(tail.train.paths).size).toBe(18);
    expect(tail.train.paths.every((p) => whole.train.paths.includes(p))).toBe(true);
    const again = await loadImageFolder({ root, testFraction: 0.25, longTail: { factor: 0.2, seed: 5 } });
    const other = await loadImageFolder({ root, testFraction: 0.25, longTail: { factor: 0.2, seed: 6 } });
    expect(again.train.paths).toEqual(tail.train.paths);
    expect(other.train.paths).not.toEqual(tail.train.paths);
    const step = await loadImageFolder({ root, testFraction: 0.25, longTail: { factor: 0.5, profile: 'step', maxPerClass: 8 } });
    expect(countsOf(step.train)).toEqual([8, 8, 4, 4]);
    expect(tail.sources.train).toBe(`${path.resolve(root)}/ less test, long tail exp factor 0.2 seed 5`);
  });

  it('the registry entry cuts the configured tail only with longTail: true, and names the config keys', async () => {
    const spec = getDataset('image-folder');
    const imbalance = { factor: 0.2, profile: 'exp' as const, maxPerClass: null };
    expect((await spec.load(loadOptions(root, { imbalance }))).train.length).toBe(48 - 4 * held(12, 0.2));
    expect((await spec.load(loadOptions(root, { imbalance, longTail: false }))).train.length).toBe(48 - 4 * held(12, 0.2));
    const tailed = await spec.load(loadOptions(root, { imbalance, longTail: true, subsetSeed: 2 }));
    const n = 12 - held(12, 0.2); // 10
    expect(countsOf(tailed.train as FileImageDataset)).toEqual(imbalancedCounts({ numClasses: 4, maxPerClass: n, factor: 0.2 }));
    expect(countsOf(tailed.train as FileImageDataset)).toEqual([10, 5, 3, 2]);
    expect(tailed.description).toMatch(/train 20 \(.* less test, long tail exp factor 0\.2 seed 2\)/);
    await expect(spec.load(loadOptions(root, { imbalance: { ...imbalance, maxPerClass: 11 }, longTail: true }))).rejects.toThrow(
      /^data\.imbalance\.maxPerClass 11 asks 11 images of class "class0", which has 10 training images/,
    );
    await expect(spec.load(loadOptions(root, { imbalance: { ...imbalance, factor: 0.05 }, longTail: true }))).rejects.toThrow(
      /the long tail leaves class "class3" no training images \(n_max 10 × data\.imbalance\.factor 0\.05 rounds to 0\)/,
    );
  });
});

describe('image-folder: refusals name the path', () => {
  it('root missing, not a directory, without class folders', async () => {
    const base = fresh('refusals');
    await expect(loadImageFolder({ root: path.join(base, 'nope') })).rejects.toThrow(`image folder ${path.join(base, 'nope')} does not exist`);
    writeFileSync(path.join(base, 'file'), 'x');
    await expect(loadImageFolder({ root: path.join(base, 'file') })).rejects.toThrow(`image folder ${path.join(base, 'file')} is not a directory`);
    const empty = fresh('empty');
    writeFileSync(path.join(empty, 'loose.png'), 'x');
    await expect(loadImageFolder({ root: empty })).rejects.toThrow(`image folder ${empty} has no class folders (expected ${path.join(empty, '<class>', '<image>')}`);
    const emptyTrain = fresh('empty-train');
    mkdirSync(path.join(emptyTrain, 'train'));
    await expect(loadImageFolder({ root: emptyTrain })).rejects.toThrow(`${path.join(emptyTrain, 'train')} has no class folders`);
    await expect(loadImageFolder({ root: base, testFraction: 1 })).rejects.toThrow('testFraction must be in [0, 1), got 1');
  });

  it('an empty class folder, a class test/ has and train/ lacks, a test/ without images', async () => {
    const flat = fresh('flat-empty-class');
    await writeClass(path.join(flat, 'full'), 3, { salt: 80 });
    mkdirSync(path.join(flat, 'hollow'));
    writeFileSync(path.join(flat, 'hollow/readme.txt'), 'no images here');
    const error = await loadImageFolder({ root: flat }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toBe(`class folder ${path.join(flat, 'hollow')} has no images (.jpg, .jpeg, .png, .webp); remove it or add images`);

    const splits = fresh('splits-bad');
    await writeClass(path.join(splits, 'train/cat'), 2, { salt: 81 });
    mkdirSync(path.join(splits, 'train/ghost'));
    mkdirSync(path.join(splits, 'test/ghost'), { recursive: true });
    await writeClass(path.join(splits, 'test/cat'), 1, { salt: 82 });
    await writeClass(path.join(splits, 'test/zebra'), 1, { salt: 83 });
    await expect(loadImageFolder({ root: splits })).rejects.toThrow(
      `image folder ${splits} cannot be loaded:\n` +
        `  ${path.join(splits, 'test/zebra')} is a class folder that ${path.join(splits, 'train')} lacks (every class needs a folder in train/)\n` +
        `  class folder ${path.join(splits, 'train/ghost')} has no images (.jpg, .jpeg, .png, .webp) and neither has the class in val/ or test/; remove it or add images`,
    );

    const noTest = fresh('test-empty');
    await writeClass(path.join(noTest, 'train/cat'), 2, { salt: 84 });
    mkdirSync(path.join(noTest, 'test/cat'), { recursive: true });
    await expect(loadImageFolder({ root: noTest })).rejects.toThrow(`${path.join(noTest, 'test')} has no images (.jpg, .jpeg, .png, .webp); remove the folder or add images`);
  });

  it('a corrupt image (random bytes named .jpg) fails at load time, naming the file; with verify: false, when read', async () => {
    const root = fresh('corrupt');
    await writeClass(path.join(root, 'cat'), 3, { salt: 90 });
    writeCorrupt(path.join(root, 'cat/broken.jpg'));
    const error = (await loadImageFolder({ root }).catch((e: unknown) => e)) as DatasetError;
    expect(error).toBeInstanceOf(DatasetError);
    expect(error.message).toMatch(new RegExp(`^image folder ${root}: 1 image\\(s\\) cannot be read .*\\n  ${path.join(root, 'cat/broken.jpg')}: .*unsupported image format`));
    expect(error.file).toBe(path.join(root, 'cat/broken.jpg'));
    const unverified = await loadImageFolder({ root, verify: false, testFraction: 0 });
    const index = unverified.train.paths.indexOf(path.join('cat', 'broken.jpg'));
    expect(index).toBeGreaterThanOrEqual(0);
    const { evalTransform } = imageFolderTransforms({ augmentation: 'auto', inputSize: null });
    await expect(unverified.train.readImageInto(index, evalTransform, new SeededRandom(0), new Float32Array(32 * 32 * 3), 0)).rejects.toThrow(
      `${path.join(root, 'cat/broken.jpg')} (${root} images[${index}]): cannot decode image`,
    );
    // A truncated JPEG passes the header check (checkImageFolder's full decode finds it) and fails when read.
    const truncated = fresh('truncated');
    await writeClass(path.join(truncated, 'cat'), 2, { salt: 91 });
    const jpeg = await textureJpeg(64, 64, 1);
    writeFileSync(path.join(truncated, 'cat/cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    const loaded = await loadImageFolder({ root: truncated, testFraction: 0 });
    await expect(loaded.train.readImageInto(loaded.train.paths.indexOf(path.join('cat', 'cut.jpg')), evalTransform, new SeededRandom(0), new Float32Array(32 * 32 * 3), 0)).rejects.toThrow(
      /cut\.jpg .*(premature end of JPEG|truncated or damaged)/,
    );
  });

  it('symbolic links: followed inside the root, refused (naming the link) when they lead outside or nowhere', async () => {
    const outside = fresh('outside');
    await writeImage(path.join(outside, 'far.png'), { width: 8, height: 8, colour: [9, 9, 9] });
    const root = fresh('links');
    await writeClass(path.join(root, 'cat'), 2, { salt: 95 });
    await writeImage(path.join(root, 'store/dog-1.png'), { width: 8, height: 8, colour: [7, 7, 7] });
    mkdirSync(path.join(root, 'dog'));
    symlinkSync(path.join(root, 'store/dog-1.png'), path.join(root, 'dog/linked.png'));
    symlinkSync(path.join(root, 'cat'), path.join(root, 'cat-again')); // a class folder that is a link inside the root
    const folder = await loadImageFolder({ root, testFraction: 0 });
    expect(folder.classNames).toEqual(['cat', 'cat-again', 'dog', 'store']);
    expect(folder.train.paths).toContain(path.join('dog', 'linked.png'));
    expect(countsOf(folder.train)).toEqual([2, 2, 1, 1]);
    symlinkSync(path.join(outside, 'far.png'), path.join(root, 'dog/far.png'));
    symlinkSync(path.join(root, 'missing.png'), path.join(root, 'dog/dangling.png'));
    await expect(loadImageFolder({ root })).rejects.toThrow(
      `image folder ${root} cannot be loaded:\n` +
        `  ${path.join(root, 'dog/dangling.png')} is a symbolic link that does not resolve to a file inside the data root ${root}\n` +
        `  ${path.join(root, 'dog/far.png')} is a symbolic link that does not resolve to a file inside the data root ${root}`,
    );
  });

  it('a copy (the same bytes) is just another image to the loader', async () => {
    const root = fresh('copy');
    const [first] = await writeClass(path.join(root, 'train/cat'), 2, { salt: 97 });
    mkdirSync(path.join(root, 'test/cat'), { recursive: true });
    copyFileSync(path.join(root, 'train/cat', first), path.join(root, 'test/cat/copy.png'));
    const folder = await loadImageFolder({ root });
    expect([folder.train.length, folder.test.length]).toEqual([2, 1]);
  });
});
