import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { initDistributed, initMpi, isMpiAvailable, loadMpiAddon, mpiLibraryVersion, mpiUnavailableReason, resetMpiAddonCache } from '../src/index.js';
import { addonFile, onCi, packageRoot } from './helpers.js';

// Runs in its own vitest worker; swaps the addon path to simulate a machine without MPI.
describe('without MPI', () => {
  const saved = process.env.LONGTAIL_DISTRIBUTED_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.LONGTAIL_DISTRIBUTED_ADDON;
    else process.env.LONGTAIL_DISTRIBUTED_ADDON = saved;
    resetMpiAddonCache();
  });

  it('the package loads; every MPI entry point says how to get MPI', async () => {
    process.env.LONGTAIL_DISTRIBUTED_ADDON = '/nonexistent/longtail_mpi.node';
    resetMpiAddonCache();
    expect(isMpiAvailable()).toBe(false);
    const reason = mpiUnavailableReason();
    expect(reason).toMatch(/\/nonexistent\/longtail_mpi\.node does not exist/);
    expect(reason).toMatch(/apt-get install openmpi-bin libopenmpi-dev/);
    expect(reason).toMatch(/npm rebuild @longtail\/distributed/);
    expect(() => loadMpiAddon()).toThrow(/apt-get install openmpi-bin libopenmpi-dev/);
    expect(() => mpiLibraryVersion()).toThrow(/MPI is not available/);
    expect(() => initMpi()).toThrow(/MPI is not available/);
    // Under a launcher of 2 processes the error names the launcher and the hint.
    await expect(initDistributed({ env: { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2' } })).rejects.toMatchObject({
      code: 'ERR_DISTRIBUTED_UNAVAILABLE',
      rank: 1,
      message: expect.stringMatching(/^rank 1: openmpi started 2 processes .*does not exist.*apt-get install openmpi-bin libopenmpi-dev/s),
    });
    await expect(initDistributed({ backend: 'mpi', env: {} })).rejects.toThrow(/MPI is not available/);
    // A single process is unaffected.
    expect((await initDistributed({ env: {} })).size).toBe(1);
  });

  it('a file that is not a shared object is reported, not a crash', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-distributed-'));
    const broken = path.join(directory, 'longtail_mpi.node');
    writeFileSync(broken, 'not an ELF file');
    process.env.LONGTAIL_DISTRIBUTED_ADDON = broken;
    resetMpiAddonCache();
    expect(isMpiAvailable()).toBe(false);
    expect(() => loadMpiAddon()).toThrow(/MPI is not available: .*longtail_mpi\.node.*apt-get install/s);
  });

  it('the install script exits 0 and says how to get MPI when no mpicc or pkg-config is found', () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'longtail-distributed-bin-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const run = spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'build-addon.cjs')], {
      cwd: packageRoot,
      encoding: 'utf8',
      env: { PATH: bin, HOME: process.env.HOME ?? '/tmp', LONGTAIL_MPICC: '/nonexistent/mpicc' },
      timeout: 60_000,
    });
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/no MPI development files were found/);
    expect(run.stderr).toMatch(/apt-get install openmpi-bin libopenmpi-dev/);
  });

  // A missing addon fails under CI=true (CI installs Open MPI and builds it); elsewhere there is nothing to load.
  it.skipIf(!onCi && !isMpiAvailable())('the real addon loads and reports its MPI library', () => {
    resetMpiAddonCache();
    process.env.LONGTAIL_DISTRIBUTED_ADDON = addonFile;
    expect(mpiUnavailableReason()).toBeUndefined();
    expect(mpiLibraryVersion()).toMatch(/Open MPI|MPICH|Intel/);
  });
});
