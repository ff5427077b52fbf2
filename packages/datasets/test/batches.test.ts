import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { SeededRandom, createSampler } from '@longtail/samplers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatasetError,
  InMemoryImageDataset,
  applyCifarTransform,
  batchCount,
  batches,
  cifarTrainTransform,
  fashionMnistTransform,
  imageRandom,
  imagenetEvalTransform,
  imagenetTrainTransform,
  loadINaturalist2018,
  loadSplitFileDataset,
  readSplitFile,
  type Batch,
  type ImageSource,
} from '../src/index.js';
import { temporaryDirectory } from './helpers.js';

function smallDataset(count: number, numClasses = 5): InMemoryImageDataset {
  const random = new SeededRandom(11);
  const images = Uint8Array.from({ length: count * 32 * 32 * 3 }, () => random.nextInt(256));
  const labels = Int32Array.from({ length: count }, (_, i) => (i * 3) % numClasses);
  return new InMemoryImageDataset({ images, labels, height: 32, width: 32, channels: 3, numClasses, name: 'test set' });
}

async function collect(iterator: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of iterator) out.push(batch);
  return out;
}

describe('batches over an in-memory set', () => {
  const dataset = smallDataset(50);
  const order = new SeededRandom(4).permutation(50);
  const transform = cifarTrainTransform();

  it('follows the order, with labels, indices and each image transformed with imageRandom(seed, epoch, position)', async () => {
    const result = await collect(batches(dataset, { order, batchSize: 16, transform, seed: 3, epoch: 2 }));
    expect(result.map((b) => b.shape[0])).toEqual([16, 16, 16, 2]);
    expect(result.length).toBe(batchCount(50, 16));
    expect(result[3].shape).toEqual([2, 32, 32, 3]);
    expect(Array.from(result.flatMap((b) => Array.from(b.indices)))).toEqual(Array.from(order));
    for (const batch of result) {
      expect(Array.from(batch.labels)).toEqual(Array.from(batch.indices, (i) => dataset.labels[i]));
      for (let k = 0; k < batch.shape[0]; k++) {
        const expected = new Float32Array(3072);
        applyCifarTransform(dataset.images, batch.indices[k] * 3072, 32, 32, 3, transform, imageRandom(3, 2, batch.position + k), expected, 0);
        expect(batch.images.subarray(k * 3072, (k + 1) * 3072)).toEqual(expected);
      }
    }
  });

  it('same seed → same batches; another seed or epoch → other augmentations; dropLast drops the short batch', async () => {
    const a = await collect(batches(dataset, { order, batchSize: 16, transform, seed: 3 }));
    const b = await collect(batches(dataset, { order, batchSize: 16, transform, seed: 3 }));
    const c = await collect(batches(dataset, { order, batchSize: 16, transform, seed: 4 }));
    const d = await collect(batches(dataset, { order, batchSize: 16, transform, seed: 3, epoch: 1 }));
    expect(a.map((x) => x.images)).toEqual(b.map((x) => x.images));
    expect(a[0].images).not.toEqual(c[0].images);
    expect(a[0].images).not.toEqual(d[0].images);
    expect((await collect(batches(dataset, { order, batchSize: 16, transform, seed: 3, dropLast: true }))).length).toBe(3);
  });

  it('with a seeded sampler: the same seeds give the same order and the same batches', async () => {
    const run = async (samplerSeed: number) => {
      const sampler = createSampler('balanced', dataset.labels, { seed: samplerSeed });
      return collect(batches(dataset, { order: sampler.sample(), batchSize: 16, transform, seed: 5 }));
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(a.map((x) => Array.from(x.indices))).toEqual(b.map((x) => Array.from(x.indices)));
    expect(a.map((x) => x.images)).toEqual(b.map((x) => x.images));
    expect(a.map((x) => Array.from(x.indices))).not.toEqual(c.map((x) => Array.from(x.indices)));
  });

  it('stops on break and resumes at a batch position with identical batches', async () => {
    const full = await collect(batches(dataset, { order, batchSize: 8, transform, seed: 9 }));
    const firstPart: Batch[] = [];
    for await (const batch of batches(dataset, { order, batchSize: 8, transform, seed: 9 })) {
      firstPart.push(batch);
      if (batch.batchIndex === 2) break;
    }
    expect(firstPart.length).toBe(3);
    const resumed = await collect(batches(dataset, { order, batchSize: 8, transform, seed: 9, startBatch: firstPart.at(-1)!.batchIndex + 1 }));
    expect([...firstPart, ...resumed].map((b) => [b.batchIndex, b.position, Array.from(b.indices)])).toEqual(full.map((b) => [b.batchIndex, b.position, Array.from(b.indices)]));
    expect([...firstPart, ...resumed].map((b) => b.images)).toEqual(full.map((b) => b.images));
  });

  it('grey 28×28 input gives 32×32×3 batches with the Fashion-MNIST recipe', async () => {
    const grey = new InMemoryImageDataset({ images: new Uint8Array(4 * 784).fill(255), labels: Int32Array.from([0, 1, 2, 3]), height: 28, width: 28, channels: 1, numClasses: 10 });
    const [batch] = await collect(batches(grey, { batchSize: 4, transform: fashionMnistTransform({ train: false }), seed: 0 }));
    expect(batch.shape).toEqual([4, 32, 32, 3]);
    expect(batch.images[(5 * 32 + 5) * 3 + 2]).toBeCloseTo((1 - 0.286) / 0.353, 5);
  });

  it('validates by name and stops on an abort signal', async () => {
    await expect(collect(batches(dataset, { batchSize: 0, transform, seed: 0 }))).rejects.toThrow(/batchSize/);
    await expect(collect(batches(dataset, { order: [0, 50], batchSize: 2, transform, seed: 0 }))).rejects.toThrow(/order\[1\] = 50/);
    await expect(collect(batches(dataset, { batchSize: 2, transform, seed: 0.5 }))).rejects.toThrow(/seed/);
    await expect(collect(batches(dataset, { batchSize: 2, transform: imagenetEvalTransform(), seed: 0 }))).rejects.toThrow(/in-memory sets take cifarTrainTransform/);
    const controller = new AbortController();
    const seen: number[] = [];
    const run = (async () => {
      for await (const batch of batches(dataset, { batchSize: 5, transform, seed: 0, signal: controller.signal })) {
        seen.push(batch.batchIndex);
        if (batch.batchIndex === 1) controller.abort(new Error('stop requested'));
      }
    })();
    await expect(run).rejects.toThrow(/stop requested/);
    expect(seen).toEqual([0, 1]);
  });
});

describe('look-ahead decoding', () => {
  it('prepares the next batches while the consumer works, never more than `concurrency` reads at once', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const started: number[] = [];
    const source: ImageSource = {
      length: 40,
      labels: new Int32Array(40),
      numClasses: 1,
      describe: (i) => `item ${i}`,
      async readImageInto(index, _transform, _random, target, offset) {
        started.push(index);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        target.fill(index, offset, offset + 32 * 32 * 3);
        inFlight--;
      },
    };
    const startedWhenYielded: number[] = [];
    for await (const batch of batches(source, { batchSize: 8, transform: cifarTrainTransform(), seed: 0, concurrency: 3, prefetchBatches: 2 })) {
      startedWhenYielded.push(started.length);
      expect(batch.images[0]).toBe(batch.indices[0]);
      expect(batch.images[batch.images.length - 1]).toBe(batch.indices[batch.shape[0] - 1]);
      await new Promise((resolve) => setTimeout(resolve, 60)); // the "training step"
    }
    expect(maxInFlight).toBe(3);
    // When batch 0 is handed over, batch 1 is already being read; later the reads run a batch or more ahead.
    expect(startedWhenYielded[0]).toBeGreaterThan(8);
    expect(startedWhenYielded[2]).toBeGreaterThanOrEqual(32);
  });

  it('break waits for in-flight reads and starts no new ones', async () => {
    let started = 0;
    let finished = 0;
    const source: ImageSource = {
      length: 100,
      labels: new Int32Array(100),
      numClasses: 1,
      describe: (i) => `item ${i}`,
      async readImageInto() {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        finished++;
      },
    };
    for await (const batch of batches(source, { batchSize: 10, transform: cifarTrainTransform(), seed: 0, concurrency: 4 })) {
      if (batch.batchIndex === 0) break;
    }
    expect(finished).toBe(started);
    const afterBreak = started;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(started).toBe(afterBreak);
    expect(started).toBeLessThan(100);
  });
});

describe('file-backed sets: JPEGs in the split-file layout', () => {
  const temp = temporaryDirectory();
  const root = path.join(temp.directory, 'images');
  const lines: string[] = [];

  beforeAll(async () => {
    // 3 classes × 4 images of different sizes, one folder per class, as ImageNet-LT / Places-LT lay them out.
    for (let label = 0; label < 3; label++) {
      mkdirSync(path.join(root, 'train', `class_${label}`), { recursive: true });
      for (let k = 0; k < 4; k++) {
        const width = 80 + 17 * k;
        const height = 60 + 23 * label;
        const raw = Buffer.alloc(width * height * 3);
        for (let i = 0; i < width * height; i++) {
          raw[3 * i] = (i + 40 * label) % 256;
          raw[3 * i + 1] = (k * 60) % 256;
          raw[3 * i + 2] = (i >> 4) % 256;
        }
        const relative = `train/class_${label}/image ${k}.jpg`; // a space in the name, as some data sets have
        await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(root, relative));
        lines.push(`${relative} ${label}`);
      }
    }
    writeFileSync(path.join(temp.directory, 'train.txt'), lines.join('\n') + '\n');
  });
  afterAll(() => temp.remove());

  it('reads the split file and decodes + augments in parallel, deterministically and independent of concurrency', async () => {
    const dataset = await loadSplitFileDataset({ splitFile: path.join(temp.directory, 'train.txt'), root, numClasses: 3 });
    expect(dataset.length).toBe(12);
    expect(dataset.paths[5]).toBe('train/class_1/image 1.jpg');
    const order = new SeededRandom(2).permutation(12);
    const transform = imagenetTrainTransform({ size: 48, colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4 } });
    const parallel = await collect(batches(dataset, { order, batchSize: 5, transform, seed: 1, concurrency: 4 }));
    const serial = await collect(batches(dataset, { order, batchSize: 5, transform, seed: 1, concurrency: 1, prefetchBatches: 1 }));
    expect(parallel.map((b) => b.shape)).toEqual([[5, 48, 48, 3], [5, 48, 48, 3], [2, 48, 48, 3]]);
    expect(parallel.map((b) => b.images)).toEqual(serial.map((b) => b.images));
    expect(Array.from(parallel[0].labels)).toEqual(Array.from(parallel[0].indices, (i) => Math.floor(i / 4)));
    const otherSeed = await collect(batches(dataset, { order, batchSize: 5, transform, seed: 2 }));
    expect(otherSeed[0].images).not.toEqual(parallel[0].images);
    // Resume at batch 1 gives the same batches as the uninterrupted run.
    const resumed = await collect(batches(dataset, { order, batchSize: 5, transform, seed: 1, startBatch: 1 }));
    expect(resumed.map((b) => b.images)).toEqual(parallel.slice(1).map((b) => b.images));
    // Evaluation transform: deterministic without any random draw.
    const evaluation = await collect(batches(dataset, { batchSize: 12, transform: imagenetEvalTransform({ resize: 56, size: 48 }), seed: 0 }));
    expect(evaluation[0].images.every(Number.isFinite)).toBe(true);
  });

  async function expectBatchError(lines: string[], message: RegExp, line: number) {
    const splitFile = path.join(temp.directory, `broken-${line}-${lines.length}.txt`);
    writeFileSync(splitFile, lines.join('\n'));
    const dataset = await loadSplitFileDataset({ splitFile, root, numClasses: 3 });
    const error = await collect(batches(dataset, { batchSize: 4, transform: imagenetEvalTransform({ resize: 56, size: 48 }), seed: 0, concurrency: 3 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(`${splitFile} line ${line}`);
    expect((error as DatasetError).line).toBe(line);
  }

  it('a missing file is an error naming the file and the split-file line (not a skip, not a hang)', async () => {
    const broken = [...lines];
    broken[6] = 'train/class_1/does-not-exist.jpg 1';
    await expectBatchError(broken, /does-not-exist\.jpg .*file not found/, 7);
  });

  it('a corrupt file is an error naming the file and the line', async () => {
    writeFileSync(path.join(root, 'train', 'corrupt.jpg'), Buffer.from('this is not a JPEG file'));
    const broken = [...lines];
    broken[9] = 'train/corrupt.jpg 2';
    await expectBatchError(broken, /corrupt\.jpg .*cannot decode image/, 10);
  });

  it('a truncated JPEG is an error, not a partially grey image', async () => {
    const whole = await sharp(path.join(root, 'train/class_0/image 0.jpg')).toBuffer();
    const original = await import('node:fs').then((fs) => fs.readFileSync(path.join(root, 'train/class_0/image 0.jpg')));
    expect(whole.length).toBeGreaterThan(0);
    writeFileSync(path.join(root, 'train', 'truncated.jpg'), original.subarray(0, original.length >> 1));
    const broken = [...lines];
    broken[0] = 'train/truncated.jpg 0';
    // libvips reports either its warning text or only the generic failOn message.
    await expectBatchError(broken, /truncated\.jpg .*cannot decode image: .*(premature end|truncated or damaged)/i, 1);
  });

  it('a label out of range and a malformed line are errors naming the file and line', async () => {
    const outOfRange = path.join(temp.directory, 'out-of-range.txt');
    writeFileSync(outOfRange, [...lines.slice(0, 3), 'train/class_0/image 0.jpg 3', ...lines.slice(3)].join('\n'));
    await expect(loadSplitFileDataset({ splitFile: outOfRange, root, numClasses: 3 })).rejects.toThrow(new RegExp(`${outOfRange} line 4: label 3 is out of range \\[0, 3\\)`));
    const malformed = path.join(temp.directory, 'malformed.txt');
    writeFileSync(malformed, [...lines.slice(0, 2), 'train/class_0/image-without-label.jpg', ...lines.slice(2)].join('\n'));
    const error = await readSplitFile(malformed).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toContain(`${malformed} line 3: expected "relative/path label", got "train/class_0/image-without-label.jpg"`);
    writeFileSync(malformed, ['a.jpg 1', 'b.jpg -1'].join('\n'));
    await expect(readSplitFile(malformed)).rejects.toThrow(/line 2: label "-1" is not a non-negative integer/);
    writeFileSync(malformed, ['a.jpg 1', '', 'b.jpg one'].join('\r\n'));
    await expect(readSplitFile(malformed)).rejects.toThrow(/line 3: label "one" is not a non-negative integer/);
    await expect(readSplitFile(path.join(temp.directory, 'nope.txt'))).rejects.toThrow(/cannot read split file .*nope\.txt/);
    await expect(loadSplitFileDataset({ splitFile: path.join(temp.directory, 'train.txt'), root: path.join(temp.directory, 'no-such-root') })).rejects.toThrow(/image root .*no-such-root \(for .*train\.txt\) is not a directory/);
    writeFileSync(malformed, '\uFEFFa b.jpg 1\n');
    expect((await readSplitFile(malformed)).paths).toEqual(['a b.jpg']);
  });

  it('iNaturalist 2018 JSON annotations: labels by image_id, class names, errors name the images[] entry', async () => {
    const annotationFile = path.join(temp.directory, 'train2018.json');
    const json = {
      images: lines.map((line, i) => ({ id: 1000 + i, file_name: line.slice(0, line.lastIndexOf(' ')), width: 1, height: 1 })),
      annotations: lines.map((line, i) => ({ id: i, image_id: 1000 + i, category_id: Number(line.slice(line.lastIndexOf(' ') + 1)) })).reverse(),
      categories: [{ id: 2, name: 'Plantae c' }, { id: 0, name: 'Aves a' }, { id: 1, name: 'Fungi b' }],
    };
    writeFileSync(annotationFile, JSON.stringify(json));
    const dataset = await loadINaturalist2018({ annotationFile, root });
    expect(dataset.numClasses).toBe(3);
    expect(dataset.classNames).toEqual(['Aves a', 'Fungi b', 'Plantae c']);
    expect(Array.from(dataset.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    const [batch] = await collect(batches(dataset, { batchSize: 12, transform: imagenetTrainTransform({ size: 32 }), seed: 0 }));
    expect(batch.shape).toEqual([12, 32, 32, 3]);
    json.images[4].file_name = 'train/missing.jpg';
    writeFileSync(annotationFile, JSON.stringify(json));
    const withMissing = await loadINaturalist2018({ annotationFile, root });
    await expect(collect(batches(withMissing, { batchSize: 12, transform: imagenetTrainTransform({ size: 32 }), seed: 0 }))).rejects.toThrow(/missing\.jpg \(.*train2018\.json images\[4\]\): file not found/);
    json.annotations = json.annotations.filter((a) => a.image_id !== 1003);
    writeFileSync(annotationFile, JSON.stringify(json));
    await expect(loadINaturalist2018({ annotationFile, root })).rejects.toThrow(/train2018\.json images\[3\] \(.*image 3\.jpg\): no annotation with image_id 1003/);
  });
});
