// Run under mpirun -np 2 by test/mpi.test.ts. Every rank prints one line `RESULT <json>`.
import { detectLauncher, initDistributed, MpiCollective } from '../../src/index.js';
import { compare, expectedReduction, inputOf } from './data.js';

const results: Record<string, unknown> = {};
const world = await initDistributed();
if (!(world instanceof MpiCollective)) throw new Error(`expected an MPI world, got ${world.backend}`);
const launcher = detectLauncher();
results.world = {
  backend: world.backend,
  rank: world.rank,
  size: world.size,
  localRank: world.localRank,
  localSize: world.localSize,
  isRoot: world.isRoot,
  threadLevel: world.threadLevel,
  pidMatches: world.pids[world.rank] === process.pid,
};
results.launcher = launcher;
results.env = { localRank: process.env.OMPI_COMM_WORLD_LOCAL_RANK, rank: process.env.OMPI_COMM_WORLD_RANK };

async function reduceCase(name: string, test: number, length: number, op: 'sum' | 'mean' | 'max' | 'min', options: { chunkElements?: number; float64?: boolean } = {}) {
  const Type = options.float64 ? Float64Array : Float32Array;
  const data = inputOf(test, world.rank, length, Type);
  const started = performance.now();
  const returned = await world.allReduce(data, { op, chunkElements: options.chunkElements });
  const milliseconds = performance.now() - started;
  const expected = expectedReduction(test, world.size, length, op, Type);
  results[name] = { length, ...compare(data, expected), sameArray: returned === data, milliseconds: Math.round(milliseconds) };
}

await reduceCase('sumSmall', 1, 1000, 'sum');
await reduceCase('meanSmall', 2, 1000, 'mean');
await reduceCase('maxSmall', 3, 1000, 'max');
await reduceCase('minSmall', 4, 1000, 'min');
await reduceCase('sumLarge', 5, 5_000_000, 'sum'); // several million floats, default chunk (2^24)
await reduceCase('meanLarge', 6, 5_000_000, 'mean');
await reduceCase('sumUnevenChunks', 7, 3_500_001, 'sum', { chunkElements: 1_000_000 }); // 3 full chunks + 500001
await reduceCase('meanUnevenChunks', 8, 2_345_679, 'mean', { chunkElements: 65_536 });
await reduceCase('sumFloat64', 9, 100_003, 'sum', { float64: true, chunkElements: 7_777 });
await reduceCase('sumEmpty', 10, 0, 'sum');

// Several collectives in flight at once complete in call order, each correctly.
{
  const lengths = [10_001, 1, 250_000, 4_096];
  const arrays = lengths.map((length, index) => inputOf(20 + index, world.rank, length));
  await Promise.all(arrays.map((array, index) => world.allReduce(array, { op: index % 2 === 0 ? 'sum' : 'mean' })));
  results.concurrent = arrays.map((array, index) => compare(array, expectedReduction(20 + index, world.size, lengths[index], index % 2 === 0 ? 'sum' : 'mean')));
}

// Broadcast: floats from rank 1, bytes from rank 0.
{
  const floats = world.rank === 1 ? inputOf(30, 1, 1_000_003) : new Float32Array(1_000_003);
  await world.broadcast(floats, { root: 1 });
  const bytes = new Uint8Array(777_777);
  if (world.rank === 0) for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 255;
  await world.broadcast(bytes);
  let byteMismatches = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== ((i * 31 + 7) & 255)) byteMismatches++;
  results.broadcast = { floats: compare(floats, inputOf(30, 1, 1_000_003)), byteMismatches };
}

// Barrier: rank 1 arrives 600 ms late, so rank 0 must wait at least that long.
{
  await world.barrier();
  const started = performance.now();
  if (world.rank === 1) await new Promise((resolve) => setTimeout(resolve, 600));
  await world.barrier();
  results.barrier = { waitedMs: Math.round(performance.now() - started) };
}

// All-gather of arrays of different lengths.
{
  const mine = Int32Array.from({ length: world.rank + 2 }, (_, i) => world.rank * 100 + i);
  const gathered = await world.allGather(mine);
  results.allGather = gathered.map((array) => ({ type: array.constructor.name, values: Array.from(array) }));
}

// allReduceSync: blocking, ordered after the asynchronous collectives queued before it (which it waits for).
{
  const queued = inputOf(50, world.rank, 300_000);
  const pending = world.allReduce(queued, { op: 'sum' });
  const sync = inputOf(51, world.rank, 10_007, Float64Array);
  const returned = world.allReduceSync(sync, { op: 'sum' });
  // The async one ran first (FIFO): its buffer is already reduced when the sync call returns.
  const queuedDoneFirst = compare(queued, expectedReduction(50, world.size, 300_000, 'sum'));
  await pending;
  const mean = inputOf(52, world.rank, 999);
  world.allReduceSync(mean, { op: 'mean' });
  let mismatch: Record<string, unknown>;
  try {
    world.allReduceSync(new Float32Array(world.rank === 0 ? 3 : 4));
    mismatch = { threw: false };
  } catch (error) {
    mismatch = { threw: true, code: (error as { code?: string }).code };
  }
  results.allReduceSync = {
    sum: compare(sync, expectedReduction(51, world.size, 10_007, 'sum', Float64Array)),
    sameArray: returned === sync,
    queuedDoneFirst,
    mean: compare(mean, expectedReduction(52, world.size, 999, 'mean')),
    mismatch,
  };
}

// A mismatch (different lengths on the two ranks) rejects on both ranks; the world stays usable.
{
  try {
    await world.allReduce(new Float32Array(world.rank === 0 ? 5 : 6));
    results.mismatch = { rejected: false };
  } catch (error) {
    results.mismatch = { rejected: true, code: (error as { code?: string }).code, message: (error as Error).message };
  }
  const after = inputOf(40, world.rank, 1000);
  await world.allReduce(after);
  results.afterMismatch = compare(after, expectedReduction(40, world.size, 1000, 'sum'));
}

await world.shutdown();
results.status = world.status();
try {
  await world.barrier();
  results.afterShutdown = 'resolved';
} catch (error) {
  results.afterShutdown = (error as Error).message;
}
console.log(`RESULT ${JSON.stringify(results)}`);
