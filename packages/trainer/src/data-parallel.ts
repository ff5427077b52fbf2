/**
 * Data-parallel training across processes (`mpirun -np N longtail train …`, `srun …`) on `@longtail/distributed`.
 *
 * Every rank builds the same model, draws the same sampler order, mixup and noise (same seeds as one process) and
 * decodes each global batch; it trains on its contiguous slice of the batch (`shardRange`), and the gradients of the
 * ranks' mean losses, weighted by their shares (`n_r / B`), are summed in buckets of {@link GRADIENT_BUCKET_ELEMENTS}
 * floats and applied identically everywhere, so `batchSize` stays the global batch. Rank 0's state is broadcast
 * at the start of each stage (initial weights, or the resumed weights and momentum) and its batch-norm statistics at
 * the end of each epoch; only rank 0 touches the run directory (the others wait at a barrier while it writes).
 * Evaluation is sharded and gathered. A single process (no launcher) gets {@link SINGLE_PROCESS}: nothing is loaded,
 * nothing changes.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { setBatchNormReducer } from '@longtail/backbones';
import type { Collective } from '@longtail/distributed';
import { decodeCheckpoint, loadCheckpoint, type Checkpoint, type TensorRecord } from './checkpoint.js';
import { stableWeights } from './model.js';
import type { TorchSgd } from './optimizer.js';

/** Floats per gradient all-reduce (8 MB): a ResNet-32 gradient is one bucket, a ResNet-50 one thirteen. */
export const GRADIENT_BUCKET_ELEMENTS = 1 << 21;

/**
 * How long the other ranks wait at a barrier while rank 0 writes checkpoints, results or the report (6 h), instead of
 * the collectives' default 60 s: a slow file system is not a lost rank.
 */
export const ROOT_WORK_TIMEOUT_MS = 6 * 60 * 60 * 1000;

/** The process count a launcher reports in the environment (1 without one); reads no MPI. */
export function launcherWorldSize(env: NodeJS.ProcessEnv = process.env): number {
  const size =
    env.OMPI_COMM_WORLD_SIZE ?? env.PMI_SIZE ?? (env.SLURM_PROCID !== undefined ? env.SLURM_STEP_NUM_TASKS : undefined) ?? '1';
  const value = Number(size);
  return Number.isInteger(value) && value >= 1 ? value : 1;
}

/** One rank's part of a global batch: rows `[start, end)` and its share `(end − start) / B`. */
export interface BatchShard {
  start: number;
  end: number;
  weight: number;
}

/** The processes a run trains on: one (no collective) or the ranks of a launcher's job. */
export class Replicas {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  readonly isRoot: boolean;

  /**
   * @param collective - the job's collective, or null for a single process.
   * @param range - `@longtail/distributed`'s `shardRange` (with a collective).
   */
  constructor(
    readonly collective: Collective | null,
    private readonly range?: (length: number, worldSize: number, rank: number) => { start: number; end: number },
  ) {
    this.rank = collective?.rank ?? 0;
    this.size = collective?.size ?? 1;
    this.localRank = collective?.localRank ?? 0;
    this.localSize = collective?.localSize ?? 1;
    this.isRoot = this.rank === 0;
  }

  /** True with more than one process. */
  get parallel(): boolean {
    return this.collective !== null && this.size > 1;
  }

  /** This rank's slice of a global batch of `length` rows (as `@longtail/distributed`'s `shardRange`). */
  shard(length: number): BatchShard {
    if (!this.parallel || !this.range) return { start: 0, end: length, weight: 1 };
    const { start, end } = this.range(length, this.size, this.rank);
    return { start, end, weight: length === 0 ? 0 : (end - start) / length };
  }

  /** Runs `produce` on rank 0 only and gives every rank its (JSON-serialisable) value. */
  async fromRoot<T>(produce: () => T | Promise<T>): Promise<T> {
    if (!this.parallel) return produce();
    const bytes = await this.bytesFromRoot(async () => Buffer.from(JSON.stringify({ value: await produce() }), 'utf8'));
    return (JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as { value: T }).value;
  }

  /** Runs `produce` on rank 0 only and gives every rank the bytes (e.g. a checkpoint file). */
  async bytesFromRoot(produce: () => Promise<Uint8Array>): Promise<Uint8Array> {
    if (!this.parallel) return produce();
    const collective = this.collective as Collective;
    const mine = this.isRoot ? await produce() : undefined;
    const length = Float64Array.of(mine?.byteLength ?? 0);
    await collective.broadcast(length);
    const bytes = mine ?? new Uint8Array(length[0]);
    if (bytes.byteLength > 0) await collective.broadcast(bytes);
    return bytes;
  }

  /** Rank 0 runs `write` (files of the run directory); the others wait for it at a barrier with a long timeout. */
  async rootWork(write: () => Promise<void> | void): Promise<void> {
    if (this.isRoot) await write();
    if (this.parallel) await (this.collective as Collective).barrier({ timeoutMs: ROOT_WORK_TIMEOUT_MS });
  }

  /** Copies rank 0's model weights (all of them, batch-norm statistics included) into every rank's model. */
  async syncModel(model: tf.LayersModel): Promise<void> {
    if (!this.parallel) return;
    const weights = stableWeights(model);
    const sizes = weights.map((weight) => weight.shape.reduce((product: number, size) => product * (size as number), 1));
    const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    if (this.isRoot) {
      const values = await Promise.all(weights.map((weight) => weight.read().data()));
      let offset = 0;
      values.forEach((value, index) => {
        flat.set(value as Float32Array, offset);
        offset += sizes[index];
      });
    }
    await (this.collective as Collective).broadcast(flat);
    if (this.isRoot) return;
    let offset = 0;
    weights.forEach((weight, index) => {
      const value = tf.tensor(flat.subarray(offset, offset + sizes[index]), weight.shape as number[], 'float32');
      weight.write(value);
      value.dispose();
      offset += sizes[index];
    });
  }

  /** Copies rank 0's optimizer state (the momentum buffers) into every rank's optimizer. */
  async syncOptimizer(optimizer: TorchSgd): Promise<void> {
    if (!this.parallel) return;
    const records = this.isRoot ? await optimizer.getState() : [];
    const layout = await this.fromRoot(() => records.map((record) => ({ name: record.name, shape: record.shape })));
    const sizes = layout.map((entry) => entry.shape.reduce((product, size) => product * size, 1));
    const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    if (this.isRoot) {
      let offset = 0;
      records.forEach((record, index) => {
        flat.set(record.data as Float32Array, offset);
        offset += sizes[index];
      });
    }
    if (flat.length > 0) await (this.collective as Collective).broadcast(flat);
    if (this.isRoot) return;
    let offset = 0;
    const received: TensorRecord[] = layout.map((entry, index) => {
      const data = flat.slice(offset, offset + sizes[index]);
      offset += sizes[index];
      return { name: entry.name, shape: entry.shape, dtype: 'float32', data };
    });
    optimizer.setState(received);
  }

  /**
   * Sums `buckets` over the ranks, in place, all in flight at once (each rank's values already weighted by its share
   * of the batch).
   */
  async sumBuckets(buckets: Float32Array[]): Promise<void> {
    if (!this.parallel) return;
    const collective = this.collective as Collective;
    await Promise.all(buckets.map((bucket) => collective.allReduce(bucket, { op: 'sum' })));
  }

  /** Every rank's array, in rank order, concatenated (sharded evaluation). */
  async gather<T extends Float32Array | Int32Array>(data: T): Promise<T> {
    if (!this.parallel) return data;
    const parts = await (this.collective as Collective).allGather(data);
    const Constructor = data.constructor as new (length: number) => T;
    const out = new Constructor(parts.reduce((total, part) => total + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part as T, offset);
      offset += part.length;
    }
    return out;
  }

  /**
   * With `syncBatchNorm`, installs `@longtail/backbones`' batch-norm reducer on the collective's blocking
   * `allReduceSync` (host-memory backends only); `weight` is read at every backward pass. Returns the uninstaller.
   */
  installSyncBatchNorm(backend: string, weight: () => number): () => void {
    if (!this.parallel) return () => {};
    if (backend === 'webgpu' || backend === 'webgl') {
      throw new Error(`syncBatchNorm needs a host-memory backend (cpu, native, wasm, tensorflow), not ${backend}: its sums are read synchronously inside the gradient`);
    }
    const collective = this.collective as Collective;
    setBatchNormReducer({
      sum: (values) => void collective.allReduceSync(values, { op: 'sum' }),
      get weight() {
        return weight();
      },
    });
    return () => void setBatchNormReducer(null);
  }
}

/** A single process: every method is the identity or runs on this process. */
export const SINGLE_PROCESS = new Replicas(null);

let joined: Promise<Replicas> | undefined;

/**
 * The replicas this process trains with: under a launcher of more than one process, `@longtail/distributed` is loaded
 * (only then) and MPI initialised; CPU threads per rank default to `cores / ranks on this machine`
 * (`LONGTAIL_NUM_THREADS`, set before the backend loads, unless given). Otherwise {@link SINGLE_PROCESS}. Once per
 * process.
 */
export function joinReplicas(env: NodeJS.ProcessEnv = process.env): Promise<Replicas> {
  joined ??= (async () => {
    if (launcherWorldSize(env) <= 1) return SINGLE_PROCESS;
    const { initDistributed, shardRange } = await import('@longtail/distributed');
    const world = await initDistributed({ env });
    if (world.size > 1 && (env.LONGTAIL_NUM_THREADS === undefined || env.LONGTAIL_NUM_THREADS === '')) {
      env.LONGTAIL_NUM_THREADS = String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, world.localSize))));
    }
    return world.size > 1 ? new Replicas(world, shardRange) : SINGLE_PROCESS;
  })();
  return joined;
}

/** A checkpoint file as rank 0 reads it, given to every rank (one process: loaded as usual). */
export async function loadOnRoot<Meta>(replicas: Replicas, file: string): Promise<Checkpoint<Meta>> {
  if (!replicas.parallel) return loadCheckpoint<Meta>(file);
  return decodeCheckpoint<Meta>(await replicas.bytesFromRoot(() => readFile(file)), file);
}
