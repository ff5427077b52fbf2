/**
 * The trainer composes the library packages' registries and knows no loss, sampler, data set or backbone by name:
 * a loss and a data set registered here, from outside the library packages and without touching the trainer's
 * source, train one tiny epoch through a JSON config on the command line; and the trainer's source lists none of
 * the registered names.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { backboneNames } from '@longtail/backbones';
import {
  cifarEvalTransform,
  cifarTrainTransform,
  configuredLongTail,
  datasetNames,
  InMemoryImageDataset,
  inMemoryTransforms,
  registerDataset,
  type DatasetLoadOptions,
} from '@longtail/datasets';
import { lossNames, registerLoss, type LossContext } from '@longtail/gcl-loss';
import { samplerNames, SeededRandom, weightRuleNames } from '@longtail/samplers';
import { describe, expect, it } from 'vitest';
import { describeConfigKeys, readMetrics, resolveConfig, runCli, type StepRecord } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// ---- a data set defined here: three classes of flat colours plus noise, 8×8×3 -------------------------------------
const CLASSES = 3;
const PER_CLASS = { train: 40, test: 10 };
const loads: DatasetLoadOptions[] = [];

function blobs(perClass: number, seed: number, name: string): InMemoryImageDataset {
  const random = new SeededRandom(seed);
  const size = 8;
  const images = new Uint8Array(CLASSES * perClass * size * size * 3);
  const labels = new Int32Array(CLASSES * perClass);
  for (let k = 0; k < labels.length; k++) {
    const c = k % CLASSES;
    labels[k] = c;
    for (let p = 0; p < size * size * 3; p++) images[k * size * size * 3 + p] = Math.max(0, Math.min(255, Math.round((p % 3 === c ? 200 : 60) + random.normal(0, 20))));
  }
  return new InMemoryImageDataset({ images, labels, height: size, width: size, channels: 3, numClasses: CLASSES, classNames: ['red', 'green', 'blue'], name });
}

// ---- a loss defined here: cross-entropy of `scale · logits` ----------------------------------------------------------
const calls: Array<{ stage: number; scale: number; clsNumList: number[]; value: number; batch: number; weight: number[] | null }> = [];

function scaledCrossEntropy({ clsNumList, stage, options }: LossContext) {
  const scale = options.scale as number;
  return (logits: tf.Tensor2D, labels: tf.Tensor1D, inputs: { noise: tf.Tensor2D | null; weight: number[] | null }) => {
    const value = tf.tidy(() => {
      const logProbabilities = tf.logSoftmax(tf.mul(logits, scale));
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), logProbabilities), 1))) as tf.Scalar;
    });
    calls.push({ stage, scale, clsNumList, value: value.dataSync()[0], batch: logits.shape[0], weight: inputs.weight });
    return value;
  };
}

describe('a loss and a data set registered from outside the library packages', () => {
  it('are unknown before registration, then train one epoch through a JSON config', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-registries-'));
    const configFile = path.join(directory, 'run.json');
    const config = {
      name: 'outside',
      outputDir: path.join(directory, 'run'),
      backend: 'cpu',
      progress: 'none',
      seed: 1,
      data: { dataset: 'test-blobs', imbalance: { factor: 0.25 } },
      model: { backbone: 'tiny', head: 'dense' },
      stage1: { epochs: 1, batchSize: 16, loss: { name: 'test-scaled-ce', scale: 3 }, mixup: { alpha: 0 }, schedule: { warmupEpochs: 0, milestones: [] } },
      stage2: { enabled: false },
      evaluation: { batchSize: 64, select: 'test' }, // no hold-out: the loss sees the whole long tail
    };
    writeFileSync(configFile, JSON.stringify(config));
    expect(() => resolveConfig(config)).toThrow(/data\.dataset must be one of .*, got "test-blobs"/);

    registerDataset({
      name: 'test-blobs',
      description: 'three flat colours (test)',
      fileBacked: false,
      augmentation: 'cifar',
      async load(options) {
        loads.push(options);
        const common = { size: 8, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
        return {
          train: configuredLongTail(blobs(PER_CLASS.train, options.subsetSeed + 1, 'blobs train'), options, 'test-blobs'),
          test: blobs(PER_CLASS.test, options.subsetSeed + 2, 'blobs test'),
          ...inMemoryTransforms(options, 'test-blobs', cifarTrainTransform({ ...common, padding: 1 }), cifarEvalTransform(common)),
          description: 'test blobs',
        };
      },
    });
    expect(() => resolveConfig(config)).toThrow(/stage1\.loss\.name must be one of "gcl", .*, got "test-scaled-ce"/);
    registerLoss({
      name: 'test-scaled-ce',
      description: 'cross-entropy of scale · logits (test)',
      options: { scale: { type: 'number', default: 1, exclusiveMinimum: 0, description: 'logit scale' } },
      cloudNoise: false,
      head: { preferred: 'dense', required: false },
      classWeights: true,
      create: scaledCrossEntropy,
    });
    // Now part of the config's schema, its errors and its help.
    expect(resolveConfig(config).stage1.loss).toEqual({ name: 'test-scaled-ce', scale: 3, weighting: 'none' });
    expect(() => resolveConfig({ ...config, stage1: { ...config.stage1, loss: { name: 'test-scaled-ce', tau: 1 } } })).toThrow(
      'stage1.loss.tau: not an option of test-scaled-ce (options: scale, weighting)',
    );
    expect(describeConfigKeys()).toContain('--stage1.loss.scale <number|null> (default 1)  [test-scaled-ce] logit scale');
    expect(describeConfigKeys().find((line) => line.startsWith('--data.dataset '))).toContain('|test-blobs>');

    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) }, cwd: directory, env: {} };
    const code = await runCli(['train', '--config', configFile], io);
    expect(err.join(''), err.join('')).toBe('');
    expect(code).toBe(0);

    // The data set's loader got the config's data section.
    expect(loads).toHaveLength(1);
    expect(loads[0]).toMatchObject({ imbalance: { factor: 0.25, profile: 'exp', maxPerClass: null }, subsetSeed: 0, augmentation: 'auto', trainFile: null });
    // Its long tail, computed here: ⌊40 · 0.25^(i/2)⌋ = 40, 20, 10.
    const expectedCounts = [0, 1, 2].map((i) => Math.floor(PER_CLASS.train * 0.25 ** (i / 2)));
    expect(expectedCounts).toEqual([40, 20, 10]);
    const results = JSON.parse(readFileSync(path.join(directory, 'run', 'results.json'), 'utf8'));
    expect(results.trainCounts).toEqual(expectedCounts);
    expect(results.numSamples).toBe(CLASSES * PER_CLASS.test);
    expect(results.classNames).toEqual(['red', 'green', 'blue']);

    // The loss was built from the JSON option and the training counts, and its values are what the run logged.
    const steps = Math.ceil(70 / 16);
    expect(calls).toHaveLength(steps);
    expect(calls.every((call) => call.stage === 1 && call.scale === 3 && call.weight === null)).toBe(true);
    expect(calls[0].clsNumList).toEqual(expectedCounts);
    expect(calls.map((call) => call.batch)).toEqual([16, 16, 16, 16, 6]);
    const logged = readMetrics(path.join(directory, 'run', 'metrics.jsonl')).filter((r): r is StepRecord => r.type === 'step');
    expect(logged.map((r) => r.loss)).toEqual(calls.map((call) => call.value));
  });
});

// ---------------------------------------------------------------------------------------------------------------
/** The trainer's sources without comments (a name in prose is not a list; a name in code or a string is). */
function trainerCode(): Array<[string, string]> {
  const sources = path.join(here, '..', 'src');
  return readdirSync(sources)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => {
      const text = readFileSync(path.join(sources, name), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
      return [name, text] as [string, string];
    });
}

describe("the trainer's source names no loss, sampler, weight rule, data set or backbone", () => {
  it('none of the registered names appears in its code or strings', () => {
    // "none" is also the off value of progress and augmentation; the weighting off value comes from the samplers.
    const names = [...lossNames(), ...samplerNames(), ...weightRuleNames(), ...datasetNames(), ...backboneNames()].filter((name) => name !== 'none');
    for (const name of ['gcl', 'ce', 'ldam', 'class-aware', 'effective-number', 'cifar10-lt', 'synthetic', 'inaturalist2018', 'tiny', 'resnet32', 'resnext50_32x4d']) {
      expect(names, 'the check must cover the built-ins').toContain(name);
    }
    const found: string[] = [];
    for (const [file, code] of trainerCode()) {
      for (const name of new Set(names)) {
        const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        if (new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`).test(code)) found.push(`${file}: ${name}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('the check finds a name where one is written (it can fail)', () => {
    const code = "const head = loss === 'ldam' ? 'cosine' : 'dense'; import x from '@longtail/gcl-loss';";
    const hit = (name: string) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`).test(code);
    expect(hit('ldam')).toBe(true);
    expect(hit('gcl')).toBe(false);
  });
});
