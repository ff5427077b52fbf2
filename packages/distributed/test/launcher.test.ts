import { describe, expect, it } from 'vitest';

import { DistributedError, detectLauncher, initDistributed, SingleProcessCollective } from '../src/index.js';
import { describeLostRanks } from '../src/mpi.js';

describe('detectLauncher', () => {
  it('a plain process is a world of one', () => {
    expect(detectLauncher({})).toMatchObject({ launcher: 'none', rank: 0, size: 1, localRank: 0, localSize: 1 });
  });

  it('reads Open MPI, MPICH (hydra) and Slurm variables, Open MPI first', () => {
    expect(
      detectLauncher({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2', SLURM_PROCID: '0', SLURM_STEP_NUM_TASKS: '1' }),
    ).toEqual({ launcher: 'openmpi', rank: 3, size: 4, localRank: 1, localSize: 2, source: 'OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE' });
    expect(detectLauncher({ PMI_RANK: '1', PMI_SIZE: '2', MPI_LOCALRANKID: '1', MPI_LOCALNRANKS: '2' })).toMatchObject({
      launcher: 'mpich', rank: 1, size: 2, localRank: 1, localSize: 2,
    });
    expect(detectLauncher({ SLURM_PROCID: '5', SLURM_STEP_NUM_TASKS: '8', SLURM_LOCALID: '1', SLURM_NTASKS: '8' })).toMatchObject({
      launcher: 'slurm', rank: 5, size: 8, localRank: 1, localSize: undefined,
    });
  });

  it('an sbatch script itself (SLURM_PROCID without a step) is a single process', () => {
    expect(detectLauncher({ SLURM_PROCID: '0', SLURM_NTASKS: '8', SLURM_JOB_ID: '42' })).toMatchObject({ launcher: 'none', size: 1 });
  });

  it('rejects malformed variables, naming them', () => {
    expect(() => detectLauncher({ OMPI_COMM_WORLD_RANK: 'x', OMPI_COMM_WORLD_SIZE: '2' })).toThrow(/OMPI_COMM_WORLD_RANK must be an integer ≥ 0, got 'x'/);
    expect(() => detectLauncher({ PMI_RANK: '2', PMI_SIZE: '2' })).toThrow(/PMI_RANK=2 must be less than PMI_SIZE=2/);
    expect(() => detectLauncher({ PMI_RANK: '0', PMI_SIZE: '0' })).toThrow(/PMI_SIZE must be an integer ≥ 1/);
  });
});

describe('initDistributed without a launcher', () => {
  it('returns the trivial world, which needs no MPI', async () => {
    const world = await initDistributed({ env: {} });
    expect(world).toBeInstanceOf(SingleProcessCollective);
    expect(world).toMatchObject({ backend: 'single', rank: 0, size: 1, localRank: 0, localSize: 1, isRoot: true });
    const data = Float32Array.from([1.5, -2, 3]);
    expect(await world.allReduce(data, { op: 'mean' })).toBe(data);
    expect(Array.from(data)).toEqual([1.5, -2, 3]);
    expect(await world.broadcast(data)).toBe(data);
    expect(world.allReduceSync(data, { op: 'sum' })).toBe(data);
    expect(Array.from(data)).toEqual([1.5, -2, 3]);
    expect(() => world.allReduceSync(new Int32Array(2) as unknown as Float32Array)).toThrow(/Float32Array or Float64Array/);
    await world.barrier();
    const gathered = await world.allGather(Int32Array.from([4, 5]));
    expect(gathered.map((a) => Array.from(a))).toEqual([[4, 5]]);
    expect(gathered[0]).toBeInstanceOf(Int32Array);
    await expect(world.allReduce(new Int32Array(2) as unknown as Float32Array)).rejects.toThrow(/Float32Array or Float64Array, got Int32Array/);
    await expect(world.allReduce(data, { op: 'prod' as 'sum' })).rejects.toThrow(/op must be/);
    await expect(world.broadcast(data, { root: 1 })).rejects.toThrow(/root must be an integer rank in \[0, 1\)/);
    await expect(world.barrier({ timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    await world.shutdown();
    await expect(world.barrier()).rejects.toThrow(/after shutdown/);
  });

  it("backend 'single' under a launcher of several processes is refused", async () => {
    await expect(initDistributed({ backend: 'single', env: { PMI_RANK: '0', PMI_SIZE: '2' } })).rejects.toThrow(/mpich started 2 processes/);
    await expect(initDistributed({ backend: 'gloo' as 'mpi' })).rejects.toThrow(/backend must be/);
  });
});

describe('naming lost ranks after a timeout', () => {
  const hosts = ['a', 'a', 'b', 'a'];
  const pids = [10, 11, 12, 13];
  it('names local ranks whose process has exited', () => {
    const { lostRanks, text } = describeLostRanks(0, pids, hosts, (pid) => pid !== 13);
    expect(lostRanks).toEqual([3]);
    expect(text).toBe('lost rank 3 (pid 13 on a has exited); rank 2 on other hosts could not be checked');
  });
  it('says when every local rank is alive', () => {
    const { lostRanks, text } = describeLostRanks(2, pids, hosts, () => true);
    expect(lostRanks).toEqual([]);
    expect(text).toBe('ranks 0, 1, 3 on other hosts could not be checked; a rank is stuck, was stopped, or the network failed');
    expect(describeLostRanks(1, pids, hosts, () => true).text).toBe(
      'the other ranks on this host (a) are still running; rank 2 on other hosts could not be checked; a rank is stuck, was stopped, or the network failed',
    );
  });
  it('checks real processes: this one is alive, a finished child is not', async () => {
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.status).toBe(0);
    const { lostRanks } = describeLostRanks(0, [process.pid, process.pid, child.pid!], ['h', 'h', 'h']);
    expect(lostRanks).toEqual([2]);
  });
  it('DistributedError carries code, rank and lost ranks', () => {
    const error = new DistributedError('m', 'ERR_DISTRIBUTED_TIMEOUT', 1, [0]);
    expect(error).toBeInstanceOf(Error);
    expect({ name: error.name, code: error.code, rank: error.rank, lostRanks: error.lostRanks }).toEqual({
      name: 'DistributedError', code: 'ERR_DISTRIBUTED_TIMEOUT', rank: 1, lostRanks: [0],
    });
  });
});
