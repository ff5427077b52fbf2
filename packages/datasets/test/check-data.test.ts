/**
 * checkImageFolder / formatDataCheck on generated folders: counts per split (held-out ones predicted), the imbalance
 * ratio and shot groups, duplicates by content, unreadable (corrupt, truncated) and tiny images, empty classes,
 * ignored files, the loader's refusals as report errors, the warnings and the printed text.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImageFolder, formatDataCheck, heldOutCount, loadImageFolder, type DataCheckReport } from '../src/index.js';
import { temporaryDirectory } from './helpers.js';
import { textureJpeg, writeClass, writeCorrupt, writeImage } from './image-folder-fixtures.js';

const scratch = temporaryDirectory('longtail-check-data-');
afterAll(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => {
  const directory = path.join(scratch.directory, `${counter++}-${name}`);
  mkdirSync(directory, { recursive: true });
  return directory;
};
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('checkImageFolder: a folder with every kind of problem', () => {
  let root: string;
  let report: DataCheckReport;
  beforeAll(async () => {
    root = fresh('problems');
    await writeClass(path.join(root, 'train/ant'), 5, { salt: 1, sizes: [[12, 10], [30, 9]] });
    writeCorrupt(path.join(root, 'train/ant/broken.jpg'));
    const jpeg = await textureJpeg(64, 64, 3);
    writeFileSync(path.join(root, 'train/ant/cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    await writeImage(path.join(root, 'train/bee/tiny.png'), { width: 4, height: 6, colour: [10, 20, 30] });
    await writeClass(path.join(root, 'train/cat'), 3, { salt: 2, formats: ['jpeg', 'webp'] });
    copyFileSync(path.join(root, 'train/ant/img1.png'), path.join(root, 'train/cat/same-as-ant.png'));
    writeFileSync(path.join(root, 'train/cat/notes.txt'), 'x');
    writeFileSync(path.join(root, 'train/cat/.DS_Store'), 'x');
    mkdirSync(path.join(root, 'train/dog'));
    await writeClass(path.join(root, 'test/ant'), 2, { salt: 3 });
    copyFileSync(path.join(root, 'train/ant/img0.png'), path.join(root, 'test/ant/leak.png'));
    await writeClass(path.join(root, 'test/cat'), 1, { salt: 4 });
    await writeClass(path.join(root, 'test/dog'), 2, { salt: 5 });
    mkdirSync(path.join(root, 'test/bee'));
    report = await checkImageFolder(root, { manyAbove: 5, fewBelow: 2 });
  });

  it('counts per split, imbalance ratio max/min over classes with images, shot groups with the given thresholds', () => {
    expect(report.root).toBe(path.resolve(root));
    expect(report.layout).toBe('splits');
    expect(report.classNames).toEqual(['ant', 'bee', 'cat', 'dog']);
    expect(report.splits).toEqual([
      { name: 'train', source: 'folder', counts: [7, 1, 4, 0], total: 12 },
      { name: 'test', source: 'folder', counts: [3, 0, 1, 2], total: 6 },
    ]);
    expect(report.trainCounts).toEqual([7, 1, 4, 0]);
    expect(report.imbalanceRatio).toBe(7);
    expect(report.thresholds).toEqual({ manyAbove: 5, fewBelow: 2 });
    expect(report.groups).toEqual({ many: [0], medium: [2], few: [1, 3] });
    expect(report.images).toBe(18);
  });

  it('duplicates by sha256, across splits and across classes, with their paths', () => {
    expect(report.duplicates).toEqual([
      {
        sha256: sha256(path.join(root, 'train/ant/img0.png')),
        files: [
          { path: path.join('train', 'ant', 'img0.png'), part: 'train', className: 'ant' },
          { path: path.join('test', 'ant', 'leak.png'), part: 'test', className: 'ant' },
        ],
        acrossParts: true,
        acrossClasses: false,
      },
      {
        sha256: sha256(path.join(root, 'train/ant/img1.png')),
        files: [
          { path: path.join('train', 'ant', 'img1.png'), part: 'train', className: 'ant' },
          { path: path.join('train', 'cat', 'same-as-ant.png'), part: 'train', className: 'cat' },
        ],
        acrossParts: false,
        acrossClasses: true,
      },
    ]);
  });

  it('unreadable (random bytes; truncated, found by the full decode only), tiny, empty classes, ignored files', async () => {
    expect(report.unreadable.map(({ path: p, className }) => [p, className])).toEqual([
      [path.join('train', 'ant', 'broken.jpg'), 'ant'],
      [path.join('train', 'ant', 'cut.jpg'), 'ant'],
    ]);
    expect(report.unreadable[0].reason).toMatch(/unsupported image format/);
    // libvips sometimes loses its per-thread warning text and reports only the failOn message, with the hint added.
    expect(report.unreadable[1].reason).toMatch(/premature end of JPEG|failOn setting \(the file is truncated or damaged\)/);
    expect(report.tiny).toEqual([{ path: path.join('train', 'bee', 'tiny.png'), part: 'train', className: 'bee', width: 4, height: 6 }]);
    expect(report.minSide).toBe(8);
    expect(report.emptyClasses).toEqual([
      { part: 'train', className: 'dog', directory: path.join('train', 'dog') },
      { part: 'test', className: 'bee', directory: path.join('test', 'bee') },
    ]);
    expect(report.ignored).toEqual([path.join('train', 'cat', 'notes.txt')]);
    expect(report.errors).toEqual([]);
    const headers = await checkImageFolder(root, { decode: 'header', minSide: 5 });
    expect(headers.unreadable.map((item) => item.path)).toEqual([path.join('train', 'ant', 'broken.jpg')]);
    expect(headers.tiny.map((item) => [item.width, item.height])).toEqual([[4, 6]]);
    expect((await checkImageFolder(root, { minSide: 4 })).tiny).toEqual([]);
  });

  it('warnings: unreadable, tiny, leaks, contradictory labels, classes without training / with one / without test images, empty groups', () => {
    expect(report.warnings).toEqual([
      '2 image(s) cannot be decoded: training stops at the first of them; remove or replace them',
      '1 image(s) have a side shorter than 8 px: they are upscaled to the input size and carry little information',
      `1 image(s) appear in both test/ and train/ (identical bytes): evaluation measures memory, not generalisation; e.g. ${path.join('train', 'ant', 'img0.png')} = ${path.join('test', 'ant', 'leak.png')}`,
      `1 group(s) of identical images inside train/; e.g. ${path.join('train', 'ant', 'img1.png')} = ${path.join('train', 'cat', 'same-as-ant.png')}`,
      `1 group(s) of identical images under different classes (contradictory labels); e.g. ${path.join('train', 'ant', 'img1.png')} = ${path.join('train', 'cat', 'same-as-ant.png')}`,
      'class(es) without training images (they cannot be learnt): "dog"',
      'class(es) with a single training image: "bee"',
      'class(es) without test images (their test accuracy is not measured): "bee"',
      `empty class folder(s): "${path.join('train', 'dog')}", "${path.join('test', 'bee')}"`,
      `1 file(s) or folder(s) ignored (images must end in .jpg, .jpeg, .png, .webp; splits are train/, val/, test/): "${path.join('train', 'cat', 'notes.txt')}"`,
    ]);
    // Default thresholds (100 / 20): every class is few-shot, so many and medium are empty.
    return checkImageFolder(root).then((defaults) => {
      expect(defaults.groups).toEqual({ many: [], medium: [], few: [0, 1, 2, 3] });
      expect(defaults.warnings).toContain('the many-shot group is empty (no class has more than 100 training images)');
      expect(defaults.warnings).toContain('the medium-shot group is empty (no class has 20 to 100 training images)');
      expect(defaults.warnings.some((w) => w.startsWith('the few-shot group is empty'))).toBe(false);
    });
  });

  it('formatDataCheck: an aligned table of classes and counts, the summary, the lists, the warnings', () => {
    const text = formatDataCheck(report);
    const lines = text.split('\n');
    expect(lines.slice(0, 11)).toEqual([
      `image folder ${path.resolve(root)} (train/, test/): 4 classes, 18 images`,
      '  #  class  train  test',
      '  0  ant        7     3',
      '  1  bee        1     0',
      '  2  cat        4     1',
      '  3  dog        0     2',
      '     total     12     6',
      'imbalance ratio: 7.00 (max 7 / min 1 training images)',
      'shot groups (many > 5, medium 2–5, few < 2 training images): many 1, medium 1, few 2',
      'checked 18 images (full decode): 2 unreadable, 1 tiny (< 8 px), 2 duplicate group(s)',
      '',
    ]);
    expect(text).toContain(`unreadable images:\n  ${path.join('train', 'ant', 'broken.jpg')}: `);
    expect(text).toContain(`tiny images (a side < 8 px):\n  ${path.join('train', 'bee', 'tiny.png')}: 4×6\n`);
    expect(text).toContain(
      `identical images (sha256 of the bytes):\n  ${path.join('train', 'ant', 'img0.png')} = ${path.join('test', 'ant', 'leak.png')}\n  ${path.join('train', 'ant', 'img1.png')} = ${path.join('train', 'cat', 'same-as-ant.png')}\n`,
    );
    expect(text).toContain(`warnings:\n${report.warnings.map((w) => `  - ${w}`).join('\n')}\n`);
    expect(text).not.toContain('errors (the loader refuses the folder)');
    expect(text).not.toContain('no problems found');
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('checkImageFolder: predictions, refusals and a clean folder', () => {
  it('a flat folder: train / test as the loader will split them (held out, marked *)', async () => {
    const root = fresh('flat');
    await writeClass(path.join(root, 'big'), 11, { salt: 10 });
    await writeClass(path.join(root, 'one'), 1, { salt: 11 });
    await writeClass(path.join(root, 'two'), 2, { salt: 12 });
    const report = await checkImageFolder(root, { manyAbove: 5, fewBelow: 2 });
    const test = [11, 1, 2].map((n) => heldOutCount(n, 0.2));
    expect(test).toEqual([2, 0, 1]);
    expect(report.splits).toEqual([
      { name: 'train', source: 'folder', counts: [9, 1, 1], total: 11 },
      { name: 'test', source: 'held out', counts: [2, 0, 1], total: 3 },
    ]);
    // The loader makes exactly these counts.
    const folder = await loadImageFolder({ root });
    expect([folder.train.length, folder.test.length]).toEqual([11, 3]);
    expect(report.imbalanceRatio).toBe(9);
    expect(report.warnings).toEqual([
      'class(es) with a single training image: "one", "two"',
      'class(es) without test images (their test accuracy is not measured): "one"',
      'the medium-shot group is empty (no class has 2 to 5 training images)',
    ]);
    const withVal = await checkImageFolder(root, { testFraction: 0.5, valFraction: 0.5 });
    expect(withVal.splits.map((split) => [split.name, split.source, split.counts])).toEqual([
      ['train', 'folder', [2, 1, 1]], // 11 − 6 − 3 (Math.round(5.5) = 6, then round(2.5) = 3)
      ['val', 'held out', [heldOutCount(11 - heldOutCount(11, 0.5), 0.5), 0, 0]],
      ['test', 'held out', [heldOutCount(11, 0.5), 0, 1]],
    ]);
    const lines = formatDataCheck(report).split('\n');
    expect(lines.slice(1, 6)).toEqual(['  #  class  train  test*', '  0  big        9      2', '  1  one        1      0', '  2  two        1      1', '     total     11      3']);
    expect(lines[6]).toBe("  * held out of the training folder by the loader's seeded stratified split (counts exact for any seed)");
  });

  it("the loader's refusals are report errors (not thrown); a missing root throws", async () => {
    const root = fresh('refused');
    await writeClass(path.join(root, 'train/cat'), 2, { salt: 20 });
    await writeClass(path.join(root, 'test/zebra'), 1, { salt: 21 });
    mkdirSync(path.join(root, 'val/cat'), { recursive: true });
    const report = await checkImageFolder(root);
    expect(report.errors).toEqual([
      `${path.join(root, 'val')} has no images (.jpg, .jpeg, .png, .webp); remove the folder or add images`,
      `${path.join(root, 'test/zebra')} is a class folder that ${path.join(root, 'train')} lacks (every class needs a folder in train/)`,
    ]);
    expect(formatDataCheck(report)).toContain(`errors (the loader refuses the folder):\n  - ${report.errors[0]}\n  - ${report.errors[1]}\n`);
    await expect(checkImageFolder(path.join(root, 'absent'))).rejects.toThrow(`image folder ${path.join(root, 'absent')} does not exist`);
    await expect(checkImageFolder(root, { fewBelow: 200 })).rejects.toThrow('fewBelow must be a number in [0, manyAbove = 100], got 200');
    await expect(checkImageFolder(root, { concurrency: 0 })).rejects.toThrow('concurrency must be a positive integer, got 0');
  });

  it('a clean balanced folder with every group filled: no warnings, "no problems found"', async () => {
    const root = fresh('clean');
    await writeClass(path.join(root, 'train/a'), 6, { salt: 30 });
    await writeClass(path.join(root, 'train/b'), 3, { salt: 31 });
    await writeClass(path.join(root, 'train/c'), 1, { salt: 32 });
    await writeClass(path.join(root, 'test/a'), 1, { salt: 33 });
    await writeClass(path.join(root, 'test/b'), 1, { salt: 34 });
    await writeClass(path.join(root, 'test/c'), 1, { salt: 35 });
    // c has one training image: a warning; raise it to 2 for a clean report.
    await writeClass(path.join(root, 'train/c/more'), 1, { salt: 36 });
    const report = await checkImageFolder(root, { manyAbove: 4, fewBelow: 3, concurrency: 1 });
    expect(report.groups).toEqual({ many: [0], medium: [1], few: [2] });
    expect(report.warnings).toEqual([]);
    expect(report.duplicates).toEqual([]);
    expect(formatDataCheck(report).endsWith('\nno problems found\n')).toBe(true);
  });
});
