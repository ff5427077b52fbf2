import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { manyMediumFew } from '@longtail/datasets';
import { describe, expect, it } from 'vitest';
import {
  argmaxPredictions,
  confusionMatrix,
  evaluatePredictions,
  formatPercent,
  perClassAccuracy,
  topKAccuracy,
  writeResults,
} from '../src/index.js';

// 4 samples, 6 classes; hand-computed ranks of the true class: 0, 2, 5, 1.
const logits = new Float32Array([
  9, 1, 1, 1, 1, 1, // label 0 → rank 0
  5, 4, 3, 2, 1, 0, // label 2 → rank 2
  6, 5, 4, 3, 2, 1, // label 5 → rank 5
  3, 3, 0, 0, 0, 0, // label 1 → tie with class 0: lower index first → rank 1
]);
const labels = new Int32Array([0, 2, 5, 1]);

describe('accuracy', () => {
  it('top-k against hand-computed ranks, ties broken by the lower index', () => {
    const predictions = { logits, labels, numClasses: 6 };
    expect(topKAccuracy(predictions, 1)).toBe(0.25);
    expect(topKAccuracy(predictions, 2)).toBe(0.5);
    expect(topKAccuracy(predictions, 3)).toBe(0.75);
    expect(topKAccuracy(predictions, 5)).toBe(0.75);
    expect(topKAccuracy(predictions, 6)).toBe(1);
    expect(Array.from(argmaxPredictions(logits, 6))).toEqual([0, 0, 0, 0]);
  });

  it('confusion matrix and per-class accuracy', () => {
    const matrix = confusionMatrix([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], 4);
    expect(matrix).toEqual([
      [1, 1, 0, 0],
      [1, 2, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 0],
    ]);
    expect(perClassAccuracy(matrix)).toEqual([0.5, 2 / 3, 1, null]);
  });

  it('many / medium / few from training counts (> 100, 20–100, < 20), n/a for an empty group', () => {
    expect(manyMediumFew([6000, 101, 100, 20, 19, 5])).toEqual({ many: [0, 1], medium: [2, 3], few: [4, 5] });
    // Fashion-MNIST-LT at factor 100: 6000 … 60, no class below 20.
    const fashion = [6000, 3597, 2156, 1292, 774, 464, 278, 166, 99, 60];
    const groups = manyMediumFew(fashion);
    expect(groups).toEqual({ many: [0, 1, 2, 3, 4, 5, 6, 7], medium: [8, 9], few: [] });
    const n = 10;
    const perClassLogits = new Float32Array(n * n);
    const perClassLabels = new Int32Array(n);
    for (let c = 0; c < n; c++) {
      perClassLabels[c] = c;
      perClassLogits[c * n + (c < 9 ? c : 0)] = 1; // class 9 misclassified
    }
    const result = evaluatePredictions({ logits: perClassLogits, labels: perClassLabels, numClasses: n }, fashion);
    expect(result.top1).toBeCloseTo(0.9, 12);
    expect(result.many).toBe(1);
    expect(result.medium).toBe(0.5);
    expect(result.few).toBeNull();
    expect(formatPercent(result.few)).toBe('n/a');
    expect(formatPercent(result.medium)).toBe('50.0');
    expect(result.confusion[9][0]).toBe(1);
  });

  it('matches an independent brute-force computation on random data', () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const numClasses = 7;
    const count = 500;
    const scores = new Float32Array(count * numClasses).map(() => random());
    const truth = new Int32Array(count).map(() => Math.floor(random() * numClasses));
    const result = evaluatePredictions({ logits: scores, labels: truth, numClasses }, [500, 200, 101, 100, 50, 20, 3]);
    // Brute force: sort each row descending and look up the true class position.
    let top1 = 0;
    let top5 = 0;
    const hits = new Array(numClasses).fill(0);
    const totals = new Array(numClasses).fill(0);
    for (let i = 0; i < count; i++) {
      const row = Array.from(scores.subarray(i * numClasses, (i + 1) * numClasses)).map((v, j) => [v, j]);
      row.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      const position = row.findIndex(([, j]) => j === truth[i]);
      if (position === 0) top1++;
      if (position < 5) top5++;
      totals[truth[i]]++;
      if (position === 0) hits[truth[i]]++;
    }
    expect(result.top1).toBeCloseTo(top1 / count, 12);
    expect(result.top5).toBeCloseTo(top5 / count, 12);
    const perClass = hits.map((h, c) => h / totals[c]);
    expect(result.perClassAccuracy).toEqual(perClass);
    expect(result.many).toBeCloseTo((perClass[0] + perClass[1] + perClass[2]) / 3, 12);
    expect(result.medium).toBeCloseTo((perClass[3] + perClass[4] + perClass[5]) / 3, 12);
    expect(result.few).toBeCloseTo(perClass[6], 12);
  });

  it('validates its arguments, naming them', () => {
    expect(() => topKAccuracy({ logits: [1, 2, 3], labels: [0], numClasses: 2 }, 1)).toThrow(/^logits must hold/);
    expect(() => topKAccuracy({ logits: [1, 2], labels: [2], numClasses: 2 }, 1)).toThrow(/^labels\[0\] must be/);
    expect(() => topKAccuracy({ logits: [1, 2], labels: [0], numClasses: 2 }, 0)).toThrow(/^k must be/);
    expect(() => evaluatePredictions({ logits: [1, 2], labels: [0], numClasses: 2 }, [1])).toThrow(/^trainCounts must have/);
    expect(() => manyMediumFew([1, -1])).toThrow(/^counts\[1\]/);
  });

  it('writes results.json', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-results-'));
    const result = evaluatePredictions({ logits, labels, numClasses: 6 }, [500, 200, 50, 50, 10, 5]);
    const file = path.join(directory, 'stage2', 'results.json');
    await writeResults(file, result, { stage: 2, epoch: 3 });
    const read = JSON.parse(readFileSync(file, 'utf8'));
    expect(read).toMatchObject({ stage: 2, epoch: 3, top1: 0.25, numSamples: 4, few: 0 });
    expect(read.confusion).toHaveLength(6);
  });
});
