import { readFileSync, writeSync } from 'node:fs';
import { inspect } from 'node:util';

import { loadMpiAddon, REDUCE_OP_CODES, type AddonWorldInfo, type MpiAddon } from './addon.js';
import {
  checkGatherable,
  checkReducible,
  checkTimeout,
  DistributedError,
  type AllReduceOptions,
  type BroadcastOptions,
  type Collective,
  type CollectiveCallOptions,
  type DistributedErrorCode,
  type GatherableArray,
  type ReducibleArray,
} from './collective.js';

/** Default per-collective timeout (ms): the bound for noticing a lost rank. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Default elements per MPI call: 2^24 floats (64 MiB), well under MPI's 2^31 − 1 count limit. */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 24;

/** Options of {@link initMpi}. */
export interface MpiOptions {
  /**
   * Default timeout of every collective in ms (0 = none); default `LONGTAIL_DISTRIBUTED_TIMEOUT_MS`, else 60000.
   * Collectives that wait for rank-0-only work (a barrier around a checkpoint or a report) should pass a longer one.
   */
  timeoutMs?: number;
  /** Default elements per MPI_Allreduce call (1 … 2^31 − 1); default 2^24. */
  chunkElements?: number;
  /**
   * Before each collective, check with one small all-reduce that every rank called the same collective with the same
   * size, type, root and sequence number; a mismatch then rejects on every rank (`ERR_DISTRIBUTED_MISMATCH`)
   * instead of hanging or corrupting memory. Default true; it must be the same on every rank.
   */
  verify?: boolean;
  /**
   * At process exit: MPI_Finalize when all is well; MPI_Abort (the launcher then ends every rank, naming this one)
   * when the exit code is non-zero, a collective failed, or one is still in flight. Default true.
   */
  exitHook?: boolean;
}

/** Whether a process is running (signal 0; a zombie counts as exited). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Which ranks a timed-out collective lost: every other rank on this rank's host whose process has exited. Ranks on
 * other hosts cannot be checked from here and are reported as such. @internal
 */
export function describeLostRanks(
  rank: number,
  pids: readonly number[],
  hosts: readonly string[],
  isAlive: (pid: number) => boolean = processIsAlive,
): { lostRanks: number[]; text: string } {
  const host = hosts[rank];
  const lostRanks: number[] = [];
  const remote: number[] = [];
  for (let other = 0; other < pids.length; other += 1) {
    if (other === rank) continue;
    if (hosts[other] !== host) remote.push(other);
    else if (!isAlive(pids[other])) lostRanks.push(other);
  }
  const list = (ranks: number[]) => (ranks.length === 1 ? `rank ${ranks[0]}` : `ranks ${ranks.join(', ')}`);
  const parts: string[] = [];
  if (lostRanks.length > 0) {
    parts.push(lostRanks.map((lost) => `lost rank ${lost} (pid ${pids[lost]} on ${host} has exited)`).join(', '));
  } else if (pids.length - 1 - remote.length > 0) {
    parts.push(`the other ranks on this host (${host}) are still running`);
  }
  if (remote.length > 0) parts.push(`${list(remote)} on other hosts could not be checked`);
  if (lostRanks.length === 0) parts.push('a rank is stuck, was stopped, or the network failed');
  return { lostRanks, text: parts.join('; ') };
}

let exitHookInstalled = false;

/**
 * The MPI world (`MPI_COMM_WORLD`, duplicated). Created by {@link initMpi}; one per process. Collectives run on a
 * dedicated communication thread, in the order they are called, and return promises; the JS thread stays free.
 */
export class MpiCollective implements Collective {
  readonly backend = 'mpi';
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  readonly isRoot: boolean;
  /** MPI_THREAD_* level the library provided (3 = MPI_THREAD_MULTIPLE). */
  readonly threadLevel: number;
  /** Host (MPI processor name) of every rank, by rank. */
  readonly hosts: readonly string[];
  /** Process id of every rank, by rank. */
  readonly pids: readonly number[];
  private readonly timeoutSeconds: number;
  private readonly chunkElements: number;
  private readonly verify: number;
  private shutdownPromise: Promise<void> | undefined;

  /** Use {@link initMpi}. @internal */
  constructor(
    private readonly addon: MpiAddon,
    info: AddonWorldInfo,
    options: { timeoutMs: number; chunkElements: number; verify: boolean },
  ) {
    this.rank = info.rank;
    this.size = info.size;
    this.localRank = info.localRank;
    this.localSize = info.localSize;
    this.isRoot = info.rank === 0;
    this.threadLevel = info.threadLevel;
    this.hosts = Object.freeze([...info.hosts]);
    this.pids = Object.freeze([...info.pids]);
    this.timeoutSeconds = options.timeoutMs / 1000;
    this.chunkElements = options.chunkElements;
    this.verify = options.verify ? 1 : 0;
  }

  private timeout(options: CollectiveCallOptions): number {
    const timeoutMs = checkTimeout(options.timeoutMs);
    return timeoutMs === undefined ? this.timeoutSeconds : timeoutMs / 1000;
  }

  /** Turns the addon's rejection into a {@link DistributedError}, naming lost ranks after a timeout. */
  private async run<T>(promise: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = promise();
    } catch (error) {
      throw this.wrap(error);
    }
    try {
      return await pending;
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private wrap(error: unknown): unknown {
    if (!(error instanceof Error)) return error;
    const code = (error as NodeJS.ErrnoException).code as DistributedErrorCode | undefined;
    if (code === undefined || !code.startsWith('ERR_DISTRIBUTED_')) return error;
    if (code === 'ERR_DISTRIBUTED_TIMEOUT' || code === 'ERR_DISTRIBUTED_FAILED') {
      const { lostRanks, text } = describeLostRanks(this.rank, this.pids, this.hosts);
      return new DistributedError(`${error.message}: ${text}`, code, this.rank, lostRanks, { cause: error });
    }
    return new DistributedError(error.message, code, this.rank, [], { cause: error });
  }

  /** See {@link Collective.allReduce}; `'mean'` divides the sum by the world size on every rank. */
  allReduce<T extends ReducibleArray>(data: T, options: AllReduceOptions = {}): Promise<T> {
    return this.run(async () => {
      checkReducible(data, options.op);
      const chunk = options.chunkElements ?? this.chunkElements;
      if (!Number.isInteger(chunk) || chunk < 1 || chunk > 2 ** 31 - 1) {
        throw new RangeError(`chunkElements must be an integer in [1, 2^31 − 1], got ${chunk}`);
      }
      await this.addon.allReduce(data, REDUCE_OP_CODES[options.op ?? 'sum'], chunk, this.timeout(options), this.verify);
      return data;
    });
  }

  /**
   * See {@link Collective.allReduceSync}: blocks the JS thread until the communication thread has run this reduction
   * (and every collective queued before it). A timeout or a lost rank throws a {@link DistributedError}.
   */
  allReduceSync<T extends ReducibleArray>(data: T, options: Omit<AllReduceOptions, 'chunkElements'> = {}): T {
    try {
      checkReducible(data, options.op);
      if (data.length > 2 ** 31 - 1) throw new RangeError(`allReduceSync takes fewer than 2^31 elements, got ${data.length}`);
      this.addon.allReduceSync(data, REDUCE_OP_CODES[options.op ?? 'sum'], this.timeout(options), this.verify);
      return data;
    } catch (error) {
      throw this.wrap(error);
    }
  }

  /** See {@link Collective.broadcast}: any typed array or DataView, as bytes. */
  broadcast<T extends ArrayBufferView>(data: T, options: BroadcastOptions = {}): Promise<T> {
    return this.run(async () => {
      if (!ArrayBuffer.isView(data)) throw new TypeError('broadcast needs a typed array or DataView');
      const root = options.root ?? 0;
      if (!Number.isInteger(root) || root < 0 || root >= this.size) {
        throw new RangeError(`broadcast: root must be an integer rank in [0, ${this.size}), got ${root}`);
      }
      await this.addon.broadcast(data, root, this.timeout(options), this.verify);
      return data;
    });
  }

  /** See {@link Collective.barrier}. */
  barrier(options: CollectiveCallOptions = {}): Promise<void> {
    return this.run(async () => {
      await this.addon.barrier(this.timeout(options), this.verify);
    });
  }

  /** See {@link Collective.allGather}. */
  allGather<T extends GatherableArray>(data: T, options: CollectiveCallOptions = {}): Promise<T[]> {
    return this.run(async () => {
      checkGatherable(data);
      const { bytes, sizes } = await this.addon.allGather(data, this.timeout(options), this.verify);
      const Constructor = data.constructor as new (buffer: ArrayBuffer, offset: number, length: number) => T;
      const results: T[] = [];
      let offset = 0;
      for (const size of sizes) {
        if (size % data.BYTES_PER_ELEMENT !== 0) {
          throw new DistributedError(
            `rank ${this.rank}: allGather: a rank sent ${size} bytes, not a whole number of ${data.constructor.name} elements`,
            'ERR_DISTRIBUTED_MISMATCH',
            this.rank,
          );
        }
        // Each rank's part gets its own buffer, so its offset is aligned for the element type.
        results.push(new Constructor(bytes.slice(offset, offset + size), 0, size / data.BYTES_PER_ELEMENT));
        offset += size;
      }
      return results;
    });
  }

  /** MPI_Finalize after the queued collectives. Idempotent. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.run(async () => {
      if (this.addon.status().phase !== 'running') return;
      await this.addon.shutdown();
    });
    return this.shutdownPromise;
  }

  /**
   * MPI_Abort: ends this process and (through the launcher) every rank of the job, with `code` as the exit status.
   * For a rank that cannot go on (a failed collective) and must not leave the others waiting.
   */
  abort(code = 1): never {
    this.addon.abort(code);
    process.exit(code);
  }

  /** State of the communication thread: `phase`, `busy` (a collective is running), `queued`, `broken`, `message`. */
  status(): ReturnType<MpiAddon['status']> {
    return this.addon.status();
  }
}

let world: MpiCollective | undefined;

function environmentTimeout(): number | undefined {
  const text = process.env.LONGTAIL_DISTRIBUTED_TIMEOUT_MS;
  if (text === undefined || text.trim() === '') return undefined;
  return checkTimeout(Number(text), 'LONGTAIL_DISTRIBUTED_TIMEOUT_MS');
}

/**
 * Initialises MPI (MPI_Init_thread on the communication thread) and returns the world; later calls return the same
 * object. Normally called through {@link initDistributed}, which skips MPI for a single process.
 * @throws Error saying how to install MPI when the addon is unavailable, or when MPI was already shut down.
 */
export function initMpi(options: MpiOptions = {}): MpiCollective {
  if (world) return world;
  const timeoutMs = checkTimeout(options.timeoutMs) ?? environmentTimeout() ?? DEFAULT_TIMEOUT_MS;
  const chunkElements = options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
  if (!Number.isInteger(chunkElements) || chunkElements < 1 || chunkElements > 2 ** 31 - 1) {
    throw new RangeError(`chunkElements must be an integer in [1, 2^31 − 1], got ${chunkElements}`);
  }
  const addon = loadMpiAddon();
  const info = addon.init();
  world = new MpiCollective(addon, info, { timeoutMs, chunkElements, verify: options.verify ?? true });
  if ((options.exitHook ?? true) && !exitHookInstalled) {
    exitHookInstalled = true;
    const rank = info.rank;
    // Node prints an uncaught error only after the 'exit' listeners, which MPI_Abort never returns from: keep it
    // so that the exit hook can print it first.
    let uncaught: { error: unknown } | undefined;
    process.on('uncaughtExceptionMonitor', (error) => {
      uncaught = { error };
    });
    process.on('exit', (code) => {
      const status = addon.status();
      if (status.phase !== 'running') return;
      if (code === 0 && !status.broken && !status.busy && status.queued === 0 && addon.finalizeSync()) return;
      const why = status.broken
        ? `after a failed collective (${status.message})`
        : status.busy || status.queued > 0
          ? 'with a collective still in flight'
          : `with exit code ${code}`;
      if (uncaught !== undefined) writeSync(2, `${inspect(uncaught.error)}\n`);
      writeSync(2, `@longtail/distributed: rank ${rank} is exiting ${why}; MPI_Abort ends the other ranks\n`);
      // Give the launcher's output forwarding a moment to pass on what this rank printed last (the error that made
      // it exit): Open MPI drops a killed rank's unforwarded output.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
      addon.abort(code === 0 ? 1 : code);
    });
  }
  return world;
}
