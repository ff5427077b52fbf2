import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { classifierLayer, encodeSafetensors, exportStateDict } from '@longtail/backbones';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, loadCheckpoint, loadTrainingData, resolveConfig, train } from '../src/index.js';

const sink = { write: () => true, isTTY: false };

describe('backbones from @longtail/backbones in the trainer', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('builds the CIFAR ResNets with the configured head (parameter counts of the PyTorch reference)', async () => {
    const cosine = await buildModel('resnet32', { numClasses: 10, head: 'cosine', inputShape: [32, 32, 3] });
    const dense = await buildModel('resnet32', { numClasses: 10, head: 'dense', inputShape: [32, 32, 3] });
    // 464,154 with a dense head (weights + bias), 464,144 with the bias-free cosine classifier.
    expect(cosine.countParams()).toBe(464_144);
    expect(dense.countParams()).toBe(464_154);
    expect(classifierLayer(cosine).getClassName()).not.toBe(classifierLayer(dense).getClassName());
    cosine.dispose();
    dense.dispose();
  });

  it('imports PyTorch weights (safetensors) into the backbone and keeps the new head (model.pretrained)', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-pretrained-'));
    const source = await buildModel('resnet20', { numClasses: 100, head: 'dense', inputShape: [32, 32, 3] });
    // Make the source weights distinguishable from a fresh initialisation.
    source.setWeights(source.getWeights().map((w) => tf.tidy(() => tf.add(w, 0.5))));
    const file = path.join(directory, 'resnet20.safetensors');
    writeFileSync(file, encodeSafetensors(await exportStateDict(source)));
    const fresh = await buildModel('resnet20', { numClasses: 10, head: 'cosine', inputShape: [32, 32, 3] });
    const imported = await buildModel('resnet20', { numClasses: 10, head: 'cosine', inputShape: [32, 32, 3], pretrained: file });
    const sourceWeights = source.weights.filter((w) => !classifierLayer(source).weights.includes(w));
    const importedWeights = imported.weights.filter((w) => !classifierLayer(imported).weights.includes(w));
    expect(importedWeights).toHaveLength(sourceWeights.length);
    importedWeights.forEach((weight, i) => {
      expect(Array.from(weight.read().dataSync()), weight.name).toEqual(Array.from(sourceWeights[i].read().dataSync()));
    });
    // The 100-class dense head of the file is skipped: the model keeps its own 10-class cosine head.
    expect(classifierLayer(imported).getWeights().map((w) => w.shape)).toEqual(classifierLayer(fresh).getWeights().map((w) => w.shape));
    expect(classifierLayer(imported).getWeights()[0].shape).toEqual([64, 10]);
    await expect(buildModel('resnet20', { numClasses: 10, head: 'cosine', inputShape: [32, 32, 3], pretrained: path.join(directory, 'missing.safetensors') })).rejects.toThrow(/^model\.pretrained .*missing\.safetensors/);
    await expect(buildModel('tiny', { numClasses: 10, head: 'cosine', inputShape: [32, 32, 3], pretrained: file })).rejects.toThrow(/^model\.pretrained: backbone "tiny" has no PyTorch weights to import/);
    for (const model of [source, fresh, imported]) model.dispose();
  });

  it('trains ResNet-20 through both stages; stage 2 changes only the classifier (batch-norm statistics included)', async () => {
    const config = resolveConfig({
      name: 'resnet20',
      outputDir: mkdtempSync(path.join(tmpdir(), 'longtail-resnet20-')),
      backend: 'cpu',
      progress: 'none',
      data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 }, trainLimit: 96, testLimit: 64 },
      model: { backbone: 'resnet20' },
      stage1: { epochs: 1, batchSize: 48, schedule: { warmupEpochs: 0, milestones: [] } },
      stage2: { epochs: 1, batchSize: 48, optimizer: { lr: 0.05 } },
      evaluation: { batchSize: 64 },
    });
    const summary = await train(config, { data: await loadTrainingData(config), stream: sink });
    expect(summary.final?.numSamples).toBe(64);
    const before = await loadCheckpoint(path.join(summary.outputDir, 'checkpoints', 'stage1-best.ckpt'));
    const after = await loadCheckpoint(path.join(summary.outputDir, 'checkpoints', 'stage2-last.ckpt'));
    const changed = after.tensors.model.filter((record, i) => record.data.some((value, k) => value !== before.tensors.model[i].data[k])).map((r) => r.name);
    // Only the cosine classifier's kernel moved.
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatch(/linear|head|normed|classifier|fc/i);
  }, 120_000);
});
