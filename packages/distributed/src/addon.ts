import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to get MPI, quoted by every error that needs it. */
export const MPI_INSTALL_HINT =
  'Install MPI and rebuild the addon: Debian/Ubuntu `apt-get install openmpi-bin libopenmpi-dev` ' +
  '(or `mpich libmpich-dev`), Fedora/RHEL `dnf install openmpi-devel`, macOS `brew install open-mpi`; ' +
  'then `npm rebuild @longtail/distributed` (needs g++ and make).';

/** The collective a job ran, as the addon numbers reductions. */
export const REDUCE_OP_CODES = { sum: 0, mean: 1, max: 2, min: 3 } as const;

/** What `init()` of the addon reports. */
export interface AddonWorldInfo {
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  /** MPI_THREAD_* level provided (3 = MPI_THREAD_MULTIPLE). */
  threadLevel: number;
  /** Process id of every rank, by rank. */
  pids: number[];
  /** MPI processor name (host) of every rank, by rank. */
  hosts: string[];
}

/** The functions the compiled addon exports (src/native/mpi_addon.cc). Timeouts are in seconds (≤ 0: none). */
export interface MpiAddon {
  longtailDistributed: true;
  init(): AddonWorldInfo;
  allReduce(array: Float32Array | Float64Array, op: number, chunkElements: number, timeoutSeconds: number, verify: number): Promise<number>;
  /** Blocking all-reduce on the calling thread's behalf, queued behind the collectives already submitted. */
  allReduceSync(array: Float32Array | Float64Array, op: number, timeoutSeconds: number, verify: number): number;
  broadcast(view: ArrayBufferView, root: number, timeoutSeconds: number, verify: number): Promise<number>;
  barrier(timeoutSeconds: number, verify: number): Promise<number>;
  allGather(view: ArrayBufferView, timeoutSeconds: number, verify: number): Promise<{ bytes: ArrayBuffer; sizes: number[] }>;
  shutdown(): Promise<number>;
  finalizeSync(): boolean;
  abort(code: number): void;
  status(): { phase: 'none' | 'running' | 'finalized'; busy: boolean; queued: number; broken: boolean; message: string };
  libraryVersion(): string;
}

const moduleFile = typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
// src/ and dist/ both sit one level below the package root, next to build/.
const packageRoot = path.resolve(path.dirname(moduleFile), '..');

/** Where the compiled addon is looked for; `LONGTAIL_DISTRIBUTED_ADDON` overrides it (used by tests). */
export function mpiAddonPath(): string {
  return process.env.LONGTAIL_DISTRIBUTED_ADDON || path.join(packageRoot, 'build', 'Release', 'longtail_mpi.node');
}

let cachedAddon: MpiAddon | undefined;
let cachedError: Error | undefined;

/**
 * Loads the compiled MPI addon (once; later calls return the same object). Loading does not initialise MPI.
 * @throws Error naming the path, the cause and how to get MPI when the addon is missing or fails to load (for
 *   example because the MPI library it was built against has been removed).
 */
export function loadMpiAddon(): MpiAddon {
  if (cachedAddon) return cachedAddon;
  if (cachedError) throw cachedError;
  const addonPath = mpiAddonPath();
  try {
    if (!existsSync(addonPath)) {
      throw new Error(
        `the MPI addon ${addonPath} does not exist; it is built by the package's install script when MPI ` +
          `development files (mpicc or pkg-config ompi/mpich) are found`,
      );
    }
    const requireFromHere = createRequire(moduleFile);
    const addon = requireFromHere(addonPath) as MpiAddon;
    if (addon.longtailDistributed !== true || typeof addon.allReduce !== 'function') {
      throw new Error(`${addonPath} is not the @longtail/distributed MPI addon`);
    }
    cachedAddon = addon;
    return addon;
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    cachedError = new Error(`@longtail/distributed: MPI is not available: ${cause}. ${MPI_INSTALL_HINT}`, { cause: error });
    throw cachedError;
  }
}

/** True when the MPI addon loads on this machine (MPI is installed and the addon was built). Never throws. */
export function isMpiAvailable(): boolean {
  try {
    loadMpiAddon();
    return true;
  } catch {
    return false;
  }
}

/** Why MPI is unavailable (the message {@link loadMpiAddon} would throw), or `undefined` when it is available. */
export function mpiUnavailableReason(): string | undefined {
  try {
    loadMpiAddon();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The MPI library's own version string (`MPI_Get_library_version`, e.g. "Open MPI v4.1.4, …"). Needs no launcher. */
export function mpiLibraryVersion(): string {
  return loadMpiAddon().libraryVersion();
}

/** Forgets a cached load result so the next call retries (tests that swap the addon path). */
export function resetMpiAddonCache(): void {
  cachedAddon = undefined;
  cachedError = undefined;
}
