/**
 * No silent wrong results: crash-consistent checkpoints, resume only into the same run, one process per run
 * directory, atomic writes whose errors name the file, divergence detected in the weights. Tiny synthetic runs on
 * the cpu backend; faults are injected through the atomic writer's test-only hooks (LONGTAIL_TEST_CRASH_AT,
 * LONGTAIL_TEST_FAIL_WRITE) in child processes running the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  findNonFinite,
  loadCheckpoint,
  loadTrainingData,
  mergeConfig,
  readMetrics,
  resolveConfig,
  RunDirectoryError,
  train,
  type EpochRecord,
  type RunConfig,
} from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'dist', 'cli.js');
const sink = { write: () => true, isTTY: false };

const BASE = {
  name: 'integrity',
  backend: 'cpu',
  progress: 'plain',
  seed: 3,
  data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 } },
  model: { backbone: 'tiny' },
  stage1: { epochs: 2, batchSize: 48, optimizer: { lr: 0.05 }, schedule: { warmupEpochs: 0.5, milestones: [1] } },
  stage2: { epochs: 1, batchSize: 48 },
  // Selection on test: the crash test below counts best-checkpoint writes from the test top-1 per epoch in metrics.
  evaluation: { batchSize: 200, select: 'test' },
};

function rawConfig(overrides: unknown = {}): Record<string, unknown> {
  return mergeConfig(BASE, overrides) as Record<string, unknown>;
}

function tinyConfig(outputDir: string, overrides: unknown = {}): RunConfig {
  return resolveConfig({ ...rawConfig(overrides), outputDir, progress: 'none' });
}

function temporary(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `longtail-${prefix}-`));
}

/** The built CLI in a child process; `env` adds test hooks. */
function longtail(args: string[], env: Record<string, string> = {}, cwd = tmpdir()) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('LONGTAIL_TEST_')));
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, env: { ...clean, ...env }, encoding: 'utf8', timeout: 180_000 });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

function writeConfigFile(directory: string, overrides: unknown = {}): string {
  const file = path.join(directory, `config-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(rawConfig(overrides)));
  return file;
}

async function expectSameTensors(a: string, b: string): Promise<void> {
  const x = await loadCheckpoint(a);
  const y = await loadCheckpoint(b);
  expect(y.payloadSha256, `${path.basename(a)} differs`).toBe(x.payloadSha256);
}

function temporaryFilesIn(directory: string): string[] {
  return existsSync(directory) ? readdirSync(directory).filter((name) => name.includes('.tmp-')) : [];
}

const hasCli = existsSync(cli);

describe('run integrity: crash-consistent checkpoints (finding 1)', () => {
  it.skipIf(!hasCli)(
    'a kill -9 or a full disk between the last and best writes: --resume repairs best from last and ends as an uninterrupted run',
    async () => {
      const root = temporary('crash');
      const config = writeConfigFile(root, { stage1: { epochs: 4, schedule: { milestones: [3] } } });
      const straight = path.join(root, 'straight');
      const done = longtail(['train', '--config', config, '--outputDir', straight]);
      expect(done.stderr).toBe('');
      expect(done.code).toBe(0);
      // The fault must hit the *last* best write of stage 1 (no later best rewrites the file) and not the first (which
      // has no older best to be confused with).
      const top1 = readMetrics(path.join(straight, 'metrics.jsonl'))
        .filter((m): m is EpochRecord => m.type === 'epoch' && m.stage === 1)
        .map((m) => m.top1 as number);
      const bestWrites = top1.filter((value, i) => top1.slice(0, i).every((earlier) => value > earlier)).length;
      expect(bestWrites, `stage-1 top-1 per epoch ${top1}: needs two improvements`).toBeGreaterThanOrEqual(2);

      for (const [label, env, expectKilled] of [
        ['kill -9 before the rename of the last stage1-best.ckpt', { LONGTAIL_TEST_CRASH_AT: `stage1-best.ckpt#${bestWrites}` }, true],
        ['ENOSPC writing the last stage1-best.ckpt', { LONGTAIL_TEST_FAIL_WRITE: `stage1-best.ckpt#${bestWrites}:ENOSPC` }, false],
      ] as const) {
        const dir = path.join(root, expectKilled ? 'killed' : 'full');
        const crashed = longtail(['train', '--config', config, '--outputDir', dir], env);
        if (expectKilled) expect(crashed.signal, label).toBe('SIGKILL');
        else {
          expect(crashed.code, label).toBe(1);
          expect(crashed.stderr).toMatch(/^longtail: error: cannot write \S+stage1-best\.ckpt: ENOSPC/);
          expect(temporaryFilesIn(path.join(dir, 'checkpoints'))).toEqual([]);
        }
        // The fault hit the moment in question: last names a best network that best.ckpt does not hold.
        const last = await loadCheckpoint<{ best: { sha256: string } }>(path.join(dir, 'checkpoints', 'stage1-last.ckpt'));
        const best = await loadCheckpoint(path.join(dir, 'checkpoints', 'stage1-best.ckpt'));
        expect(best.payloadSha256, label).not.toBe(last.meta.best.sha256);

        const resumed = longtail(['train', '--config', config, '--outputDir', dir, '--resume']);
        expect(resumed.stderr, label).toBe('');
        expect(resumed.code, label).toBe(0);
        // Stage 2 started from the right network: everything as in the uninterrupted run.
        for (const which of ['stage2-last', 'stage2-best', 'stage1-best']) {
          await expectSameTensors(path.join(straight, 'checkpoints', `${which}.ckpt`), path.join(dir, 'checkpoints', `${which}.ckpt`));
        }
        expect(resumed.stdout).toMatch(/rewrote stage1-best\.ckpt from stage1-last\.ckpt/);
        expect(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')).top1).toBe(JSON.parse(readFileSync(path.join(straight, 'results.json'), 'utf8')).top1);
      }
    },
    600_000,
  );

  it('resume verifies best.ckpt against the network last.ckpt names: repaired when last is that network, refused otherwise', async () => {
    await tf.setBackend('cpu');
    const root = temporary('swap');
    // Repairable: only epoch 2 is evaluated, so epoch 2 (= last) is the best; put epoch 1's network in best's place,
    // as a best file from before would be after a crash between the two writes.
    const overrides = { stage1: { epochs: 2 }, evaluation: { everyEpochs: 2 }, checkpoint: { keepEveryEpoch: true } };
    const config = tinyConfig(path.join(root, 'repair'), overrides);
    const data = await loadTrainingData(config);
    await train(config, { data, stream: sink, stopAfter: { stage: 1, epoch: 2 } });
    let checkpoints = path.join(root, 'repair', 'checkpoints');
    copyFileSync(path.join(checkpoints, 'stage1-epoch0001.ckpt'), path.join(checkpoints, 'stage1-best.ckpt'));
    const resumed = await train(config, { data, stream: sink, resume: true });
    expect(resumed.stage2).toBeDefined();
    const last = await loadCheckpoint<{ best: { sha256: string; epoch: number } }>(path.join(checkpoints, 'stage1-last.ckpt'));
    expect(last.meta.best.epoch).toBe(1);
    expect((await loadCheckpoint(path.join(checkpoints, 'stage1-best.ckpt'))).payloadSha256).toBe(last.meta.best.sha256);
    // Stage 2 started from epoch 2's network, not from the epoch-1 network that was in stage1-best.ckpt.
    expect((await loadCheckpoint<{ from: string }>(path.join(checkpoints, 'stage2-last.ckpt'))).meta.from).toBe(last.meta.best.sha256);

    // Not repairable: stopped after epoch 3 of 4 (evaluated at 2 and 4), last names epoch 2 as the best.
    const other = tinyConfig(path.join(root, 'refuse'), { ...overrides, stage1: { epochs: 4, schedule: { milestones: [3] } } });
    await train(other, { data, stream: sink, stopAfter: { stage: 1, epoch: 3 } });
    checkpoints = path.join(root, 'refuse', 'checkpoints');
    copyFileSync(path.join(checkpoints, 'stage1-epoch0001.ckpt'), path.join(checkpoints, 'stage1-best.ckpt'));
    await expect(train(other, { data, stream: sink, resume: true })).rejects.toThrow(
      /--resume: the stage-1 checkpoints are inconsistent: \S+stage1-last\.ckpt names the best network of epoch 2 \(sha256 \w+\), but \S+stage1-best\.ckpt holds another network \(after epoch 1/,
    );
  }, 240_000);
});

describe('run integrity: a run directory holds one run (finding 2)', () => {
  it('a fresh train into an old run directory is refused; --overwrite clears the old stage-2 checkpoints; another run\'s checkpoint is refused on resume', async () => {
    await tf.setBackend('cpu');
    const root = temporary('fresh');
    const dir = path.join(root, 'run');
    const old = tinyConfig(dir, { stage1: { epochs: 1 } });
    const data = await loadTrainingData(old);
    await train(old, { data, stream: sink });
    expect(existsSync(path.join(dir, 'checkpoints', 'stage2-last.ckpt'))).toBe(true);
    copyFileSync(path.join(dir, 'checkpoints', 'stage2-last.ckpt'), path.join(root, 'old-stage2-last.ckpt'));

    const fresh = tinyConfig(dir, { seed: 4 });
    await expect(train(fresh, { data, stream: sink })).rejects.toThrow(/is not empty \(.*\): continue that run with --resume, or pass --overwrite/);
    // With --overwrite the new run starts clean, and dies in stage 1.
    await train(fresh, { data, stream: sink, overwrite: true, stopAfter: { stage: 1, epoch: 1 } });
    expect(readdirSync(path.join(dir, 'checkpoints')).sort()).toEqual(['stage1-best.ckpt', 'stage1-last.ckpt']);
    expect(existsSync(path.join(dir, 'results.json'))).toBe(false);

    // An old run's stage-2 checkpoint (put back by hand, or by an older longtail) is not continued.
    copyFileSync(path.join(root, 'old-stage2-last.ckpt'), path.join(dir, 'checkpoints', 'stage2-last.ckpt'));
    await expect(train(fresh, { data, stream: sink, resume: true })).rejects.toThrow(/stage2-last\.ckpt belongs to another run/);
    // Without it the resume continues stage 1 of the new run.
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dir, 'checkpoints', 'stage2-last.ckpt'));
    const resumed = await train(fresh, { data, stream: sink, resume: true });
    expect(resumed.stage2).toBeDefined();
    const epochs = readMetrics(path.join(dir, 'metrics.jsonl')).filter((m) => m.type === 'epoch').map((m) => `${m.stage}:${m.epoch}`);
    expect(epochs).toEqual(['1:0', '1:1', '2:0']);
  }, 240_000);

  it('--resume with a changed lr, seed or data size is refused, listing the keys, and rewrites nothing', async () => {
    await tf.setBackend('cpu');
    const dir = path.join(temporary('changed'), 'run');
    const config = tinyConfig(dir, { stage1: { epochs: 2 } });
    const data = await loadTrainingData(config);
    await train(config, { data, stream: sink, stopAfter: { stage: 1, epoch: 1 } });
    const before = Object.fromEntries(['config.json', 'run.json', 'metrics.jsonl'].map((name) => [name, readFileSync(path.join(dir, name), 'utf8')]));

    const changed = tinyConfig(dir, { seed: 4, stage1: { epochs: 2, optimizer: { lr: 0.1 } } });
    const error = await train(changed, { stream: sink, resume: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunDirectoryError);
    expect((error as Error).message).toMatch(/--resume: .* holds a run with a different config: /);
    expect((error as Error).message).toContain('seed (3 → 4)');
    expect((error as Error).message).toContain('stage1.optimizer.lr (0.05 → 0.1)');
    const smaller = tinyConfig(dir, { stage1: { epochs: 2 }, data: { trainLimit: 100 } });
    await expect(train(smaller, { stream: sink, resume: true })).rejects.toThrow(/data\.trainLimit \(null → 100\).*data\.trainImages \(\d+ → 100\)/);
    for (const [name, text] of Object.entries(before)) expect(readFileSync(path.join(dir, name), 'utf8'), name).toBe(text);

    // A resume-safe key is refused too unless allowed; an unsafe key cannot be allowed.
    const otherBatch = tinyConfig(dir, { stage1: { epochs: 2 }, evaluation: { batchSize: 100 } });
    await expect(train(otherBatch, { data, stream: sink, resume: true })).rejects.toThrow(/evaluation\.batchSize \(200 → 100\); pass --allow-changed evaluation\.batchSize/);
    await expect(train(changed, { data, stream: sink, resume: true, allowChanged: ['seed'] })).rejects.toThrow(/--allow-changed seed: only backend, evaluation\.batchSize/);
    const resumed = await train(otherBatch, { data, stream: sink, resume: true, allowChanged: ['evaluation.batchSize'] });
    expect(resumed.final).toBeDefined();
  }, 240_000);

  it.skipIf(!hasCli)('the CLI refuses a mismatched resume with exit 2, keeps config.json, and eval works after it; eval writes beside results.json', () => {
    const root = temporary('cli-resume');
    const dir = path.join(root, 'run');
    const config = writeConfigFile(root, { stage1: { epochs: 1 } });
    const trained = longtail(['train', '--config', config, '--outputDir', dir]);
    expect(trained.code).toBe(0);
    const savedConfig = readFileSync(path.join(dir, 'config.json'), 'utf8');
    const savedResults = readFileSync(path.join(dir, 'results.json'), 'utf8');

    const refused = longtail(['train', '--config', config, '--outputDir', dir, '--resume', '--stage1.optimizer.lr', '0.2']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^longtail: error: --resume: .* different config: stage1\.optimizer\.lr \(0\.05 → 0\.2\)/);
    expect(readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe(savedConfig);
    const again = longtail(['train', '--config', config, '--outputDir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty .*--overwrite/);

    // eval still works, and writes results/eval-<checkpoint>.json, not over the training's results.json (finding 9).
    const evaluated = longtail(['eval', '--run', dir, '--checkpoint', 'last']);
    expect(evaluated.stderr).toBe('');
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toContain(path.join(dir, 'results', 'eval-stage2-last.json'));
    expect(readFileSync(path.join(dir, 'results.json'), 'utf8')).toBe(savedResults);
    expect(JSON.parse(readFileSync(path.join(dir, 'results', 'eval-stage2-last.json'), 'utf8')).checkpoint).toBe(path.join('checkpoints', 'stage2-last.ckpt'));
  }, 300_000);
});

describe('run integrity: divergence in the weights (finding 3)', () => {
  it('batch-norm statistics that overflow while the loss stays finite stop the run; nothing non-finite is checkpointed', async () => {
    await tf.setBackend('cpu');
    const dir = path.join(temporary('diverge'), 'run');
    // Cross-entropy without mixup at lr 100: the loss stays finite (huge), the moving variance overflows.
    const config = tinyConfig(dir, { stage1: { epochs: 4, loss: { name: 'ce' }, mixup: { alpha: 0 }, optimizer: { lr: 100 }, schedule: { warmupEpochs: 0, milestones: [] } }, stage2: { enabled: false } });
    const error = await train(config, { stream: sink }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^stage 1 epoch \d: the network diverged: weight \d+:\S+ holds (NaN|-?Infinity) \(\d+ of \d+ values not finite\); nothing non-finite was checkpointed/);
    // The loss was finite throughout: the weights, not the loss, gave the divergence away.
    expect(readMetrics(path.join(dir, 'metrics.jsonl')).every((m) => m.type !== 'step' || Number.isFinite(m.loss))).toBe(true);
    for (const name of readdirSync(path.join(dir, 'checkpoints'))) {
      const checkpoint = await loadCheckpoint(path.join(dir, 'checkpoints', name));
      expect(findNonFinite(checkpoint.tensors.model), name).toBeNull();
    }
    expect(existsSync(path.join(dir, 'results.json'))).toBe(false);
  }, 240_000);

  it('findNonFinite names the first array with NaN or ±Infinity', () => {
    const record = (name: string, values: number[]) => ({ name, shape: [values.length], dtype: 'float32' as const, data: Float32Array.from(values) });
    expect(findNonFinite([record('a', [1, 2, 3e38])])).toBeNull();
    expect(findNonFinite([record('a', [1]), record('bn/moving_variance', [1, Infinity, NaN])])).toEqual({ name: 'bn/moving_variance', value: Infinity, count: 2, size: 3 });
  });
});

describe('run integrity: one process per run directory (finding 4)', () => {
  it('a second train into a directory in use is refused; a stale lock (dead pid, this host) is taken over', async () => {
    await tf.setBackend('cpu');
    const dir = path.join(temporary('lock'), 'run');
    const config = tinyConfig(dir, { stage1: { epochs: 1 }, stage2: { enabled: false } });
    const data = await loadTrainingData(config);
    const first = train(config, { data, stream: sink });
    // The lock is taken before train() returns its promise.
    const lock = JSON.parse(readFileSync(path.join(dir, '.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid, host: hostname() });
    const second = await train(config, { data, stream: sink }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RunDirectoryError);
    expect((second as Error).message).toMatch(new RegExp(`is in use by another longtail process \\(pid ${process.pid} on `));
    await expect(train(config, { data, stream: sink, resume: true })).rejects.toThrow(/is in use by another longtail process/);
    const summary = await first;
    expect(summary.final).toBeDefined();
    expect(existsSync(path.join(dir, '.lock'))).toBe(false);
    expect(readMetrics(path.join(dir, 'metrics.jsonl')).filter((m) => m.type === 'epoch')).toHaveLength(1);

    // A lock left by a killed process: its pid is dead on this host.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const other = path.join(path.dirname(dir), 'stale');
    mkdirSync(other);
    writeFileSync(path.join(other, '.lock'), JSON.stringify({ pid: dead, host: hostname(), startedAt: '2020-01-01T00:00:00Z', token: 'x' }));
    const taken = await train(tinyConfig(other, { stage1: { epochs: 1 }, stage2: { enabled: false } }), { data, stream: sink });
    expect(taken.final).toBeDefined();
    expect(existsSync(path.join(other, '.lock'))).toBe(false);
    // A live holder on another host cannot be checked: refused.
    writeFileSync(path.join(other, '.lock'), JSON.stringify({ pid: dead, host: 'elsewhere', startedAt: '2020-01-01T00:00:00Z', token: 'y' }));
    await expect(train(tinyConfig(other, { stage1: { epochs: 1 }, stage2: { enabled: false } }), { data, stream: sink, resume: true })).rejects.toThrow(/pid \d+ on elsewhere/);
  }, 240_000);
});

describe('run integrity: two CLI processes (finding 4)', () => {
  it.skipIf(!hasCli)('a second `longtail train` into a directory in use exits 2; the first finishes with its own files', async () => {
    const root = temporary('two');
    const dir = path.join(root, 'run');
    // Long enough (10 epochs) for the other two commands to start while it trains.
    const config = writeConfigFile(root, { stage1: { epochs: 10, schedule: { milestones: [8] } }, stage2: { enabled: false } });
    const { spawn } = await import('node:child_process');
    const first = spawn(process.execPath, [cli, 'train', '--config', config, '--outputDir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    first.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!existsSync(path.join(dir, '.lock')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const second = longtail(['train', '--config', config, '--outputDir', dir, '--seed', '9']);
    const resumed = longtail(['train', '--config', config, '--outputDir', dir, '--resume']);
    expect(await exited, stderr).toBe(0);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`^longtail: error: \\S+ is in use by another longtail process \\(pid ${first.pid} on `));
    expect(resumed.code).toBe(2);
    expect(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).seed).toBe(3);
    expect(readMetrics(path.join(dir, 'metrics.jsonl')).filter((m) => m.type === 'epoch').map((m) => m.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(existsSync(path.join(dir, '.lock'))).toBe(false);
  }, 240_000);
});

describe('run integrity: atomic writes, real errors (finding 5)', () => {
  it.skipIf(!hasCli)(
    'ENOSPC writing results/stage1.json: exit 1 naming the file, no 0-byte file, report and --resume work afterwards',
    () => {
      const root = temporary('enospc');
      const dir = path.join(root, 'run');
      const config = writeConfigFile(root, { stage1: { epochs: 1 } });
      const failed = longtail(['train', '--config', config, '--outputDir', dir], { LONGTAIL_TEST_FAIL_WRITE: 'stage1.json:ENOSPC' });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(new RegExp(`^longtail: error: cannot write ${path.join(dir, 'results', 'stage1.json').replace(/[\\/.]/g, '\\$&')}: ENOSPC: no space left on device`));
      expect(failed.stderr).not.toMatch(/Unexpected end of JSON/);
      expect(existsSync(path.join(dir, 'results', 'stage1.json'))).toBe(false);
      expect(temporaryFilesIn(path.join(dir, 'results'))).toEqual([]);
      expect(longtail(['report', '--run', dir]).code).toBe(0);

      const resumed = longtail(['train', '--config', config, '--outputDir', dir, '--resume']);
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(0);
      // The missing results were recomputed from the best checkpoint they belong to.
      const stage1 = JSON.parse(readFileSync(path.join(dir, 'results', 'stage1.json'), 'utf8'));
      const epoch = readMetrics(path.join(dir, 'metrics.jsonl')).find((m): m is EpochRecord => m.type === 'epoch' && m.stage === 1) as EpochRecord;
      expect(stage1.top1).toBe(epoch.top1);
      expect(existsSync(path.join(dir, 'results.json'))).toBe(true);

      // A damaged (0-byte) results file, as a non-atomic writer on a full disk leaves it: the message names it.
      writeFileSync(path.join(dir, 'results', 'stage1.json'), '');
      const report = longtail(['report', '--run', dir]);
      expect(report.code).toBe(1);
      expect(report.stderr).toMatch(/results[\\/]stage1\.json is not valid JSON \(empty file\)/);

      // report.html is replaced atomically: a failed write keeps the previous report whole.
      writeFileSync(path.join(dir, 'results', 'stage1.json'), JSON.stringify(stage1));
      const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
      const full = longtail(['report', '--run', dir], { LONGTAIL_TEST_FAIL_WRITE: 'report.html:ENOSPC' });
      expect(full.code).toBe(1);
      expect(full.stderr).toMatch(/cannot write \S+report\.html: ENOSPC/);
      expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toBe(html);
    },
    300_000,
  );

  it.skipIf(!hasCli)('a read-only output directory reports EROFS with the file, not ENOENT', () => {
    const root = temporary('erofs');
    const config = writeConfigFile(root, { stage1: { epochs: 1 } });
    const result = longtail(['train', '--config', config, '--outputDir', path.join(root, 'run')], { LONGTAIL_TEST_FAIL_WRITE: 'run.json:EROFS' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^longtail: error: cannot write \S+run\.json: EROFS: read-only file system/);
    expect(result.stderr).not.toMatch(/ENOENT/);
  }, 120_000);
});

describe('run integrity: empty or contradictory settings (finding 9)', () => {
  it('0 test images is an error naming the key, not a run of n/a', async () => {
    await tf.setBackend('cpu');
    const config = tinyConfig(path.join(temporary('empty'), 'run'), { stage1: { epochs: 1 }, stage2: { enabled: false } });
    const data = await loadTrainingData(config);
    const empty = { ...data, test: data.test.select(new Int32Array(0)) };
    const error = await train(config, { data: empty, stream: sink }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^data\.dataset: the test set of synthetic has no images/);
  });

  it('train refuses --name ../../x and a relative outputDir that leaves the working directory', async () => {
    const cwd = temporary('paths');
    const base = resolveConfig(rawConfig());
    const escape = `${path.basename(cwd)}-escaped`;
    await expect(train({ ...base, name: `../${escape}` }, { cwd, stream: sink })).rejects.toThrow(/^name must be a plain name/);
    await expect(train({ ...base, outputDir: `../${escape}` }, { cwd, stream: sink })).rejects.toThrow(new RegExp(`^outputDir "\\.\\./${escape}" leaves the working directory`));
    expect(existsSync(path.join(cwd, '..', escape))).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.skipIf(!hasCli)('a FIFO as config or data file is refused at once instead of hanging', () => {
    const root = temporary('fifo');
    const fifo = path.join(root, 'pipe');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status !== 0) return; // no mkfifo here
    expect(statSync(fifo).isFIFO()).toBe(true);
    const config = longtail(['train', '--config', fifo, '--print-config']);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/config file \S+pipe is not a regular file/);
    const data = longtail(['info', '--data.dataset', 'places-lt', '--data.root', root, '--data.trainSplit', fifo, '--data.testSplit', fifo]);
    expect(data.code).toBe(2);
    expect(data.stderr).toMatch(/data\.trainSplit \S+pipe is a FIFO, not a regular file/);
  }, 120_000);
});
