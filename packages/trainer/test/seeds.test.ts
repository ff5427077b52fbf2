/**
 * Seed sweeps: `longtail train --seeds` trains one run per seed and summarises them (mean ± sample std), checked
 * against the seeds' own results files.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { formatSeedStatistic, parseSeeds, runCli, seedStatistic, type SeedsSummary } from '../src/index.js';

function io(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) }, cwd, env: {} } };
}

describe('seed sweeps', () => {
  it('parses --seeds lists and ranges and refuses bad ones', () => {
    expect(parseSeeds('0,1,2')).toEqual([0, 1, 2]);
    expect(parseSeeds('3-5, 9')).toEqual([3, 4, 5, 9]);
    expect(() => parseSeeds('1,1')).toThrow('--seeds lists seed 1 twice');
    expect(() => parseSeeds('a')).toThrow(/--seeds must be comma-separated/);
    expect(() => parseSeeds('5-3')).toThrow(/runs backwards/);
  });

  it('mean ± sample standard deviation, n/a without values', () => {
    const statistic = seedStatistic([0.5, 0.7, null, 0.6]);
    expect(statistic.mean).toBeCloseTo(0.6, 12);
    expect(statistic.std).toBeCloseTo(0.1, 12); // sqrt(((−0.1)² + 0.1² + 0²) / 2)
    expect(statistic.values).toEqual([0.5, 0.7, null, 0.6]);
    expect(formatSeedStatistic(statistic)).toBe('60.0 ± 10.0');
    expect(formatSeedStatistic(seedStatistic([0.25]))).toBe('25.0');
    expect(formatSeedStatistic(seedStatistic([null, null]))).toBe('n/a');
  });

  it(
    'longtail train --seeds 0,1 trains both into seed-<n>/ and writes the summary of their results',
    async () => {
      await tf.setBackend('cpu');
      const directory = mkdtempSync(path.join(tmpdir(), 'longtail-seeds-'));
      const configFile = path.join(directory, 'config.json');
      writeFileSync(
        configFile,
        JSON.stringify({
          name: 'sweep',
          backend: 'cpu',
          progress: 'none',
          data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 } },
          model: { backbone: 'tiny' },
          stage1: { epochs: 1, batchSize: 64, schedule: { warmupEpochs: 0, milestones: [] } },
          stage2: { enabled: false },
          evaluation: { batchSize: 200 },
        }),
      );
      const { out, err, io: cli } = io(directory);
      const code = await runCli(['train', '--config', configFile, '--seeds', '0,1'], cli);
      expect(err.join('')).toBe('');
      expect(code).toBe(0);
      const parent = path.join(directory, 'runs', 'sweep');
      const results = [0, 1].map((seed) => JSON.parse(readFileSync(path.join(parent, `seed-${seed}`, 'results.json'), 'utf8')));
      expect(results.map((r) => JSON.parse(readFileSync(path.join(parent, `seed-${results.indexOf(r)}`, 'config.json'), 'utf8')).seed)).toEqual([0, 1]);
      // Different seeds, different networks.
      expect(results[0].perClassAccuracy).not.toEqual(results[1].perClassAccuracy);
      const summary = JSON.parse(readFileSync(path.join(parent, 'seeds-summary.json'), 'utf8')) as SeedsSummary;
      expect(summary.seeds).toEqual([0, 1]);
      expect(summary.runs).toEqual(['seed-0', 'seed-1']);
      // Independent: mean and |a − b| / √2 (the sample std of two values).
      const [a, b] = results.map((r) => r.top1 as number);
      expect(summary.metrics.top1.mean).toBeCloseTo((a + b) / 2, 12);
      expect(summary.metrics.top1.std).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 12);
      const [ea, eb] = results.map((r) => r.calibration.ece as number);
      expect(summary.metrics.ece.mean).toBeCloseTo((ea + eb) / 2, 12);
      summary.perClass.forEach((statistic, c) => {
        const [x, y] = results.map((r) => r.perClassAccuracy[c] as number);
        expect(statistic.mean).toBeCloseTo((x + y) / 2, 12);
        expect(statistic.std).toBeCloseTo(Math.abs(x - y) / Math.SQRT2, 12);
      });
      expect(summary.trainCounts).toEqual(results[0].trainCounts);
      expect(summary.selection).toBe('val');
      const markdown = readFileSync(path.join(parent, 'seeds-summary.md'), 'utf8');
      expect(markdown).toContain(`| ${formatSeedStatistic(summary.metrics.top1)} |`);
      expect(out.join('')).toContain(markdown);
      expect(existsSync(path.join(parent, 'seed-1', 'report.html'))).toBe(true);
    },
    240_000,
  );
});
