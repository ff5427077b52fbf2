// Run under mpirun -np 2: both ranks all-reduce large buffers in a loop; rank 1 kills itself (SIGKILL) while one
// is in flight. The job must end (mpirun names rank 1) well within 60 s instead of rank 0 hanging.
import { initDistributed } from '../../src/index.js';

const world = await initDistributed({ timeoutMs: Number(process.env.KILL_TIMEOUT_MS ?? 30_000) });
const data = new Float32Array(4_000_000).fill(1);
console.log(`rank ${world.rank}: started pid ${process.pid}`);
if (world.rank === 1) {
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 400);
}
try {
  for (let step = 0; step < 1_000_000; step++) await world.allReduce(data, { op: 'mean' });
} catch (error) {
  // Reached only when the launcher lets rank 0 live on (mpirun --enable-recovery): the watchdog names the lost rank.
  const e = error as { code?: string; message: string; lostRanks?: number[] };
  console.log(`rank ${world.rank}: REJECTED code=${e.code} lost=${JSON.stringify(e.lostRanks)} ${e.message}`);
  process.exit(1);
}
console.log(`rank ${world.rank}: FINISHED (should never happen)`);
