import { statSync } from 'node:fs';
import path from 'node:path';
import { getDataset, transformOutputShape, type DatasetLoadOptions, type ImageDataset, type ImageTransform } from '@longtail/datasets';
import { SeededRandom } from '@longtail/samplers';
import { ConfigError, type RunConfig } from './config.js';

export type { ImageDataset };

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

/**
 * The loader options of a config's `data` section. For a file-backed data set the split files are resolved here
 * (`data.trainSplit` / `data.testSplit`, default the data set's own files under `data.root`) and must be regular
 * files, naming the key otherwise.
 */
function loadOptions(data: RunConfig['data']): DatasetLoadOptions {
  const spec = getDataset(data.dataset);
  const common = {
    source: data.source,
    imbalance: data.imbalance,
    subsetSeed: data.subsetSeed,
    inputSize: data.inputSize,
    augmentation: data.augmentation,
  };
  if (!spec.fileBacked || !spec.splitFiles) return { ...common, root: data.root, trainFile: null, testFile: null };
  const root = data.root ?? path.dirname(data.trainSplit as string);
  const trainFile = path.resolve(data.trainSplit ?? path.join(root, spec.splitFiles.train));
  const testFile = path.resolve(data.testSplit ?? path.join(root, spec.splitFiles.test));
  requireRegularFile(trainFile, data.trainSplit ? 'data.trainSplit' : 'data.root');
  requireRegularFile(testFile, data.testSplit ? 'data.testSplit' : 'data.root');
  return { ...common, root, trainFile, testFile };
}

/**
 * Loads the configured data set through its entry in `@longtail/datasets`' registry (`data.dataset`): the
 * long-tailed training set, the balanced test set and the transforms, then `data.trainLimit` / `data.testLimit`.
 * File-backed data sets read split files (`data.trainSplit` / `data.testSplit`, default the data set's own under
 * `data.root`) with image paths relative to `data.root`.
 */
export async function loadTrainingData(config: RunConfig): Promise<TrainingData> {
  const { data } = config;
  if (data.root !== null) requireDirectory(path.resolve(data.root), 'data.root');
  const loaded = await getDataset(data.dataset).load(loadOptions(data));
  const train = limitTo(loaded.train, data.trainLimit, config.seed + 11);
  const test = limitTo(loaded.test, data.testLimit, config.seed + 12);
  const inputShape = transformOutputShape(loaded.evalTransform);
  const numClasses = train.numClasses;
  const names = loaded.classNames ?? train.classNames;
  return {
    train,
    test,
    numClasses,
    classNames: names ? [...names] : Array.from({ length: numClasses }, (_, i) => String(i)),
    inputShape,
    trainTransform: loaded.trainTransform,
    evalTransform: loaded.evalTransform,
    description: loaded.description,
  };
}
