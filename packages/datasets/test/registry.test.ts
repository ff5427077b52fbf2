/**
 * The data-set registry: the built-ins with what the trainer derives from them (file-backed, default split files,
 * augmentation), the synthetic set, the configured long tail, and a data set registered from outside.
 */
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASS_NAMES,
  configuredLongTail,
  datasetNames,
  DEFAULT_DATASET,
  getDataset,
  registerDataset,
  syntheticDataset,
  transformOutputShape,
  type DatasetLoadOptions,
} from '../src/index.js';

const options = (extra: Partial<DatasetLoadOptions> = {}): DatasetLoadOptions => ({
  root: null,
  trainFile: null,
  testFile: null,
  source: 'auto',
  imbalance: { factor: 0.1, profile: 'exp', maxPerClass: null },
  subsetSeed: 0,
  inputSize: null,
  augmentation: 'auto',
  ...extra,
});

describe('data-set registry', () => {
  it('lists the built-ins once, with what the trainer needs to know of each', () => {
    expect(datasetNames().slice(0, 7)).toEqual(['fashion-mnist-lt', 'cifar10-lt', 'cifar100-lt', 'imagenet-lt', 'places-lt', 'inaturalist2018', 'synthetic']);
    expect(DEFAULT_DATASET).toBe('cifar10-lt');
    expect(datasetNames().filter((name) => getDataset(name).fileBacked)).toEqual(['imagenet-lt', 'places-lt', 'inaturalist2018']);
    expect(getDataset('imagenet-lt').splitFiles).toEqual({ train: 'ImageNet_LT_train.txt', test: 'ImageNet_LT_test.txt' });
    expect(getDataset('places-lt').splitFiles).toEqual({ train: 'Places_LT_train.txt', test: 'Places_LT_test.txt' });
    expect(getDataset('inaturalist2018').splitFiles).toEqual({ train: 'train2018.json', test: 'val2018.json' });
    expect(getDataset('cifar10-lt')).toMatchObject({ augmentation: 'cifar', classNames: CIFAR10_CLASS_NAMES });
    expect(getDataset('places-lt').augmentation).toBe('imagenet');
    expect(() => getDataset('mnist-lt')).toThrow(/unknown data set "mnist-lt" \(registered: fashion-mnist-lt/);
  });

  it('synthetic: 10 classes, long-tailed ⌊60 · 0.1^(i/9)⌋ per class, 20 test images each, inputSize square', async () => {
    const loaded = await getDataset('synthetic').load(options({ inputSize: 8 }));
    const counts = new Array<number>(10).fill(0);
    for (const label of loaded.train.labels) counts[label]++;
    expect(counts).toEqual(Array.from({ length: 10 }, (_, i) => Math.floor(60 * 0.1 ** (i / 9))));
    expect(loaded.test.length).toBe(200);
    expect(transformOutputShape(loaded.evalTransform)).toEqual([8, 8, 3]);
    // Augmentation "none" trains on the evaluation transform; "imagenet" needs files.
    expect((await getDataset('synthetic').load(options({ augmentation: 'none' }))).trainTransform).toEqual((await getDataset('synthetic').load(options())).evalTransform);
    await expect(getDataset('synthetic').load(options({ augmentation: 'imagenet' }))).rejects.toThrow(/data\.augmentation "imagenet" needs file-backed images; synthetic is held in memory/);
  });

  it('configuredLongTail names maxPerClass when it is too large', () => {
    const balanced = syntheticDataset({ perClass: 10, numClasses: 3, size: 4, seed: 1, name: 'small' });
    expect(configuredLongTail(balanced, options({ imbalance: { factor: 0.5, profile: 'step', maxPerClass: 8 } }), 'small').length).toBe(8 + 4 + 4);
    expect(() => configuredLongTail(balanced, options({ imbalance: { factor: 0.5, profile: 'exp', maxPerClass: 50 } }), 'small')).toThrow(/^data\.imbalance\.maxPerClass 50 is too large for small/);
  });

  it('a data set registered from outside is found by name; file-backed sets need split files; names are not taken twice', async () => {
    const spec = registerDataset({ ...getDataset('synthetic'), name: 'test-synthetic-copy' });
    expect(getDataset('test-synthetic-copy')).toBe(spec);
    expect((await spec.load(options())).train.length).toBeGreaterThan(0);
    expect(() => registerDataset(spec)).toThrow(/a data set named "test-synthetic-copy" is already registered/);
    expect(() => registerDataset({ ...spec, name: 'test-files', fileBacked: true })).toThrow(/the file-backed "test-files" needs splitFiles/);
  });
});
