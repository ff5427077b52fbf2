// Run under mpirun -np 2: rank 1 stays alive but never joins the collective; rank 0's watchdog must reject it after
// its timeout, and rank 0's exit (code 1) must MPI_Abort the job so rank 1 is ended too.
// With HANG_MODE=finalize, rank 1 leaves cleanly (shutdown + exit 0) instead; rank 0 then names it as lost.
import { initDistributed } from '../../src/index.js';

const world = await initDistributed();
const mode = process.env.HANG_MODE ?? 'sleep';
if (world.rank === 1) {
  if (mode === 'finalize') {
    await world.shutdown();
    console.log('rank 1: shut down cleanly, exiting');
  } else {
    console.log('rank 1: sleeping instead of joining');
    setTimeout(() => {}, 600_000);
  }
} else {
  const started = Date.now();
  try {
    await world.allReduce(new Float32Array(1000), { timeoutMs: 2_000 });
    console.log('rank 0: allReduce completed (should not happen)');
  } catch (error) {
    const e = error as { code?: string; message: string; lostRanks?: number[] };
    console.log(`rank 0: REJECTED after ${Date.now() - started} ms code=${e.code} lost=${JSON.stringify(e.lostRanks)} ${e.message}`);
    try {
      await world.barrier();
    } catch (later) {
      console.log(`rank 0: LATER ${(later as { code?: string }).code}`);
    }
    process.exitCode = 1;
  }
}
