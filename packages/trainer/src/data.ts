import { statSync } from 'node:fs';
import path from 'node:path';
import { getDataset, stratifiedSplit, transformOutputShape, type DatasetLoadOptions, type ImageDataset, type ImageTransform } from '@longtail/datasets';
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
  /**
   * The validation split, when the run needs one (`evaluation.select` `val`, or temperature scaling): the data set's
   * own, or a seeded stratified hold-out of the training set (`data.valFraction`, seeded by `data.subsetSeed`), in
   * which case `train` is what remains. Scored with the evaluation transform.
   */
  val?: ImageDataset;
  /** Where `val` came from. */
  valSource?: 'dataset' | 'hold-out';
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
export function datasetLoadOptions(data: RunConfig['data']): DatasetLoadOptions {
  const spec = getDataset(data.dataset);
  const common = {
    source: data.source,
    imbalance: data.imbalance,
    subsetSeed: data.subsetSeed,
    inputSize: data.inputSize,
    augmentation: data.augmentation,
    longTail: data.longTail,
  };
  if (!spec.fileBacked || !spec.splitFiles) return { ...common, root: data.root, trainFile: null, testFile: null };
  const root = data.root ?? path.dirname(data.trainSplit as string);
  const trainFile = path.resolve(data.trainSplit ?? path.join(root, spec.splitFiles.train));
  const testFile = path.resolve(data.testSplit ?? path.join(root, spec.splitFiles.test));
  requireRegularFile(trainFile, data.trainSplit ? 'data.trainSplit' : 'data.root');
  requireRegularFile(testFile, data.testSplit ? 'data.testSplit' : 'data.root');
  return { ...common, root, trainFile, testFile };
}

/** Seed offset of the validation hold-out, so that it is not the stream of the long-tailed subset itself. */
const HOLD_OUT_SEED_OFFSET = 7919;

/** Whether a run needs a validation split. */
export function needsValidation(config: Pick<RunConfig, 'evaluation'>): boolean {
  return config.evaluation.select === 'val' || config.evaluation.temperatureScaling;
}

/**
 * The validation split of a run that needs one: the data set's own when it has one, else a seeded stratified hold-out
 * of `data.valFraction` of each class of the training set (`stratifiedSplit`: at least one image of every class with
 * two or more, never a class's last one). The hold-out depends on the data only (`data.subsetSeed`), not on `seed`,
 * so the runs of a seed sweep share it.
 */
function validationSplit(config: RunConfig, train: ImageDataset, own: ImageDataset | undefined): { train: ImageDataset; val?: ImageDataset; valSource?: 'dataset' | 'hold-out' } {
  if (!needsValidation(config)) return { train };
  if (own && own.length > 0) return { train, val: own, valSource: 'dataset' };
  const why = config.evaluation.select === 'val' ? 'evaluation.select is "val"' : 'evaluation.temperatureScaling is on';
  if (config.data.valFraction === 0) {
    throw new ConfigError([
      `data.valFraction: ${why} but ${config.data.dataset} has no validation split and data.valFraction is 0 (hold some of the training set out, or set evaluation.select "test" or "last")`,
    ]);
  }
  const split = stratifiedSplit(train.labels, train.numClasses, config.data.valFraction, config.data.subsetSeed + HOLD_OUT_SEED_OFFSET);
  if (split.holdOut.length === 0) {
    throw new ConfigError([`data.valFraction: ${why} but a hold-out of ${config.data.valFraction} leaves no validation image (${train.length} training images)`]);
  }
  return { train: train.select(split.keep), val: train.select(split.holdOut), valSource: 'hold-out' };
}

/**
 * Loads the configured data set through its entry in `@longtail/datasets`' registry (`data.dataset`): the
 * long-tailed training set, the balanced test set and the transforms, then `data.trainLimit` / `data.testLimit`.
 * File-backed data sets read split files (`data.trainSplit` / `data.testSplit`, default the data set's own under
 * `data.root`) with image paths relative to `data.root`. A run that needs a validation split gets the data set's own
 * or a stratified hold-out of the training set (see `TrainingData.val`).
 */
export async function loadTrainingData(config: RunConfig): Promise<TrainingData> {
  const { data } = config;
  if (data.root !== null) requireDirectory(path.resolve(data.root), 'data.root');
  const loaded = await getDataset(data.dataset).load(datasetLoadOptions(data));
  const { train: trainPool, val, valSource } = validationSplit(config, loaded.train, loaded.val);
  // Seeded by the data's seed, not the run's: the runs of a seed sweep train and test on the same images.
  const train = limitTo(trainPool, data.trainLimit, data.subsetSeed + 11);
  const test = limitTo(loaded.test, data.testLimit, data.subsetSeed + 12);
  const inputShape = transformOutputShape(loaded.evalTransform);
  const numClasses = train.numClasses;
  const names = loaded.classNames ?? train.classNames;
  return {
    train,
    test,
    ...(val ? { val, valSource } : {}),
    numClasses,
    classNames: names ? [...names] : Array.from({ length: numClasses }, (_, i) => String(i)),
    inputShape,
    trainTransform: loaded.trainTransform,
    evalTransform: loaded.evalTransform,
    description: loaded.description,
  };
}
