/**
 * Model selection (`evaluation.select`): the validation split (a stratified hold-out, or the data set's own), the
 * epoch each mode reports, and the test figures of that epoch. The "test" set here is the validation images with every
 * label moved to the next class, so the epochs that are best on one are bad on the other: val and test disagree.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { heldOutCount, InMemoryImageDataset, syntheticDataset } from '@longtail/datasets';
import { classCounts } from '@longtail/samplers';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, loadTrainingData, readMetrics, resolveConfig, train, type EpochRecord, type TrainingData } from '../src/index.js';

const sink = { write: () => true, isTTY: false };

function config(outputDir: string, select: 'val' | 'test' | 'last', extra: Record<string, unknown> = {}) {
  return resolveConfig({
    name: 'selection',
    outputDir,
    backend: 'cpu',
    progress: 'none',
    seed: 5,
    data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.25 }, valFraction: 0.2 },
    model: { backbone: 'tiny' },
    stage1: { epochs: 6, batchSize: 32, mixup: { alpha: 0 }, optimizer: { lr: 0.05 }, schedule: { warmupEpochs: 0, milestones: [] } },
    stage2: { enabled: false },
    evaluation: { batchSize: 200, select },
    ...extra,
  });
}

/** The run's data with its own validation split and a test set whose labels disagree with it. */
async function disagreeingData(outputDir: string): Promise<TrainingData> {
  const base = await loadTrainingData(config(outputDir, 'test'));
  const val = syntheticDataset({ perClass: 30, numClasses: 10, size: 8, seed: 99, name: 'val' });
  const shifted = new InMemoryImageDataset({
    images: val.images,
    labels: val.labels.map((label) => (label + 1) % 10),
    height: val.height,
    width: val.width,
    channels: val.channels,
    numClasses: 10,
    name: 'shifted',
  });
  return { ...base, val, valSource: 'dataset', test: shifted };
}

const epochs = (directory: string) => readMetrics(path.join(directory, 'metrics.jsonl')).filter((m): m is EpochRecord => m.type === 'epoch');
/** 0-based index of the first maximum. */
const firstMax = (values: number[]) => values.indexOf(Math.max(...values));

describe('evaluation.select', () => {
  it('a hold-out is stratified, seeded by data.subsetSeed, disjoint from training, and only made when needed', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'longtail-select-'));
    const whole = await loadTrainingData(config(path.join(root, 'a'), 'test'));
    expect(whole.val).toBeUndefined();
    const held = await loadTrainingData(config(path.join(root, 'b'), 'val'));
    expect(held.valSource).toBe('hold-out');
    const before = classCounts(whole.train.labels, whole.numClasses);
    const train = classCounts(held.train.labels, held.numClasses);
    const val = classCounts(held.val!.labels, held.numClasses);
    // Per class: round(20 %), at least one, never the last image.
    expect(val).toEqual(before.map((n) => heldOutCount(n, 0.2)));
    expect(train).toEqual(before.map((n, c) => n - val[c]));
    expect(val.every((n) => n >= 1)).toBe(true);
    // Disjoint: no training image is in the validation split (images compared byte for byte).
    const key = (dataset: InMemoryImageDataset, i: number) => {
      const size = dataset.height * dataset.width * dataset.channels;
      return Buffer.from(dataset.images.subarray(i * size, (i + 1) * size)).toString('base64');
    };
    const trainKeys = new Set(Array.from({ length: held.train.length }, (_, i) => key(held.train as InMemoryImageDataset, i)));
    const valKeys = Array.from({ length: held.val!.length }, (_, i) => key(held.val as InMemoryImageDataset, i));
    expect(valKeys.filter((k) => trainKeys.has(k))).toEqual([]);
    // The same with another training seed (a seed sweep shares it); another subsetSeed moves it.
    const again = await loadTrainingData(config(path.join(root, 'c'), 'val', { seed: 9 }));
    expect(Array.from(again.val!.labels)).toEqual(Array.from(held.val!.labels));
    expect(valKeys).toEqual(Array.from({ length: again.val!.length }, (_, i) => key(again.val as InMemoryImageDataset, i)));
    const moved = await loadTrainingData(config(path.join(root, 'd'), 'val', { data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.25 }, valFraction: 0.2, subsetSeed: 1 } }));
    expect(Array.from({ length: moved.val!.length }, (_, i) => key(moved.val as InMemoryImageDataset, i))).not.toEqual(valKeys);
    // A validation split with nothing to hold out is an error naming the key.
    await expect(loadTrainingData(config(path.join(root, 'e'), 'val', { data: { dataset: 'synthetic', inputSize: 8, valFraction: 0 } }))).rejects.toThrow(/data\.valFraction/);
  });

  it(
    'val, test and last report different epochs when val and test disagree, with the test figures of the chosen epoch',
    async () => {
      await tf.setBackend('cpu');
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-select-'));
      const data = await disagreeingData(root);
      const chosen: Record<string, number> = {};
      for (const select of ['val', 'test', 'last'] as const) {
        const summary = await train(config(path.join(root, select), select), { data, stream: sink });
        const records = epochs(summary.outputDir);
        expect(records).toHaveLength(6);
        const results = JSON.parse(readFileSync(path.join(summary.outputDir, 'results.json'), 'utf8'));
        const epoch = results.selection.epoch as number;
        chosen[select] = epoch;
        expect(results.selection.mode).toBe(select);
        if (select === 'val') {
          // Every epoch scored on val too; the chosen one is the first best mean per-class validation accuracy.
          const scores = records.map((r) => r.val!.balancedAccuracy as number);
          expect(epoch).toBe(firstMax(scores) + 1);
          expect(results.selection.score).toBe(scores[epoch - 1]);
          expect(results.selection.validationSource).toBe('dataset');
          expect(results.validation.balancedAccuracy).toBe(scores[epoch - 1]);
        } else if (select === 'test') {
          expect(records.every((r) => r.val === undefined)).toBe(true);
          expect(epoch).toBe(firstMax(records.map((r) => r.top1 as number)) + 1);
        } else {
          expect(epoch).toBe(6);
        }
        // The reported test figures are those of the chosen epoch, and the best checkpoint holds its network.
        expect(results.top1).toBe(records[epoch - 1].top1);
        expect(results.many).toBe(records[epoch - 1].many);
        expect(results.calibration.ece).toBe(records[epoch - 1].ece);
        const best = await loadCheckpoint<{ best: { epoch: number } }>(path.join(summary.outputDir, 'checkpoints', 'stage1-best.ckpt'));
        expect(best.meta.best.epoch + 1).toBe(epoch);
      }
      // The premise: on this data val and test choose different epochs.
      expect(chosen.val).not.toBe(chosen.test);
    },
    240_000,
  );

  it(
    'stage 2 starts from the val-selected stage-1 network, and a run stopped and resumed under val ends as the uninterrupted one',
    async () => {
      await tf.setBackend('cpu');
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-select-'));
      const data = await disagreeingData(root);
      const twoStage = (dir: string) => config(path.join(root, dir), 'val', { stage2: { enabled: true, epochs: 2, batchSize: 32 } });
      const straight = await train(twoStage('straight'), { data, stream: sink });
      const stage1Best = await loadCheckpoint<{ best: { epoch: number; sha256: string; score: number } }>(path.join(straight.outputDir, 'checkpoints', 'stage1-best.ckpt'));
      const stage2Last = await loadCheckpoint<{ from: string }>(path.join(straight.outputDir, 'checkpoints', 'stage2-last.ckpt'));
      expect(stage2Last.meta.from).toBe(stage1Best.payloadSha256);
      const scores = epochs(straight.outputDir).filter((r) => r.stage === 1).map((r) => r.val!.balancedAccuracy as number);
      expect(stage1Best.meta.best.epoch).toBe(firstMax(scores));
      expect(stage1Best.meta.best.score).toBe(scores[firstMax(scores)]);
      // Stopped after stage-1 epoch 4 (the best so far carries its validation score), then resumed.
      const first = await train(twoStage('resumed'), { data, stream: sink, stopAfter: { stage: 1, epoch: 4 } });
      expect(first.stopped).toBe(true);
      await train(twoStage('resumed'), { data, stream: sink, resume: true });
      for (const which of ['stage1-best', 'stage2-best', 'stage2-last']) {
        const a = await loadCheckpoint(path.join(straight.outputDir, 'checkpoints', `${which}.ckpt`));
        const b = await loadCheckpoint(path.join(root, 'resumed', 'checkpoints', `${which}.ckpt`));
        expect(b.payloadSha256, which).toBe(a.payloadSha256);
      }
      const results = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8'));
      expect(results(path.join(root, 'resumed')).selection).toEqual(results(straight.outputDir).selection);
    },
    240_000,
  );

  it(
    'temperature scaling is fitted on the validation split and reported before and after on test',
    async () => {
      await tf.setBackend('cpu');
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-select-'));
      const summary = await train(config(path.join(root, 'ts'), 'test', { evaluation: { batchSize: 200, select: 'test', temperatureScaling: true } }), { stream: sink });
      const results = JSON.parse(readFileSync(path.join(summary.outputDir, 'results.json'), 'utf8'));
      const scaling = results.temperatureScaling;
      expect(scaling.temperature).toBeGreaterThan(0);
      // With T = 1 the calibration is that of the reported results. The fitted T minimises the validation NLL; on this
      // (deterministic) run the test NLL falls too, as it should for a split of the same distribution.
      expect(scaling.before.ece).toBeCloseTo(results.calibration.ece, 12);
      expect(scaling.before.nll).toBeCloseTo(results.calibration.nll, 12);
      expect(scaling.after.nll).toBeLessThanOrEqual(scaling.before.nll + 1e-9);
      const data = await loadTrainingData(config(path.join(root, 'probe'), 'test', { evaluation: { select: 'test', temperatureScaling: true } }));
      expect(scaling.fittedOn).toBe(data.val!.length);
      // The report shows it (fitted after training, it lives in results.json) with the scaled reliability diagram.
      const html = readFileSync(path.join(summary.outputDir, 'report.html'), 'utf8');
      expect(html).toContain('class="temperature"');
      expect(html).toContain(`T = ${Number(scaling.temperature.toPrecision(4))}`);
    },
    240_000,
  );
});
