import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, loadTrainingData, readMetrics, resolveConfig, train, type EvaluationResult } from '../src/index.js';
import { chromiumAvailable, renderReport } from './report-helpers.js';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const sink = { write: () => true, isTTY: false };

function tinyConfig(outputDir: string) {
  return resolveConfig({
    name: 'e2e',
    outputDir,
    backend: 'cpu',
    progress: 'none',
    seed: 3,
    data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 } },
    model: { backbone: 'tiny' },
    stage1: { epochs: 2, batchSize: 48, optimizer: { lr: 0.05 }, schedule: { warmupEpochs: 0.5, milestones: [1] } },
    stage2: { epochs: 2, batchSize: 48 },
    evaluation: { batchSize: 200 },
  });
}

describe('two-stage training end to end (synthetic data, tiny backbone, cpu)', () => {
  it(
    'trains both stages, resumes exactly from a checkpoint, evaluates and writes the report',
    async () => {
      await tf.setBackend('cpu');
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-e2e-'));
      const straightConfig = tinyConfig(path.join(root, 'straight'));
      const data = await loadTrainingData(straightConfig);
      expect(data.train.length).toBeGreaterThan(200);
      expect(data.train.length).toBeLessThan(300);

      const tensorsBefore = tf.memory().numTensors;
      const straight = await train(straightConfig, { data, stream: sink });
      // Nothing leaks across a whole run (model disposed at the end).
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(straight.stopped).toBe(false);
      const final = straight.final as EvaluationResult;
      expect(final.numSamples).toBe(200);
      // Learns something: far above the 10 % of chance on this easy synthetic task.
      expect(final.top1).toBeGreaterThan(0.3);
      const dir = straight.outputDir;
      expect(readdirSync(path.join(dir, 'checkpoints')).sort()).toEqual(['stage1-best.ckpt', 'stage1-last.ckpt', 'stage2-best.ckpt', 'stage2-last.ckpt']);
      const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8'));
      expect(results.top1).toBe(final.top1);
      expect(results.confusion).toHaveLength(10);
      const metrics = readMetrics(path.join(dir, 'metrics.jsonl'));
      expect(metrics.filter((m) => m.type === 'epoch').map((m) => `${m.stage}:${m.epoch}`)).toEqual(['1:0', '1:1', '2:0', '2:1']);
      expect(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual(straightConfig);

      // The same run interrupted after stage-1 epoch 1, then resumed: identical weights at the end.
      const interruptedConfig = tinyConfig(path.join(root, 'interrupted'));
      const first = await train(interruptedConfig, { data, stream: sink, stopAfter: { stage: 1, epoch: 1 } });
      expect(first.stopped).toBe(true);
      const resumed = await train(interruptedConfig, { data, stream: sink, resume: true });
      expect(resumed.final?.top1).toBe(final.top1);
      for (const which of ['stage1-last', 'stage2-last']) {
        const a = await loadCheckpoint(path.join(dir, 'checkpoints', `${which}.ckpt`));
        const b = await loadCheckpoint(path.join(resumed.outputDir, 'checkpoints', `${which}.ckpt`));
        expect(b.meta).toEqual(a.meta);
        a.tensors.model.forEach((record, i) => expect(Array.from(b.tensors.model[i].data), `${which} ${record.name}`).toEqual(Array.from(record.data)));
        a.tensors.optimizer.forEach((record, i) => expect(Array.from(b.tensors.optimizer[i].data)).toEqual(Array.from(record.data)));
      }
      const resumedMetrics = readMetrics(path.join(resumed.outputDir, 'metrics.jsonl'));
      expect(resumedMetrics.filter((m) => m.type === 'step').map((m) => m.loss)).toEqual(metrics.filter((m) => m.type === 'step').map((m) => m.loss));

      // The built CLI evaluates the run's best checkpoint and rebuilds the report.
      if (existsSync(cli)) {
        const evaluated = spawnSync(process.execPath, [cli, 'eval', '--run', dir, '--backend', 'cpu'], { encoding: 'utf8', timeout: 120_000 });
        expect(evaluated.stderr).toBe('');
        expect(evaluated.status).toBe(0);
        expect(evaluated.stdout).toMatch(new RegExp(`top-1 ${(100 * final.top1).toFixed(1)}%`));
        const reported = spawnSync(process.execPath, [cli, 'report', '--run', dir], { encoding: 'utf8', timeout: 60_000 });
        expect(reported.status).toBe(0);
      }
      const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
      expect(html).toContain('stage 2 (best)');
      if (chromiumAvailable) {
        const rendered = await renderReport(path.join(dir, 'report.html'), dir);
        expect(rendered.errors).toEqual([]);
        expect(rendered.chartNames).toEqual(['loss', 'accuracy', 'per-class', 'shots', 'reliability', 'clouds', 'confusion']);
        expect(existsSync(rendered.screenshot)).toBe(true);
      } else {
        console.warn('Chromium not found: the end-to-end report was not rendered');
      }
    },
    240_000,
  );
});
