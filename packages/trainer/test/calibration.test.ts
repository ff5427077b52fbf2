/**
 * Calibration against independent computations: a hand-worked example, PyTorch running MiSLAS' ECE code (and the
 * classwise ECE written the same way) on the same logits, and a brute-force search for the temperature.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { manyMediumFew } from '@longtail/datasets';
import { SeededRandom } from '@longtail/samplers';
import { calibration, evaluatePredictions, fitTemperature, softmaxProbabilities } from '../src/index.js';

const python = process.env.PARITY_PYTHON ?? '/usr/bin/python3';
const torchAvailable = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

/** Logits of an over-confident classifier: right ~70 % of the time, logits scaled up. */
function overconfident(count: number, numClasses: number, seed: number, scale = 4) {
  const random = new SeededRandom(seed);
  const logits = new Float32Array(count * numClasses);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = random.nextInt(numClasses);
    labels[i] = label;
    const guess = random.next() < 0.7 ? label : random.nextInt(numClasses);
    for (let j = 0; j < numClasses; j++) logits[i * numClasses + j] = scale * (random.normal(0, 1) + (j === guess ? 2 : 0));
  }
  return { logits, labels };
}

describe('calibration', () => {
  it('matches a hand-worked example (ECE, classwise ECE, NLL, bins)', () => {
    // Two classes, 4 samples with top-1 probabilities 0.9 (right), 0.9 (wrong), 0.6 (right), 0.6 (right); logits
    // log p so that softmax gives p back exactly.
    const p = [
      [0.9, 0.1, 0],
      [0.9, 0.1, 1],
      [0.4, 0.6, 1],
      [0.6, 0.4, 0],
    ];
    const logits = p.flatMap(([a, b]) => [Math.log(a), Math.log(b)]);
    const labels = p.map((row) => row[2]);
    const groups = { many: [0], medium: [1], few: [] };
    const result = calibration(logits, labels, 2, groups, { bins: 10 });
    // Bin (0.8, 0.9]: conf 0.9, acc 0.5 → |0.4| · 2/4; bin (0.5, 0.6]: conf 0.6, acc 1 → |0.4| · 2/4. ECE 0.4.
    expect(result.ece).toBeCloseTo(0.4, 12);
    expect(result.reliability[8]).toMatchObject({ count: 2, accuracy: 0.5 });
    expect(result.reliability[8].confidence).toBeCloseTo(0.9, 12);
    expect(result.reliability[5]).toMatchObject({ count: 2, accuracy: 1 });
    expect(result.reliability.filter((bin) => bin.count === 0).every((bin) => bin.accuracy === null && bin.confidence === null)).toBe(true);
    // Class 0's probabilities 0.9, 0.9, 0.4, 0.6 with labels 1, 0, 0, 1 (is class 0): bins (0.8,0.9]: mass 1.8, hits 1;
    // (0.3,0.4]: mass 0.4, hits 0; (0.5,0.6]: mass 0.6, hits 1 → (0.8 + 0.4 + 0.4) / 4 = 0.4. Class 1 mirrors it.
    expect(result.perClassEce[0]).toBeCloseTo(0.4, 12);
    expect(result.perClassEce[1]).toBeCloseTo(0.4, 12);
    expect(result.classwiseEce).toBeCloseTo(0.4, 12);
    // Per group: class 0 samples (1 and 4): conf 0.9 right, 0.6 right → (0.1 + 0.4) / 2; class 1: 0.9 wrong, 0.6 right.
    expect(result.eceByGroup.many).toBeCloseTo(0.25, 12);
    expect(result.eceByGroup.medium).toBeCloseTo((0.9 + 0.4) / 2, 12);
    expect(result.eceByGroup.few).toBeNull();
    expect(result.nll).toBeCloseTo(-(Math.log(0.9) + Math.log(0.1) + Math.log(0.6) + Math.log(0.6)) / 4, 12);
  });

  it('every evaluation carries it, with the groups of the training counts', () => {
    const { logits, labels } = overconfident(300, 5, 1);
    const counts = [500, 200, 60, 15, 5];
    const result = evaluatePredictions({ logits, labels, numClasses: 5 }, counts);
    expect(result.calibration).toEqual(calibration(logits, labels, 5, manyMediumFew(counts)));
    expect(result.calibration!.bins).toBe(15);
  });

  it.skipIf(!torchAvailable && process.env.CI !== 'true')('equals PyTorch running MiSLAS\' _ECELoss (15 bins) and the classwise ECE', () => {
    expect(torchAvailable, `${python} -c 'import torch' fails: CI must install python3-torch`).toBe(true);
    const numClasses = 7;
    const { logits, labels } = overconfident(2000, numClasses, 2);
    const script = `
import json, sys, torch
d = json.load(sys.stdin)
logits = torch.tensor(d['logits'], dtype=torch.float64).reshape(-1, d['C'])
labels = torch.tensor(d['labels'])
bins = torch.linspace(0, 1, 16, dtype=torch.float64)
# MiSLAS (utils/metric.py, _ECELoss): confidences binned (lower, upper], |avg conf - acc| weighted by bin share
softmaxes = torch.softmax(logits, dim=1)
confidences, predictions = torch.max(softmaxes, 1)
accuracies = predictions.eq(labels)
ece = torch.zeros(1, dtype=torch.float64)
for lo, hi in zip(bins[:-1], bins[1:]):
    in_bin = confidences.gt(lo.item()) * confidences.le(hi.item())
    prop = in_bin.double().mean()
    if prop.item() > 0:
        ece += torch.abs(confidences[in_bin].mean() - accuracies[in_bin].double().mean()) * prop
cw = []
for j in range(d['C']):
    pj = softmaxes[:, j]
    hit = labels.eq(j).double()
    e = 0.0
    for lo, hi in zip(bins[:-1], bins[1:]):
        in_bin = pj.gt(lo.item()) * pj.le(hi.item())
        if in_bin.any():
            e += abs(pj[in_bin].sum().item() - hit[in_bin].sum().item()) / len(labels)
    cw.append(e)
print(json.dumps({'ece': ece.item(), 'classwise': sum(cw) / len(cw), 'perClass': cw}))
`;
    const run = spawnSync(python, ['-c', script], { input: JSON.stringify({ logits: Array.from(logits), labels: Array.from(labels), C: numClasses }), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const reference = JSON.parse(run.stdout);
    const ours = calibration(logits, labels, numClasses, { many: [], medium: [], few: [] });
    expect(reference.ece).toBeGreaterThan(0.02); // not trivially calibrated
    expect(ours.ece).toBeCloseTo(reference.ece, 10);
    expect(ours.classwiseEce).toBeCloseTo(reference.classwise, 10);
    ours.perClassEce.forEach((value, j) => expect(value).toBeCloseTo(reference.perClass[j], 10));
  });

  it('fitTemperature finds the NLL minimum (brute force) and cools an over-confident classifier', () => {
    const numClasses = 6;
    const { logits, labels } = overconfident(1500, numClasses, 3);
    const nll = (t: number) => {
      const p = softmaxProbabilities(logits, numClasses, t);
      let sum = 0;
      for (let i = 0; i < labels.length; i++) sum -= Math.log(p[i * numClasses + labels[i]]);
      return sum / labels.length;
    };
    let bestT = 1;
    for (let t = 0.05; t <= 20; t *= 1.001) if (nll(t) < nll(bestT)) bestT = t;
    const fitted = fitTemperature(logits, labels, numClasses);
    expect(Math.abs(fitted - bestT) / bestT).toBeLessThan(2e-3);
    expect(fitted).toBeGreaterThan(1.5);
    const groups = { many: [], medium: [], few: [] };
    expect(calibration(logits, labels, numClasses, groups, { temperature: fitted }).ece).toBeLessThan(calibration(logits, labels, numClasses, groups).ece / 2);
    expect(() => fitTemperature([], [], numClasses)).toThrow(/at least one validation sample/);
    expect(() => softmaxProbabilities(logits, numClasses, 0)).toThrow(/temperature must be a positive number/);
  });
});
