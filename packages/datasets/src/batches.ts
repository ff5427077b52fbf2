import { availableParallelism } from 'node:os';
import { SeededRandom } from '@longtail/samplers';
import type { ImageSource } from './dataset.js';
import { requireNonNegativeInteger, requirePositiveInteger } from './errors.js';
import { transformOutputShape, type ImageTransform } from './transforms.js';

/** One batch of transformed images. */
export interface Batch {
  /** `size × height × width × channels` float32, NHWC. */
  images: Float32Array;
  /** Class of each image. */
  labels: Int32Array;
  /** Data-set index of each image. */
  indices: Int32Array;
  /** `[size, height, width, channels]`. */
  shape: [number, number, number, number];
  /** Number of this batch in the epoch (0-based); pass `batchIndex + 1` as `startBatch` to resume after it. */
  batchIndex: number;
  /** Position of the batch's first image in the index order. */
  position: number;
}

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Data-set indices in visiting order (a sampler's output or a shuffle); default `0 … length − 1`. */
  order?: ArrayLike<number>;
  batchSize: number;
  transform: ImageTransform;
  /** Seed of the augmentation; each image's draws depend only on (seed, epoch, position in the order). */
  seed: number;
  /** Epoch number, mixed into the augmentation seed so that epochs differ; default 0. */
  epoch?: number;
  /** First batch to produce (resume); default 0. */
  startBatch?: number;
  /** Drop a final batch smaller than `batchSize`; default false. */
  dropLast?: boolean;
  /**
   * Images decoded at the same time (file-backed sets); default `max(4, os.availableParallelism())`. Decodes run on
   * libuv's thread pool (4 threads unless `UV_THREADPOOL_SIZE` says otherwise).
   */
  concurrency?: number;
  /** Batches prepared ahead of the consumer (file-backed sets); default 2. */
  prefetchBatches?: number;
  /** Stops the iterator (it then throws the signal's reason) — as an alternative to `break`. */
  signal?: AbortSignal;
}

function mix32(value: number): number {
  // murmur3 finaliser: consecutive inputs give unrelated outputs.
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The generator that draws the augmentation of the image at `position` of the order in `epoch`. The batcher uses
 * exactly this, so augmentations do not depend on decode completion order, concurrency or where a run was resumed.
 */
export function imageRandom(seed: number, epoch: number, position: number): SeededRandom {
  const seedHash = mix32((Math.trunc(seed) ^ Math.trunc(seed / 0x100000000)) >>> 0);
  const epochHash = mix32((seedHash + Math.imul(epoch, 0x9e3779b9)) >>> 0);
  return new SeededRandom(mix32((epochHash + position) >>> 0));
}

/** Number of batches an epoch of `length` images gives. */
export function batchCount(length: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(length / batchSize) : Math.ceil(length / batchSize);
}

class TaskPool {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  /** Counts a task that was started outside the pool (the probe that found the source asynchronous). */
  adopt<T>(started: Promise<T>): Promise<T> {
    this.running++;
    return started.finally(() => {
      this.running--;
      this.waiting.shift()?.();
    });
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Async iterator over batches of transformed images, in the given index order.
 *
 * For file-backed sets it keeps `prefetchBatches` batches in preparation, decoding up to `concurrency` images at a
 * time with sharp (off the main thread), so a consumer that trains between batches does not wait on I/O in steady
 * state. In-memory sets are transformed synchronously when a batch is requested.
 *
 * Stop with `break` (or `signal`): preparation stops and in-flight decodes are awaited before the loop exits.
 * Resume with `startBatch` and the same order, seed and epoch: the batches are identical to an uninterrupted run.
 * A decoding error (missing, corrupt file) is thrown when its batch is reached, naming the file and its source line.
 */
export async function* batches(source: ImageSource, options: BatchOptions): AsyncGenerator<Batch, void, undefined> {
  if (source === null || typeof source !== 'object' || typeof source.readImageInto !== 'function') {
    throw new TypeError('source must be an image data set (InMemoryImageDataset, FileImageDataset or another ImageSource)');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const batchSize = requirePositiveInteger(options.batchSize, 'batchSize');
  const [height, width, channels] = transformOutputShape(options.transform);
  if (typeof options.seed !== 'number' || !Number.isInteger(options.seed)) throw new TypeError(`seed must be an integer, got ${String(options.seed)}`);
  const epoch = requireNonNegativeInteger(options.epoch ?? 0, 'epoch');
  const startBatch = requireNonNegativeInteger(options.startBatch ?? 0, 'startBatch');
  const concurrency = requirePositiveInteger(options.concurrency ?? Math.max(4, availableParallelism()), 'concurrency');
  const prefetchBatches = requirePositiveInteger(options.prefetchBatches ?? 2, 'prefetchBatches');
  const order = new Int32Array(options.order?.length ?? source.length);
  for (let i = 0; i < order.length; i++) {
    const index = options.order ? options.order[i] : i;
    if (!Number.isInteger(index) || index < 0 || index >= source.length) {
      throw new RangeError(`order[${i}] = ${index} is not an index of the data set (length ${source.length})`);
    }
    order[i] = index;
  }
  const total = batchCount(order.length, batchSize, options.dropLast ?? false);
  const imageValues = height * width * channels;
  const pool = new TaskPool(concurrency);
  const signal = options.signal;
  let stopped = false;
  let sourceIsAsync = false;

  const prepare = (batchIndex: number): { batch: Batch; ready: Promise<void> | undefined } => {
    const position = batchIndex * batchSize;
    const size = Math.min(batchSize, order.length - position);
    const indices = order.slice(position, position + size);
    const labels = new Int32Array(size);
    const images = new Float32Array(size * imageValues);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      const index = indices[i];
      const random = imageRandom(options.seed, epoch, position + i);
      const offset = i * imageValues;
      labels[i] = source.labels[index];
      if (sourceIsAsync) {
        pending.push(pool.run(async () => {
          if (!stopped) await source.readImageInto(index, options.transform, random, images, offset);
        }));
        continue;
      }
      const result = source.readImageInto(index, options.transform, random, images, offset);
      if (result instanceof Promise) {
        // The first image tells whether the source is asynchronous; later images go through the pool.
        sourceIsAsync = true;
        pending.push(pool.adopt(result));
      }
    }
    const batch: Batch = { images, labels, indices, shape: [size, height, width, channels], batchIndex, position };
    return { batch, ready: pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined };
  };

  const queue: { batch: Batch; ready: Promise<void> | undefined }[] = [];
  let next = startBatch;
  const fill = () => {
    while (next < total && queue.length < prefetchBatches) {
      const prepared = prepare(next++);
      // Errors surface when the consumer reaches this batch; never as an unhandled rejection.
      prepared.ready?.catch(() => undefined);
      queue.push(prepared);
      if (prepared.ready === undefined) break; // synchronous source: no look-ahead needed
    }
  };
  try {
    while (next < total || queue.length > 0) {
      signal?.throwIfAborted();
      fill();
      const current = queue.shift()!;
      if (current.ready) await current.ready;
      signal?.throwIfAborted();
      fill();
      yield current.batch;
    }
  } finally {
    stopped = true;
    await Promise.allSettled(queue.map((entry) => entry.ready));
  }
}
