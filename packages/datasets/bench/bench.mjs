// Throughput of the data pipeline: decoded + augmented images per second. Uses the built package (run `npx tsup` first;
// `npm run bench` at the root builds through turbo). Prints one JSON object per line.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { SeededRandom } from '@longtail/samplers';
import {
  InMemoryImageDataset,
  batches,
  cifarTrainTransform,
  imagenetEvalTransform,
  imagenetTrainTransform,
  loadSplitFileDataset,
} from '../dist/index.js';

const quick = process.argv.includes('--quick');
const machine = { cpus: availableParallelism(), cpuModel: cpus()[0]?.model, node: process.version, sharpThreads: sharp.concurrency() };

async function measure(name, source, options, extra = {}) {
  // Warm-up pass over up to 64 images (sharp/libvips start-up, JIT, file cache), then the timed epoch.
  for await (const _ of batches(source, { ...options, order: options.order.slice(0, 64) }));
  const start = process.hrtime.bigint();
  let images = 0;
  for await (const batch of batches(source, options)) images += batch.shape[0];
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ benchmark: name, images, seconds: +seconds.toFixed(3), imagesPerSecond: +(images / seconds).toFixed(1), batchSize: options.batchSize, concurrency: options.concurrency, ...extra, ...machine }));
}

const temp = mkdtempSync(path.join(tmpdir(), 'longtail-bench-'));
try {
  // 224 pipeline: JPEGs of ImageNet's typical size (500×375, quality 90) in the split-file layout.
  const distinct = quick ? 16 : 64;
  const lines = [];
  const random = new SeededRandom(0);
  for (let k = 0; k < distinct; k++) {
    const width = 500;
    const height = 375;
    const raw = Buffer.alloc(width * height * 3);
    // Smooth gradients plus noise, so that the JPEGs have realistic entropy.
    for (let i = 0; i < width * height; i++) {
      const x = i % width;
      const y = (i / width) | 0;
      raw[3 * i] = (x + k * 9 + random.nextInt(32)) & 255;
      raw[3 * i + 1] = (y + k * 5 + random.nextInt(32)) & 255;
      raw[3 * i + 2] = ((x ^ y) + random.nextInt(32)) & 255;
    }
    const relative = `train/c${k % 8}/img_${k}.jpg`;
    mkdirSync(path.join(temp, path.dirname(relative)), { recursive: true });
    await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(temp, relative));
    lines.push(`${relative} ${k % 8}`);
  }
  writeFileSync(path.join(temp, 'train.txt'), lines.join('\n'));
  const files = await loadSplitFileDataset({ splitFile: path.join(temp, 'train.txt'), root: temp, numClasses: 8 });
  const epochImages = quick ? 64 : 512;
  const order = Int32Array.from({ length: epochImages }, (_, i) => i % distinct);
  const concurrency = Math.max(4, availableParallelism()); // the batcher's default
  // Throughput ramps up over the first few hundred decodes (V8 and heap sizing, libvips threads): warm up on one epoch.
  for await (const _ of batches(files, { order, batchSize: 32, transform: imagenetTrainTransform(), seed: 0, concurrency }));
  await measure('imagenet-train-224 (random resized crop + flip, 500×375 JPEG)', files, { order, batchSize: 32, transform: imagenetTrainTransform(), seed: 1, concurrency });
  await measure('imagenet-train-224, 2 decodes in flight', files, { order, batchSize: 32, transform: imagenetTrainTransform(), seed: 1, concurrency: 2 });
  await measure('imagenet-train-224, one decode at a time', files, { order, batchSize: 32, transform: imagenetTrainTransform(), seed: 1, concurrency: 1, prefetchBatches: 1 });
  await measure('imagenet-train-224 + colour jitter 0.4', files, { order, batchSize: 32, transform: imagenetTrainTransform({ colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4 } }), seed: 1, concurrency });
  await measure('imagenet-eval-224 (resize 256 + centre crop)', files, { order, batchSize: 32, transform: imagenetEvalTransform(), seed: 1, concurrency });

  // Look-ahead: a consumer that "trains" 250 ms per batch of 32 should, after the first batch, not wait for data
  // whenever decoding a batch takes less than that.
  {
    const stepMilliseconds = 250;
    let waited = 0;
    let batchesSeen = 0;
    let last = process.hrtime.bigint();
    for await (const batch of batches(files, { order: order.slice(0, quick ? 64 : 320), batchSize: 32, transform: imagenetTrainTransform(), seed: 3, concurrency })) {
      const now = process.hrtime.bigint();
      if (batch.batchIndex > 0) waited += Number(now - last) / 1e6;
      batchesSeen++;
      await new Promise((resolve) => setTimeout(resolve, stepMilliseconds));
      last = process.hrtime.bigint();
    }
    console.log(JSON.stringify({ benchmark: 'imagenet-train-224 look-ahead: consumer wait per batch after the first', stepMilliseconds, batches: batchesSeen, meanWaitMilliseconds: +(waited / Math.max(1, batchesSeen - 1)).toFixed(1), batchSize: 32, concurrency, ...machine }));
  }

  // CIFAR batches: 50,000 in-memory 32×32 images, crop + flip + normalise, batch 128.
  const count = quick ? 5000 : 50000;
  const images = new Uint8Array(count * 3072);
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24;
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  const cifar = new InMemoryImageDataset({ images, labels, height: 32, width: 32, channels: 3, numClasses: 10 });
  await measure('cifar-train-32 (crop 32 pad 4 + flip + normalise)', cifar, { order: new SeededRandom(2).permutation(count), batchSize: 128, transform: cifarTrainTransform(), seed: 1 });
} finally {
  rmSync(temp, { recursive: true, force: true });
}
