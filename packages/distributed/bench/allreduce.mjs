#!/usr/bin/env node
// All-reduce of a ResNet-50-sized gradient (25.6 M float32 = 102.4 MB) between 2 local ranks, beside the machine's
// raw memory bandwidth measured in the same run (a 102.4 MB Float32Array.set, i.e. memcpy, on rank 0 while the other
// rank waits). Prints JSON lines.
//
//   node bench/allreduce.mjs [--floats 25600000] [--repeats 5] [--btl tcp,vader]
//
// Without a launcher it starts itself under `mpirun -np 2` once per transport: `tcp` (loopback only, as CI runs)
// and `vader` (Open MPI's shared memory, the normal path between ranks on one machine; retried without its
// single-copy mechanism where the container forbids it). Needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const argument = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
};
const floats = Number(argument('floats', 25_600_000));
const repeats = Number(argument('repeats', 5));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

if (process.env.OMPI_COMM_WORLD_SIZE === undefined && process.env.PMI_SIZE === undefined) {
  const self = fileURLToPath(import.meta.url);
  const attempts = [];
  for (const transport of argument('btl', 'tcp,vader').split(',')) {
    attempts.push({ transport, label: transport, extra: [] });
  }
  for (let index = 0; index < attempts.length; index++) {
    const { transport, label, extra } = attempts[index];
    const run = spawnSync(
      'mpirun',
      [
        '--allow-run-as-root', '--oversubscribe', '-np', '2',
        '--mca', 'btl', `self,${transport}`,
        '--mca', 'btl_tcp_if_include', 'lo', '--mca', 'oob_tcp_if_include', 'lo',
        ...extra,
        '-x', `BENCH_TRANSPORT=${label}`,
        process.execPath, self, '--floats', String(floats), '--repeats', String(repeats),
      ],
      { encoding: 'utf8', timeout: 300_000 },
    );
    process.stdout.write(run.stdout);
    if (run.status !== 0 && transport === 'vader' && extra.length === 0) {
      // Containers often forbid the cross-memory-attach (CMA) syscalls of vader's single-copy path: retry without.
      attempts.push({ transport, label: 'vader-copy-in-out', extra: ['--mca', 'btl_vader_single_copy_mechanism', 'none'] });
    } else if (run.status !== 0) {
      process.stderr.write(run.stderr);
      console.log(JSON.stringify({ bench: 'allreduce', transport: label, error: `mpirun exited with ${run.status ?? run.signal}` }));
      process.exitCode = 1;
    }
  }
} else {
  const { initDistributed, mpiLibraryVersion } = await import('../dist/index.js');
  const world = await initDistributed({ timeoutMs: 120_000 });
  const transport = process.env.BENCH_TRANSPORT ?? 'default';
  const bytes = floats * 4;

  // Raw memory bandwidth: copy a 102.4 MB buffer into another (rank 0 alone; rank 1 waits in a barrier).
  if (world.rank === 0) {
    const source = new Float32Array(floats).fill(1.25);
    const target = new Float32Array(floats);
    target.set(source); // page in
    const times = [];
    for (let i = 0; i < Math.max(5, repeats); i++) {
      const started = process.hrtime.bigint();
      target.set(source);
      times.push(Number(process.hrtime.bigint() - started) / 1e9);
    }
    const seconds = median(times);
    console.log(JSON.stringify({
      bench: 'memcpy', transport, bytes, medianSeconds: +seconds.toFixed(4),
      copyGBps: +(bytes / seconds / 1e9).toFixed(2), trafficGBps: +((2 * bytes) / seconds / 1e9).toFixed(2),
      note: 'Float32Array.set of one 102.4 MB buffer into another; traffic counts the read and the write',
    }));
  }
  await world.barrier();

  const data = new Float32Array(floats);
  for (const op of ['sum', 'mean']) {
    const times = [];
    for (let i = 0; i < repeats + 1; i++) {
      data.fill(world.rank + 1);
      await world.barrier();
      const started = process.hrtime.bigint();
      await world.allReduce(data, { op });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (i > 0) times.push(seconds); // the first call warms up connections and buffers
    }
    const expected = op === 'sum' ? 3 : 1.5;
    const correct = data[0] === expected && data[floats - 1] === expected && data[floats >> 1] === expected;
    if (world.rank === 0) {
      const seconds = median(times);
      console.log(JSON.stringify({
        bench: 'allreduce', transport, ranks: world.size, op, floats, bytes, repeats,
        medianSeconds: +seconds.toFixed(4), minSeconds: +Math.min(...times).toFixed(4),
        // A ring all-reduce moves 2 (n − 1) / n of the buffer in and out of each rank.
        algorithmGBps: +(bytes / seconds / 1e9).toFixed(2), busGBps: +(((2 * (world.size - 1)) / world.size) * bytes / seconds / 1e9).toFixed(2),
        correct, library: mpiLibraryVersion().split(',')[0],
      }));
    }
  }
  await world.shutdown();
}
