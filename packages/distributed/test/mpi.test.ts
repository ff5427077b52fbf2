import { beforeAll, describe, expect, it } from 'vitest';

import { bundleProgram, requireMpi, results, runMpi, skipMpi, type MpiRun } from './helpers.js';

// Two ranks under mpirun on loopback only. Every expected value is computed independently in the programs (each rank
// regenerates every rank's seeded input and sums in JS), so a wrong reduction, a missing mean division, a dropped
// chunk or a misordered concurrent call shows up as mismatching elements.
describe.skipIf(skipMpi)('two ranks under mpirun (loopback)', () => {
  let run: MpiRun;
  let ranks: Array<Record<string, any>>;
  beforeAll(async () => {
    requireMpi();
    run = await runMpi(bundleProgram('collectives'), { timeoutMs: 120_000 });
    ranks = results(run);
    console.log(`collectives run: ${run.seconds.toFixed(1)} s`);
  }, 150_000);

  it('both ranks finish', () => {
    expect(run.timedOut).toBe(false);
    expect(run.status, run.stderr).toBe(0);
    expect(ranks.map((rank) => rank.world.rank)).toEqual([0, 1]);
  });

  it('report rank, size and local rank as the launcher set them', () => {
    ranks.forEach((result, rank) => {
      expect(result.world).toMatchObject({ backend: 'mpi', rank, size: 2, localRank: rank, localSize: 2, isRoot: rank === 0, pidMatches: true });
      expect(result.world.threadLevel).toBe(3); // MPI_THREAD_MULTIPLE
      expect(result.env).toEqual({ rank: String(rank), localRank: String(rank) });
      expect(result.launcher).toMatchObject({ launcher: 'openmpi', rank, size: 2, localRank: rank, localSize: 2 });
    });
  });

  it.each([
    'sumSmall', 'meanSmall', 'maxSmall', 'minSmall', 'sumLarge', 'meanLarge', 'sumUnevenChunks', 'meanUnevenChunks', 'sumFloat64', 'sumEmpty',
  ])('allReduce %s equals the independently computed reduction on both ranks, in place', (name) => {
    for (const result of ranks) {
      expect(result[name], `rank ${result.world.rank}`).toMatchObject({ mismatches: 0, maxAbs: 0, sameArray: true });
    }
    expect(ranks[0][name].length).toBe({ sumLarge: 5_000_000, meanLarge: 5_000_000, sumUnevenChunks: 3_500_001 }[name as string] ?? ranks[0][name].length);
  });

  it('keeps concurrent allReduce calls in call order', () => {
    for (const result of ranks) for (const entry of result.concurrent) expect(entry).toEqual({ mismatches: 0, maxAbs: 0 });
  });

  it('broadcasts floats from rank 1 and bytes from rank 0', () => {
    for (const result of ranks) expect(result.broadcast).toEqual({ floats: { mismatches: 0, maxAbs: 0 }, byteMismatches: 0 });
  });

  it('barrier waits for the late rank', () => {
    expect(ranks[0].barrier.waitedMs).toBeGreaterThanOrEqual(500);
  });

  it('allGather returns every rank\'s array (lengths differ) with its type', () => {
    const expected = [
      { type: 'Int32Array', values: [0, 1] },
      { type: 'Int32Array', values: [100, 101, 102] },
    ];
    for (const result of ranks) expect(result.allGather).toEqual(expected);
  });

  it('allReduceSync reduces in place, blocking, after the collectives queued before it', () => {
    for (const result of ranks) {
      expect(result.allReduceSync, `rank ${result.world.rank}`).toEqual({
        sum: { mismatches: 0, maxAbs: 0 },
        sameArray: true,
        queuedDoneFirst: { mismatches: 0, maxAbs: 0 },
        mean: { mismatches: 0, maxAbs: 0 },
        mismatch: { threw: true, code: 'ERR_DISTRIBUTED_MISMATCH' },
      });
    }
  });

  it('a length mismatch rejects on both ranks and leaves the world usable', () => {
    for (const result of ranks) {
      expect(result.mismatch.rejected).toBe(true);
      expect(result.mismatch.code).toBe('ERR_DISTRIBUTED_MISMATCH');
      expect(result.mismatch.message).toMatch(new RegExp(`^rank ${result.world.rank}: allReduce .*element count differs between ranks \\(this rank ${5 + result.world.rank}, min 5, max 6\\)`));
      expect(result.afterMismatch).toEqual({ mismatches: 0, maxAbs: 0 });
    }
  });

  it('shuts down cleanly; later calls reject', () => {
    for (const result of ranks) {
      expect(result.status).toMatchObject({ phase: 'finalized', broken: false });
      expect(result.afterShutdown).toMatch(/shut down/);
    }
  });
});

describe.skipIf(skipMpi)('a lost rank', () => {
  it('killing rank 1 mid-collective ends the job within 60 s, naming rank 1', async () => {
    requireMpi();
    const run = await runMpi(bundleProgram('kill'), { timeoutMs: 90_000 });
    console.log(`kill run: ${run.seconds.toFixed(1)} s`);
    const output = run.stdout + run.stderr;
    expect(run.timedOut, output).toBe(false);
    expect(run.seconds).toBeLessThan(60);
    expect(run.status).not.toBe(0);
    expect(output).toMatch(/rank 0: started/);
    expect(output).toMatch(/rank 1: started/);
    expect(output).not.toMatch(/FINISHED/);
    expect(output).toMatch(/process rank 1 .*(exited on signal 9|Killed)/s);
  }, 120_000);

  it('when the launcher lets the others live on (--enable-recovery), the watchdog names the lost rank', async () => {
    requireMpi();
    const run = await runMpi(bundleProgram('kill'), { timeoutMs: 90_000, mpirunArgs: ['--enable-recovery'], env: { KILL_TIMEOUT_MS: '5000' } });
    console.log(`kill run with --enable-recovery: ${run.seconds.toFixed(1)} s`);
    const output = run.stdout + run.stderr;
    expect(run.timedOut, output).toBe(false);
    expect(run.seconds).toBeLessThan(60);
    expect(run.stdout, output).toMatch(
      /rank 0: REJECTED code=ERR_DISTRIBUTED_TIMEOUT lost=\[1\] rank 0: allReduce #\d+ \(4000000 float32, mean\) did not complete within 5 s: lost rank 1 \(pid \d+ on .+ has exited\)/,
    );
    // mpirun's own abort banner is not reliably printed in recovery mode; the exit hook's line is.
    expect(run.stderr).toMatch(/rank 0 is exiting after a failed collective .*MPI_Abort ends the other ranks/);
    expect(output).not.toMatch(/FINISHED/);
  }, 120_000);

  it('an uncaught error on one rank aborts the job at once (exit hook), naming that rank', async () => {
    requireMpi();
    const run = await runMpi(bundleProgram('exit'), { timeoutMs: 60_000, env: { EXIT_MODE: 'throw' } });
    console.log(`throw run: ${run.seconds.toFixed(1)} s`);
    const output = run.stdout + run.stderr;
    expect(run.timedOut, output).toBe(false);
    expect(run.seconds).toBeLessThan(20); // not the 60 s barrier timeout
    expect(run.status).not.toBe(0);
    expect(run.stdout).toMatch(/rank 0: reduced 1/);
    expect(run.stderr).toMatch(/rank 1 fails on purpose/);
    expect(run.stderr).toMatch(/rank 1 is exiting with exit code 1; MPI_Abort ends the other ranks/);
    // (mpirun's own "MPI_ABORT was invoked on rank 1" banner is usually printed too, but not reliably.)
    expect(output).not.toMatch(/barrier passed/);
  }, 90_000);

  it('a program that never calls shutdown() is finalized cleanly at exit', async () => {
    requireMpi();
    const run = await runMpi(bundleProgram('exit'), { timeoutMs: 60_000, env: { EXIT_MODE: 'clean' } });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/rank 0: reduced 1/);
    expect(run.stdout).toMatch(/rank 1: reduced 1/);
    expect(run.stderr).not.toMatch(/MPI_Abort|MPI_ABORT|exiting improperly/);
  }, 90_000);

  it('a rank that never joins: the watchdog rejects after the timeout and the abort ends the job', async () => {
    requireMpi();
    const run = await runMpi(bundleProgram('hang'), { timeoutMs: 60_000 });
    console.log(`hang run: ${run.seconds.toFixed(1)} s`);
    const output = run.stdout + run.stderr;
    expect(run.timedOut, output).toBe(false);
    expect(run.seconds).toBeLessThan(30);
    expect(run.status).not.toBe(0);
    const rejected = /rank 0: REJECTED after (\d+) ms code=(\S+) lost=(\S+) (.*)/.exec(run.stdout);
    expect(rejected, output).not.toBeNull();
    const [, milliseconds, code, lost, message] = rejected!;
    expect(Number(milliseconds)).toBeGreaterThanOrEqual(1_900);
    expect(Number(milliseconds)).toBeLessThan(10_000);
    expect(code).toBe('ERR_DISTRIBUTED_TIMEOUT');
    expect(lost).toBe('[]');
    expect(message).toMatch(/^rank 0: allReduce #\d+ \(1000 float32, sum\) did not complete within 2 s: the other ranks on this host \(.+\) are still running/);
    expect(run.stdout).toMatch(/rank 0: LATER ERR_DISTRIBUTED_FAILED/);
    expect(run.stderr).toMatch(/rank 0 is exiting after a failed collective .*MPI_Abort ends the other ranks/);
    expect(output).not.toMatch(/allReduce completed/);
  }, 90_000);
});
