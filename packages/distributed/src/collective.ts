/** Reductions {@link Collective.allReduce} supports; `'mean'` is the sum divided by the world size. */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

/** The arrays {@link Collective.allReduce} reduces in place. */
export type ReducibleArray = Float32Array | Float64Array;

/** The arrays {@link Collective.allGather} gathers (any typed array but the BigInt ones). */
export type GatherableArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray;

/** Options every collective accepts. */
export interface CollectiveCallOptions {
  /**
   * Fail the collective when it has run this long (ms) without completing: a rank died or hung and the launcher did
   * not end the job. Counted from when the collective starts, not from when it was queued behind earlier ones.
   * Default: the `timeoutMs` given at initialisation. `0` = no timeout.
   */
  timeoutMs?: number;
}

/** Options of {@link Collective.allReduce}. */
export interface AllReduceOptions extends CollectiveCallOptions {
  /** Default `'sum'`. */
  op?: ReduceOp;
  /** Elements per MPI call (MPI counts are 32-bit); default the initialisation's `chunkElements`. */
  chunkElements?: number;
}

/** Options of {@link Collective.broadcast}. */
export interface BroadcastOptions extends CollectiveCallOptions {
  /** The rank whose data every rank receives; default 0. */
  root?: number;
}

/**
 * A group of processes that run collectives together: MPI (`MpiCollective`), a single process
 * (`SingleProcessCollective`), later possibly gloo. Every rank must call the same collectives in the same order with
 * the same sizes; calls are run in the order they are made, so several may be in flight (bucketed gradients).
 * Buffers passed in must not be read or written until the returned promise settles.
 */
export interface Collective {
  /** `'mpi'`, `'single'`, … */
  readonly backend: string;
  /** This process's rank in [0, size). */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** Rank among the processes on this machine (picks a GPU or a CPU set). */
  readonly localRank: number;
  /** Number of processes on this machine. */
  readonly localSize: number;
  /** `rank === 0`: the process that prints, writes metrics, checkpoints and reports. */
  readonly isRoot: boolean;
  /**
   * Reduces `data` over all ranks, in place: afterwards every rank holds the element-wise sum (or mean, max, min).
   * Any length (split into chunks of `chunkElements` for MPI's 32-bit counts).
   * @returns the same array, once reduced.
   */
  allReduce<T extends ReducibleArray>(data: T, options?: AllReduceOptions): Promise<T>;
  /**
   * {@link Collective.allReduce}, blocking: returns once `data` holds the reduction. It runs after every collective
   * already queued (the same order on every rank), so the JS thread waits for those too. For reductions needed inside
   * a synchronous computation, such as synchronised batch norm inside a tfjs gradient; the buffer is one MPI call
   * (fewer than 2^31 elements). Throws what the promise of `allReduce` would reject with.
   * @returns the same array, reduced.
   */
  allReduceSync<T extends ReducibleArray>(data: T, options?: Omit<AllReduceOptions, 'chunkElements'>): T;
  /**
   * Copies the root's `data` into every rank's `data` (in place; same byte length on every rank).
   * @returns the same view, once filled.
   */
  broadcast<T extends ArrayBufferView>(data: T, options?: BroadcastOptions): Promise<T>;
  /** Resolves once every rank has called it. */
  barrier(options?: CollectiveCallOptions): Promise<void>;
  /**
   * Gathers every rank's small array (lengths may differ) to every rank: the result's element `r` is rank `r`'s array,
   * of the same type. For sharded evaluation (predictions, counts); under 2 GiB in total.
   */
  allGather<T extends GatherableArray>(data: T, options?: CollectiveCallOptions): Promise<T[]>;
  /** Ends the group after the queued collectives (MPI_Finalize). Later calls reject. Idempotent. */
  shutdown(): Promise<void>;
}

/** Error codes on {@link DistributedError}. */
export type DistributedErrorCode =
  | 'ERR_DISTRIBUTED_TIMEOUT'
  | 'ERR_DISTRIBUTED_FAILED'
  | 'ERR_DISTRIBUTED_MPI'
  | 'ERR_DISTRIBUTED_MISMATCH'
  | 'ERR_DISTRIBUTED_NOT_INITIALISED'
  | 'ERR_DISTRIBUTED_UNAVAILABLE';

/** An error from a collective: which rank raised it, and the ranks known to be lost (exited) when it timed out. */
export class DistributedError extends Error {
  override readonly name = 'DistributedError';
  /**
   * @param message - the full message (names this rank, the collective, and the lost ranks when known).
   * @param code - what failed.
   * @param rank - the rank that raised it.
   * @param lostRanks - ranks known to have exited (checked for ranks on this host), empty when none is known.
   */
  constructor(
    message: string,
    readonly code: DistributedErrorCode,
    readonly rank: number,
    readonly lostRanks: number[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const gatherableConstructors = [
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
];

/** Checks that `data` is a Float32Array or Float64Array. @internal */
export function checkReducible(data: unknown, op: unknown): asserts data is ReducibleArray {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    throw new TypeError(`allReduce needs a Float32Array or Float64Array, got ${describe(data)}`);
  }
  if (op !== undefined && op !== 'sum' && op !== 'mean' && op !== 'max' && op !== 'min') {
    throw new TypeError(`allReduce: op must be 'sum', 'mean', 'max' or 'min', got ${String(op)}`);
  }
}

/** Checks that `data` is a typed array allGather handles. @internal */
export function checkGatherable(data: unknown): asserts data is GatherableArray {
  if (!gatherableConstructors.some((constructor) => data instanceof constructor)) {
    throw new TypeError(`allGather needs a (non-BigInt) typed array, got ${describe(data)}`);
  }
}

/** Checks a timeout option (ms, ≥ 0). @internal */
export function checkTimeout(timeoutMs: unknown, name = 'timeoutMs'): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`${name} must be a finite number of milliseconds ≥ 0, got ${String(timeoutMs)}`);
  }
  return timeoutMs;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

/**
 * The trivial world of one process: every collective completes at once and leaves the data as it is (a sum or mean
 * over one rank is the data itself). What {@link initDistributed} returns without a launcher; needs no MPI.
 */
export class SingleProcessCollective implements Collective {
  readonly backend = 'single';
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly localSize = 1;
  readonly isRoot = true;
  private closed = false;

  private check(what: string): void {
    if (this.closed) {
      throw new DistributedError(`rank 0: ${what} after shutdown()`, 'ERR_DISTRIBUTED_NOT_INITIALISED', 0);
    }
  }

  /** Validates `data` and returns it unchanged (the reduction over one rank). */
  async allReduce<T extends ReducibleArray>(data: T, options: AllReduceOptions = {}): Promise<T> {
    this.check('allReduce');
    checkReducible(data, options.op);
    checkTimeout(options.timeoutMs);
    return data;
  }

  /** Validates `data` and returns it unchanged (the reduction over one rank). */
  allReduceSync<T extends ReducibleArray>(data: T, options: Omit<AllReduceOptions, 'chunkElements'> = {}): T {
    this.check('allReduceSync');
    checkReducible(data, options.op);
    checkTimeout(options.timeoutMs);
    return data;
  }

  /** Returns `data` unchanged; `root` must be 0. */
  async broadcast<T extends ArrayBufferView>(data: T, options: BroadcastOptions = {}): Promise<T> {
    this.check('broadcast');
    if (!ArrayBuffer.isView(data)) throw new TypeError(`broadcast needs a typed array or DataView, got ${describe(data)}`);
    if ((options.root ?? 0) !== 0) throw new RangeError(`broadcast: root must be an integer rank in [0, 1), got ${options.root}`);
    return data;
  }

  /** Resolves at once. */
  async barrier(options: CollectiveCallOptions = {}): Promise<void> {
    this.check('barrier');
    checkTimeout(options.timeoutMs);
  }

  /** Returns `[copy of data]`. */
  async allGather<T extends GatherableArray>(data: T, options: CollectiveCallOptions = {}): Promise<T[]> {
    this.check('allGather');
    checkGatherable(data);
    checkTimeout(options.timeoutMs);
    return [data.slice() as T];
  }

  /** Marks the group closed. */
  async shutdown(): Promise<void> {
    this.closed = true;
  }
}
