// Run under mpirun -np 2. EXIT_MODE=clean: no shutdown() call; the exit hook must MPI_Finalize and mpirun exit 0.
// EXIT_MODE=throw: rank 1 throws an uncaught error while rank 0 waits in a barrier (60 s timeout); the exit hook
// must MPI_Abort so the job ends at once, naming rank 1.
import { initDistributed } from '../../src/index.js';

const world = await initDistributed({ timeoutMs: 60_000 });
const data = new Float32Array(1000).fill(world.rank);
await world.allReduce(data);
console.log(`rank ${world.rank}: reduced ${data[0]}`);
if (process.env.EXIT_MODE === 'throw') {
  if (world.rank === 1) throw new Error('rank 1 fails on purpose');
  await world.barrier();
  console.log('rank 0: barrier passed (should not happen)');
}
