import { MPI_INSTALL_HINT, mpiUnavailableReason } from './addon.js';
import { DistributedError, SingleProcessCollective, type Collective } from './collective.js';
import { detectLauncher, type LauncherInfo } from './launcher.js';
import { initMpi, type MpiOptions } from './mpi.js';

export {
  isMpiAvailable,
  loadMpiAddon,
  mpiAddonPath,
  mpiLibraryVersion,
  mpiUnavailableReason,
  MPI_INSTALL_HINT,
  resetMpiAddonCache,
  type AddonWorldInfo,
  type MpiAddon,
} from './addon.js';
export {
  DistributedError,
  SingleProcessCollective,
  type AllReduceOptions,
  type BroadcastOptions,
  type Collective,
  type CollectiveCallOptions,
  type DistributedErrorCode,
  type GatherableArray,
  type ReduceOp,
  type ReducibleArray,
} from './collective.js';
export { detectLauncher, type LauncherInfo, type LauncherName } from './launcher.js';
export { DEFAULT_CHUNK_ELEMENTS, DEFAULT_TIMEOUT_MS, initMpi, MpiCollective, type MpiOptions } from './mpi.js';
export { shardEpoch, shardGlobalBatch, shardRange, shardWeight, type ShardRange } from './shard.js';

/** Options of {@link initDistributed}. */
export interface InitDistributedOptions extends MpiOptions {
  /**
   * `'auto'` (default): MPI when a launcher reports more than one process, else a {@link SingleProcessCollective};
   * `'mpi'`: always MPI (a single process then runs MPI as a singleton); `'single'`: never MPI.
   */
  backend?: 'auto' | 'mpi' | 'single';
  /** The environment to detect the launcher from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Joins the job this process was launched into: under `mpirun -np N` / `mpiexec` / `srun` with N > 1, initialises
 * MPI and returns its world; otherwise a trivial world of size 1 that needs no MPI (so the same program runs with and
 * without a launcher).
 * @throws DistributedError (`ERR_DISTRIBUTED_UNAVAILABLE`) saying how to install MPI when a launcher asks for
 *   several processes but the MPI addon is unavailable.
 */
export async function initDistributed(options: InitDistributedOptions = {}): Promise<Collective> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'mpi' && backend !== 'single') {
    throw new TypeError(`backend must be 'auto', 'mpi' or 'single', got ${String(backend)}`);
  }
  const launcher: LauncherInfo = detectLauncher(options.env);
  if (backend === 'single' || (backend === 'auto' && launcher.size === 1)) {
    if (backend === 'single' && launcher.size > 1) {
      throw new RangeError(
        `backend 'single' was asked for, but ${launcher.launcher} started ${launcher.size} processes (${launcher.source})`,
      );
    }
    return new SingleProcessCollective();
  }
  const reason = mpiUnavailableReason();
  if (reason !== undefined) {
    const started = launcher.size > 1 ? `${launcher.launcher} started ${launcher.size} processes (${launcher.source}), but ` : '';
    throw new DistributedError(
      `rank ${launcher.rank}: ${started}${reason}${reason.includes(MPI_INSTALL_HINT) ? '' : ` ${MPI_INSTALL_HINT}`}`,
      'ERR_DISTRIBUTED_UNAVAILABLE',
      launcher.rank,
    );
  }
  return initMpi(options);
}
