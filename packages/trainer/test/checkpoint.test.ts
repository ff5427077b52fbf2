import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CheckpointError, decodeCheckpoint, loadCheckpoint, removeStaleTemporaryFiles, saveCheckpoint } from '../src/checkpoint.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const writerScript = path.join(here, 'fixtures', 'checkpoint-writer.mjs');
const builtCheckpoint = path.join(here, '..', 'dist', 'checkpoint.js');

function temporaryDirectory(): string {
  return mkdtempSync(path.join(tmpdir(), 'longtail-ckpt-'));
}

describe('checkpoint files', () => {
  it('round-trips metadata and float32/int32 arrays exactly', async () => {
    const directory = temporaryDirectory();
    const file = path.join(directory, 'last.ckpt');
    const weights = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 1e-3);
    const counts = Int32Array.from([3, -1, 2147483647]);
    await saveCheckpoint(file, {
      meta: { epoch: 7, stage: 1, sampler: { epoch: 7 }, rng: [1, 2, 3, 4], best: null },
      tensors: {
        model: [{ name: 'conv/kernel', shape: [7, 11, 13], dtype: 'float32', data: weights }],
        optimizer: [{ name: 'step', shape: [3], dtype: 'int32', data: counts }],
      },
    });
    const loaded = await loadCheckpoint(file);
    expect(loaded.meta).toEqual({ epoch: 7, stage: 1, sampler: { epoch: 7 }, rng: [1, 2, 3, 4], best: null });
    expect(loaded.tensors.model[0].shape).toEqual([7, 11, 13]);
    expect(Array.from(loaded.tensors.model[0].data)).toEqual(Array.from(weights));
    expect(loaded.tensors.optimizer[0].data).toBeInstanceOf(Int32Array);
    expect(Array.from(loaded.tensors.optimizer[0].data)).toEqual([3, -1, 2147483647]);
    expect(readdirSync(directory)).toEqual(['last.ckpt']);
  });

  it('rejects truncated, corrupted and foreign files with an error naming the file', async () => {
    const directory = temporaryDirectory();
    const file = path.join(directory, 'c.ckpt');
    await saveCheckpoint(file, {
      meta: { epoch: 1 },
      tensors: { model: [{ name: 'w', shape: [256], dtype: 'float32', data: new Float32Array(256).fill(1) }] },
    });
    const bytes = readFileSync(file);
    for (const cut of [0, 5, 20, 40, bytes.length - 1000, bytes.length - 1]) {
      expect(() => decodeCheckpoint(bytes.subarray(0, cut), 'cut')).toThrow(CheckpointError);
    }
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] ^= 0xff;
    expect(() => decodeCheckpoint(flipped, 'flipped')).toThrow(/checkpoint flipped: payload checksum mismatch/);
    writeFileSync(path.join(directory, 'foreign.ckpt'), '{"epoch": 1}');
    await expect(loadCheckpoint(path.join(directory, 'foreign.ckpt'))).rejects.toThrow(/foreign\.ckpt: not a longtail checkpoint/);
    await expect(loadCheckpoint(path.join(directory, 'missing.ckpt'))).rejects.toThrow(/missing\.ckpt: no such file/);
  });

  it('validates what it is asked to save', async () => {
    const file = path.join(temporaryDirectory(), 'x.ckpt');
    await expect(
      saveCheckpoint(file, { meta: {}, tensors: { model: [{ name: 'w', shape: [3], dtype: 'float32', data: new Float32Array(2) }] } }),
    ).rejects.toThrow(/tensors\.model\["w"\]\.data has 2 values, shape \[3\] needs 3/);
    await expect(
      saveCheckpoint(file, { meta: {}, tensors: { model: [{ name: 'w', shape: [2], dtype: 'int32', data: new Float32Array(2) }] } }),
    ).rejects.toThrow(/must be a Int32Array/);
    expect(existsSync(file)).toBe(false);
  });

  it('removes only temporary files of dead writers, never one a live process is writing (finding 4)', async () => {
    const directory = temporaryDirectory();
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const live = path.join(directory, `.stage1-last.ckpt.tmp-${process.pid}-0123abcd`);
    const stale = path.join(directory, `.stage1-last.ckpt.tmp-${dead}-4567ef01`);
    writeFileSync(live, 'being written');
    writeFileSync(stale, 'left by a killed writer');
    writeFileSync(path.join(directory, 'stage1-last.ckpt'), 'finished');
    expect(await removeStaleTemporaryFiles(directory)).toEqual([path.basename(stale)]);
    expect(readdirSync(directory).sort()).toEqual([path.basename(live), 'stage1-last.ckpt'].sort());
    // saveCheckpoint's own temporary names carry the writer's pid.
    await saveCheckpoint(path.join(directory, 'x.ckpt'), { meta: {}, tensors: {} });
    expect(readdirSync(directory).filter((name) => name.startsWith('.x.ckpt'))).toEqual([]);
  });

  it('a failed write (e.g. ENOSPC) names the file and leaves the previous checkpoint and no temporary file', async () => {
    const directory = temporaryDirectory();
    const file = path.join(directory, 'last.ckpt');
    await saveCheckpoint(file, { meta: { epoch: 1 }, tensors: {} });
    process.env.LONGTAIL_TEST_FAIL_WRITE = 'last.ckpt:ENOSPC';
    try {
      const error = await saveCheckpoint(file, { meta: { epoch: 2 }, tensors: {} }).catch((e: unknown) => e);
      expect((error as Error).message).toBe(`cannot write ${file}: ENOSPC: no space left on device, write (LONGTAIL_TEST_FAIL_WRITE)`);
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      delete process.env.LONGTAIL_TEST_FAIL_WRITE;
    }
    expect((await loadCheckpoint<{ epoch: number }>(file)).meta.epoch).toBe(1);
    expect(readdirSync(directory)).toEqual(['last.ckpt']);
  });

  it.skipIf(!existsSync(builtCheckpoint))(
    'a writer killed at random moments never leaves an unloadable or torn checkpoint',
    async () => {
      const directory = temporaryDirectory();
      const file = path.join(directory, 'last.ckpt');
      const trials = 24;
      let lastConfirmed = 0;
      let killsDuringWrite = 0;
      for (let trial = 0; trial < trials; trial++) {
        const firstEpoch = (trial + 1) * 1000;
        const child = spawn(process.execPath, [writerScript, file, String(firstEpoch)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let confirmed = 0;
        let stderr = '';
        child.stderr.on('data', (chunk) => (stderr += chunk));
        const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            for (const match of chunk.toString().matchAll(/saved (\d+)/g)) confirmed = Math.max(confirmed, Number(match[1]));
            if (confirmed > 0) resolve();
          });
          child.on('exit', () => reject(new Error(`writer exited early: ${stderr}`)));
        });
        // Kill somewhere in the next few writes: at random, mostly in the middle of one.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
        child.kill('SIGKILL');
        await exited;
        if (readdirSync(directory).some((name) => name.includes('.tmp-'))) killsDuringWrite++;
        const loaded = await loadCheckpoint<{ epoch: number }>(file);
        const epoch = loaded.meta.epoch;
        // Never older than what the writer confirmed, never a mix of two writes.
        expect(epoch).toBeGreaterThanOrEqual(Math.max(confirmed, lastConfirmed));
        expect(loaded.tensors.model[0].data.every((value) => value === epoch)).toBe(true);
        expect(loaded.tensors.optimizer[0].data.every((value) => value === -epoch)).toBe(true);
        lastConfirmed = epoch;
        await removeStaleTemporaryFiles(directory);
        expect(readdirSync(directory)).toEqual(['last.ckpt']);
      }
      // The test only means something if some kills landed mid-write.
      expect(killsDuringWrite).toBeGreaterThan(0);
    },
    120_000,
  );
});
