#!/usr/bin/env node
// `npm run bench:distributed`: data-parallel scaling of `longtail train` on this machine. The same run (ResNet-32,
// GCL loss with mixup, 32×32×3 synthetic images, global batch 64 by default) trained by 1 process × 1 thread and then,
// back to back, by `mpirun -np 2` × 1 thread each (loopback only: shared memory between the ranks, TCP on lo),
// through the built CLI; images/s of the timed steps (after warm-up) from the step timestamps of metrics.jsonl.
// A control runs last: 1 process × 2 threads (the native pack's own threading), which says whether the machine had
// two free cores during the run (on a shared machine it may not: then no data-parallel speed-up can show either).
// One JSON object per line on stdout: one per configuration, then the speed-ups.
//
// Options: --backbone resnet32|resnet20 (default resnet32)  --batch N (default 64)  --steps N (timed, default 7)
//          --warmup N (default 2)  --backend native|cpu|wasm|tensorflow (default native)  --repeat N (default 1)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'packages', 'trainer', 'dist', 'cli.js');
const addon = path.join(root, 'packages', 'distributed', 'build', 'Release', 'longtail_mpi.node');

function parseArguments(argv) {
  const options = { backbone: 'resnet32', batch: 64, steps: 7, warmup: 2, backend: 'native', repeat: 1 };
  for (let index = 0; index < argv.length; index += 1) {
    const name = argv[index].replace(/^--/, '');
    const value = argv[++index];
    if (!(name in options) || value === undefined) throw new Error(`unknown option or missing value: ${argv[index - 1]}`);
    options[name] = typeof options[name] === 'number' ? Number(value) : value;
  }
  return options;
}

const options = parseArguments(process.argv.slice(2));
if (!existsSync(cli)) throw new Error(`${cli} is not built: npm run build`);
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
if (mpirun.status !== 0) throw new Error('mpirun was not found (apt-get install openmpi-bin libopenmpi-dev)');
if (!existsSync(addon)) throw new Error(`the MPI addon ${addon} is not built (npm rebuild @longtail/distributed)`);

const steps = options.warmup + options.steps;
const work = mkdtempSync(path.join(os.tmpdir(), 'longtail-bench-distributed-'));
const configFile = path.join(work, 'config.json');
writeFileSync(
  configFile,
  JSON.stringify({
    name: 'bench-distributed',
    backend: options.backend,
    progress: 'none',
    seed: 1,
    // The synthetic set has 600 training images at imbalance factor 1; the epoch is cut to the steps measured.
    data: { dataset: 'synthetic', inputSize: 32, imbalance: { factor: 1 }, trainLimit: options.batch * steps, testLimit: 32 },
    model: { backbone: options.backbone },
    stage1: { epochs: 1, batchSize: options.batch, schedule: { warmupEpochs: 0, milestones: [] } },
    stage2: { enabled: false },
    evaluation: { batchSize: 32 },
  }),
);
if (options.batch * steps > 600) throw new Error(`--batch × (warmup + steps) must be ≤ 600 (the synthetic set), got ${options.batch * steps}`);

const env = { ...process.env, LONGTAIL_NUM_THREADS: '1', LONGTAIL_DISTRIBUTED_ADDON: addon };
const loopback = ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'core', '--mca', 'btl', 'self,vader,tcp', '--mca', 'btl_tcp_if_include', 'lo', '--mca', 'oob_tcp_if_include', 'lo'];

function measure(label, command, args, threads = 1) {
  const outputDir = path.join(work, label.replace(/\W+/g, '-'));
  const started = Date.now();
  const child = spawnSync(command, [...args, '--outputDir', outputDir], { env: { ...env, LONGTAIL_NUM_THREADS: String(threads) }, encoding: 'utf8', timeout: 900_000 });
  if (child.status !== 0) throw new Error(`${label} failed (${child.status}):\n${child.stdout}\n${child.stderr}`);
  const records = readFileSync(path.join(outputDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  const times = records.filter((record) => record.type === 'step').map((record) => Date.parse(record.time));
  if (times.length !== steps) throw new Error(`${label}: expected ${steps} steps, got ${times.length}`);
  const seconds = (times[steps - 1] - times[options.warmup - 1]) / 1000;
  const imagesPerSecond = (options.steps * options.batch) / seconds;
  rmSync(outputDir, { recursive: true, force: true });
  return { label, imagesPerSecond: Number(imagesPerSecond.toFixed(2)), timedSteps: options.steps, seconds: Number(seconds.toFixed(3)), wallSeconds: (Date.now() - started) / 1000 };
}

const common = { backbone: options.backbone, globalBatch: options.batch, backend: options.backend, threadsPerProcess: 1, cpu: os.cpus()[0]?.model, cores: os.availableParallelism() };
for (let round = 0; round < options.repeat; round += 1) {
  const one = measure('1 process x 1 thread', process.execPath, [cli, 'train', '--config', configFile]);
  console.log(JSON.stringify({ ...common, round, processes: 1, ...one }));
  const two = measure('2 ranks x 1 thread', 'mpirun', [...loopback, '-np', '2', process.execPath, cli, 'train', '--config', configFile]);
  console.log(JSON.stringify({ ...common, round, processes: 2, ...two }));
  const threads = measure('1 process x 2 threads', process.execPath, [cli, 'train', '--config', configFile], 2);
  console.log(JSON.stringify({ ...common, round, processes: 1, ...threads, threadsPerProcess: 2 }));
  console.log(
    JSON.stringify({
      ...common,
      round,
      speedup: Number((two.imagesPerSecond / one.imagesPerSecond).toFixed(3)),
      target: 1.8,
      controlTwoThreadsSpeedup: Number((threads.imagesPerSecond / one.imagesPerSecond).toFixed(3)),
    }),
  );
}
rmSync(work, { recursive: true, force: true });
