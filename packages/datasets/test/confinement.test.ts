import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { SeededRandom } from '@longtail/samplers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, FileImageDataset, imagenetEvalTransform, loadINaturalist2018, loadSplitFileDataset, readSplitFile } from '../src/index.js';
import { temporaryDirectory } from './helpers.js';

// Split-file paths must stay inside the data root: lexically when the line is parsed, and by realpath (after symbolic
// links) when the image is opened. No error may tell whether a file outside the root exists.

const transform = imagenetEvalTransform({ resize: 16, size: 8 });
const temp = temporaryDirectory('longtail-confinement-');
const root = path.join(temp.directory, 'root');
const outside = path.join(temp.directory, 'outside');

beforeAll(async () => {
  mkdirSync(path.join(root, 'train'), { recursive: true });
  mkdirSync(outside);
  const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 40, b: 90 } } }).jpeg().toBuffer();
  writeFileSync(path.join(root, 'train', 'a.jpg'), jpeg);
  writeFileSync(path.join(temp.directory, 'outside.jpg'), jpeg); // beside the root: what "../outside.jpg" names
  writeFileSync(path.join(outside, 'secret.jpg'), jpeg);
  symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'link-existing.jpg')); // inside → outside, exists
  symlinkSync(path.join(outside, 'no-such.jpg'), path.join(root, 'link-missing.jpg')); // inside → outside, does not exist
  symlinkSync(outside, path.join(root, 'outdir')); // a directory link leading outside
  symlinkSync('train/a.jpg', path.join(root, 'alias.jpg')); // inside → inside: allowed
  symlinkSync('train', path.join(root, 'aliasdir')); // inside → inside directory: allowed
  symlinkSync(root, path.join(temp.directory, 'root-link')); // the data root itself a symbolic link: allowed
});
afterAll(() => temp.remove());

function writeSplit(name: string, badLine: string): string {
  const file = path.join(temp.directory, name);
  writeFileSync(file, ['train/a.jpg 0', badLine, 'train/a.jpg 1'].join('\n'));
  return file;
}

async function parseError(name: string, badLine: string): Promise<{ error: DatasetError; file: string }> {
  const file = writeSplit(name, badLine);
  const error = await loadSplitFileDataset({ splitFile: file, root }).then(
    async (dataset) => {
      // Today's code accepts the line; reading it is where the escape would happen.
      for (let i = 0; i < dataset.length; i++) await dataset.readImageInto(i, transform, new SeededRandom(0), new Float32Array(8 * 8 * 3), 0);
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error, `${badLine} was accepted and read`).toBeInstanceOf(DatasetError);
  return { error: error as DatasetError, file };
}

async function readError(name: string, badLine: string): Promise<{ error: DatasetError; file: string }> {
  const file = writeSplit(name, badLine);
  const dataset = await loadSplitFileDataset({ splitFile: file, root });
  const error = await dataset.readImageInto(1, transform, new SeededRandom(0), new Float32Array(8 * 8 * 3), 0).then(() => undefined, (e: unknown) => e);
  expect(error, `${badLine} was read`).toBeInstanceOf(DatasetError);
  return { error: error as DatasetError, file };
}

/** The message with the split file and the path as written replaced, to compare wordings. */
function wording(error: Error, file: string, written: string): string {
  return error.message.split(file).join('<split>').split(path.resolve(root, written)).join('<path>').split(JSON.stringify(written)).join('<path>');
}

describe('split-file paths are confined to the data root', () => {
  it('rejects "../", absolute and climbing paths when the line is parsed, naming the line, whether or not the target exists', async () => {
    const cases: [string, string][] = [
      ['../outside.jpg', '../no-such-outside.jpg'],
      ['/etc/passwd', '/etc/no-such-file-longtail'],
      ['a/../../outside.jpg', 'a/../../no-such-outside.jpg'],
      ['../../../../../../../../etc/passwd', '../../../../../../../../etc/no-such-file-longtail'],
    ];
    for (const [existing, missing] of cases) {
      const first = await parseError('existing.txt', `${existing} 0`);
      const second = await parseError('missing.txt', `${missing} 0`);
      for (const [{ error, file }, written] of [[first, existing], [second, missing]] as const) {
        expect(error.line).toBe(2);
        expect(error.file).toBe(file);
        expect(error.message).toContain(`${file} line 2: image path ${JSON.stringify(written)}`);
        expect(error.cause).toBeUndefined();
      }
      expect(wording(first.error, first.file, existing)).toBe(wording(second.error, second.file, missing));
    }
    // readSplitFile itself rejects them too, and a NUL byte (shown escaped).
    await expect(readSplitFile(writeSplit('absolute.txt', '/etc/passwd 0'))).rejects.toThrow(/line 2: image path "\/etc\/passwd" is absolute/);
    await expect(readSplitFile(writeSplit('nul.txt', 'train/a.jpg\0.png 0'))).rejects.toThrow(/line 2: image path "train\/a\.jpg\\u0000\.png" contains a NUL byte/);
  });

  it('rejects, when opened, a symbolic link inside the root that leads outside: same wording for existing and missing targets', async () => {
    for (const [existing, missing] of [['link-existing.jpg', 'link-missing.jpg'], ['outdir/secret.jpg', 'outdir/no-such.jpg']]) {
      const first = await readError('link-existing.txt', `${existing} 0`);
      const second = await readError('link-missing.txt', `${missing} 0`);
      for (const { error, file } of [first, second]) {
        expect(error.line).toBe(2);
        expect(error.file).toBe(file);
        expect(error.message).toContain(`(${file} line 2)`);
        expect(error.message).toContain('not found inside the data root');
        expect(error.message).not.toContain(outside); // nothing about where the link leads
        expect(error.cause).toBeUndefined();
      }
      expect(wording(first.error, first.file, existing)).toBe(wording(second.error, second.file, missing));
    }
    // A plain missing file inside the root reads the same way.
    const plain = await readError('plain-missing.txt', 'train/no-such.jpg 0');
    expect(wording(plain.error, plain.file, 'train/no-such.jpg')).toBe(wording((await readError('x.txt', 'link-missing.jpg 0')).error, path.join(temp.directory, 'x.txt'), 'link-missing.jpg'));
  });

  it('keeps symbolic links that stay inside the root, "a/../b" paths, and a data root that is itself a link', async () => {
    const file = path.join(temp.directory, 'valid.txt');
    writeFileSync(file, ['train/a.jpg 0', 'alias.jpg 1', 'aliasdir/a.jpg 0', 'train/../train/./a.jpg 1'].join('\n'));
    for (const dataRoot of [root, path.join(temp.directory, 'root-link')]) {
      const dataset = await loadSplitFileDataset({ splitFile: file, root: dataRoot });
      const images = await Promise.all(Array.from({ length: dataset.length }, async (_, i) => {
        const target = new Float32Array(8 * 8 * 3);
        await dataset.readImageInto(i, transform, new SeededRandom(0), target, 0);
        return target;
      }));
      for (const image of images) expect(image).toEqual(images[0]);
      // Subsets share the confinement.
      await expect(dataset.select([1]).readImageInto(0, transform, new SeededRandom(0), new Float32Array(8 * 8 * 3), 0)).resolves.toBeUndefined();
    }
  });

  it('iNaturalist file_name entries and hand-made FileImageDatasets are checked too', async () => {
    const annotationFile = path.join(temp.directory, 'train2018.json');
    writeFileSync(annotationFile, JSON.stringify({
      images: [{ id: 1, file_name: 'train/a.jpg' }, { id: 2, file_name: '../outside.jpg' }],
      annotations: [{ image_id: 1, category_id: 0 }, { image_id: 2, category_id: 0 }],
      categories: [{ id: 0, name: 'only' }],
    }));
    await expect(loadINaturalist2018({ annotationFile, root })).rejects.toThrow(/train2018\.json images\[1\]: file_name "\.\.\/outside\.jpg" leaves the data root/);
    const make = (paths: string[]) => new FileImageDataset({ root, paths, labels: new Int32Array(paths.length), numClasses: 1, sourceFile: 'list.txt', sourceLines: Int32Array.from(paths, (_, i) => i + 1) });
    expect(() => make(['train/a.jpg', path.join(temp.directory, 'outside.jpg')])).toThrow(/list\.txt line 2: image path ".*outside\.jpg" is absolute/);
    const linked = make(['link-existing.jpg']);
    await expect(linked.readImageInto(0, transform, new SeededRandom(0), new Float32Array(8 * 8 * 3), 0)).rejects.toThrow(/link-existing\.jpg \(list\.txt line 1\): file not found inside the data root/);
  });
});
