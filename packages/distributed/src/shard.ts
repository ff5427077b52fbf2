function checkWorld(worldSize: number, rank: number): void {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`worldSize must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`rank must be an integer in [0, ${worldSize}), got ${rank}`);
  }
}

/** A half-open range `[start, end)` of positions. */
export interface ShardRange {
  start: number;
  end: number;
}

/**
 * The contiguous part of `length` items that `rank` of `worldSize` takes: sizes differ by at most one, and the first
 * `length % worldSize` ranks take one more. For 10 items on 4 ranks: `[0,3) [3,6) [6,8) [8,10)`; with fewer items than
 * ranks the last ranks get empty ranges (they must still take part in every collective).
 * @throws RangeError for a negative or non-integer length, or a rank outside `[0, worldSize)`.
 */
export function shardRange(length: number, worldSize: number, rank: number): ShardRange {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}`);
  checkWorld(worldSize, rank);
  const base = Math.floor(length / worldSize);
  const extra = length % worldSize;
  const start = rank * base + Math.min(rank, extra);
  return { start, end: start + base + (rank < extra ? 1 : 0) };
}

/**
 * This rank's slice of one global batch (the indices a single process would train on in one step, in the
 * single-process order), split as {@link shardRange} says. Concatenating the slices of ranks 0, 1, … gives the batch
 * back, so the global batch size and the results do not depend on the world size.
 *
 * An uneven batch (the last batch of an epoch, or a batch size not divisible by the world size) gives some ranks one
 * sample more. Each rank's mean loss is then over a different number of samples: weight its gradient by
 * {@link shardWeight} and all-reduce with `'sum'` (for an even split that equals `'mean'`).
 * @returns a copy (`slice`) of the rank's part, of the input's type (`Int32Array` in, `Int32Array` out).
 */
export function shardGlobalBatch<T extends { readonly length: number; slice(start?: number, end?: number): T }>(
  globalBatch: T,
  worldSize: number,
  rank: number,
): T {
  const { start, end } = shardRange(globalBatch.length, worldSize, rank);
  return globalBatch.slice(start, end);
}

/**
 * The fraction of a global batch of `globalBatchSize` samples that `rank` trains on: `(end − start) / globalBatchSize`
 * (0 for an empty slice or batch). Multiplying each rank's mean-loss gradient by it and summing over ranks gives the
 * gradient of the mean loss over the whole batch.
 */
export function shardWeight(globalBatchSize: number, worldSize: number, rank: number): number {
  const { start, end } = shardRange(globalBatchSize, worldSize, rank);
  return globalBatchSize === 0 ? 0 : (end - start) / globalBatchSize;
}

/**
 * Splits one epoch's single-process order into global batches of `batchSize` (the last one smaller unless
 * `dropLast`) and returns this rank's slice of each, as {@link shardGlobalBatch} cuts it. Every rank gets the same
 * number of batches (some possibly empty), so the ranks' collectives stay matched step by step.
 */
export function shardEpoch(
  order: ArrayLike<number>,
  options: { batchSize: number; worldSize: number; rank: number; dropLast?: boolean },
): Int32Array[] {
  const { batchSize, worldSize, rank, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  checkWorld(worldSize, rank);
  const all = Int32Array.from(order);
  const slices: Int32Array[] = [];
  for (let start = 0; start < all.length; start += batchSize) {
    const end = Math.min(start + batchSize, all.length);
    if (dropLast && end - start < batchSize) break;
    slices.push(shardGlobalBatch(all.subarray(start, end), worldSize, rank));
  }
  return slices;
}
