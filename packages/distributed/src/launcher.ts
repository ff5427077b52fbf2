/** The launcher a process was started by, as read from its environment. */
export type LauncherName = 'openmpi' | 'mpich' | 'slurm' | 'none';

/** What {@link detectLauncher} found: this process's place in the job before any MPI call. */
export interface LauncherInfo {
  /** `'openmpi'` (mpirun/mpiexec of Open MPI, or srun with Open MPI's PMIx), `'mpich'` (hydra's mpiexec: PMI_*),
   *  `'slurm'` (srun), or `'none'` (a plain process: a world of size 1). */
  launcher: LauncherName;
  /** This process's rank in [0, size). */
  rank: number;
  /** Number of processes in the job. */
  size: number;
  /** Rank among the processes on this machine, when the launcher says (else undefined; MPI knows after init). */
  localRank: number | undefined;
  /** Number of processes on this machine, when the launcher says. */
  localSize: number | undefined;
  /** The environment variables the answer was read from. */
  source: string;
}

function integer(env: NodeJS.ProcessEnv, name: string, minimum: number): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value < minimum) {
    throw new Error(`${name} must be an integer ≥ ${minimum}, got '${text}'`);
  }
  return value;
}

function world(
  launcher: LauncherName,
  env: NodeJS.ProcessEnv,
  rankName: string,
  sizeName: string,
  localRankName: string,
  localSizeName: string | undefined,
): LauncherInfo {
  const rank = integer(env, rankName, 0) as number;
  const size = integer(env, sizeName, 1) as number;
  if (rank >= size) throw new Error(`${rankName}=${rank} must be less than ${sizeName}=${size}`);
  const localRank = integer(env, localRankName, 0);
  const localSize = localSizeName === undefined ? undefined : integer(env, localSizeName, 1);
  if (localRank !== undefined && localSize !== undefined && localRank >= localSize) {
    throw new Error(`${localRankName}=${localRank} must be less than ${localSizeName}=${localSize}`);
  }
  return { launcher, rank, size, localRank, localSize, source: `${rankName}/${sizeName}` };
}

/**
 * Reads which launcher started this process, and its rank and world size, from the environment, without loading
 * MPI. Checked in order:
 *
 * 1. Open MPI (`mpirun`): `OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`, `OMPI_COMM_WORLD_LOCAL_RANK`,
 *    `OMPI_COMM_WORLD_LOCAL_SIZE`;
 * 2. MPICH / Intel MPI (hydra `mpiexec`): `PMI_RANK`, `PMI_SIZE`, `MPI_LOCALRANKID`, `MPI_LOCALNRANKS`;
 * 3. Slurm (`srun`): `SLURM_PROCID`, `SLURM_STEP_NUM_TASKS` (set for a job step, not in the batch script itself, so
 *    a plain `node train.js` inside an `sbatch` script is a single process), `SLURM_LOCALID`;
 * 4. otherwise `{ launcher: 'none', rank: 0, size: 1 }`: a trivial world that needs no MPI.
 *
 * @param env - the environment to read (default `process.env`).
 * @throws Error naming the variable when one is set but is not a valid integer, or a rank is not below the size.
 */
export function detectLauncher(env: NodeJS.ProcessEnv = process.env): LauncherInfo {
  if (env.OMPI_COMM_WORLD_SIZE !== undefined && env.OMPI_COMM_WORLD_RANK !== undefined) {
    return world('openmpi', env, 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_SIZE');
  }
  if (env.PMI_SIZE !== undefined && env.PMI_RANK !== undefined) {
    return world('mpich', env, 'PMI_RANK', 'PMI_SIZE', 'MPI_LOCALRANKID', 'MPI_LOCALNRANKS');
  }
  if (env.SLURM_STEP_NUM_TASKS !== undefined && env.SLURM_PROCID !== undefined) {
    return world('slurm', env, 'SLURM_PROCID', 'SLURM_STEP_NUM_TASKS', 'SLURM_LOCALID', undefined);
  }
  return { launcher: 'none', rank: 0, size: 1, localRank: 0, localSize: 1, source: 'no launcher variables' };
}
