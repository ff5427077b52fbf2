import type { InMemoryImageDataset } from './dataset.js';
import { makeLongTailed } from './long-tailed.js';
import type { DatasetLoadOptions } from './registry.js';
import { imagenetEvalTransform, imagenetTrainTransform, type ImageTransform } from './transforms.js';

/**
 * The long-tailed training set of a balanced in-memory set, as configured: `imbalance.factor` and `profile`, n_max
 * `imbalance.maxPerClass` or else `fullPerClass` (else the set's images per class), seeded by `subsetSeed`. An
 * error names `data.imbalance.maxPerClass` when that is what is too large.
 */
export function configuredLongTail(dataset: InMemoryImageDataset, options: DatasetLoadOptions, datasetName: string, fullPerClass?: number): InMemoryImageDataset {
  const { imbalance } = options;
  const maxPerClass = imbalance.maxPerClass ?? fullPerClass;
  try {
    return makeLongTailed(dataset, { factor: imbalance.factor, profile: imbalance.profile, seed: options.subsetSeed, ...(maxPerClass ? { maxPerClass } : {}) });
  } catch (error) {
    if (imbalance.maxPerClass === null) throw error;
    throw new Error(`data.imbalance.maxPerClass ${imbalance.maxPerClass} is too large for ${datasetName}: ${(error as Error).message}`);
  }
}

/**
 * The transforms of an in-memory set: its own training transform (or, with augmentation `none`, its evaluation
 * transform) and its evaluation transform. The ImageNet pipeline needs files, so `imagenet` is refused.
 */
export function inMemoryTransforms(
  options: DatasetLoadOptions,
  datasetName: string,
  train: ImageTransform,
  evaluation: ImageTransform,
): { trainTransform: ImageTransform; evalTransform: ImageTransform } {
  if (options.augmentation === 'imagenet') {
    throw new Error(`data.augmentation "imagenet" needs file-backed images; ${datasetName} is held in memory (use "auto", "cifar" or "none")`);
  }
  return { trainTransform: options.augmentation === 'none' ? evaluation : train, evalTransform: evaluation };
}

/**
 * The transforms of a file-backed set: ImageNet's random-resized crop for training, resize + centre crop for
 * evaluation, at `inputSize` (default 224; resize side `round(size · 256/224)`). The CIFAR pipeline needs in-memory
 * images, so `cifar` is refused.
 */
export function fileBackedTransforms(options: DatasetLoadOptions, datasetName: string): { trainTransform: ImageTransform; evalTransform: ImageTransform } {
  if (options.augmentation === 'cifar') {
    throw new Error(`data.augmentation "cifar" needs in-memory images; ${datasetName} is read from files (use "auto", "imagenet" or "none")`);
  }
  const size = options.inputSize ?? 224;
  const evalTransform = imagenetEvalTransform({ size, resize: Math.round((size * 256) / 224) });
  return { trainTransform: options.augmentation === 'none' ? evalTransform : imagenetTrainTransform({ size }), evalTransform };
}

/** The resolved split files of a file-backed set (the loader's `trainFile` / `testFile`); throws if absent. */
export function requireSplitFiles(options: DatasetLoadOptions, datasetName: string): { trainFile: string; testFile: string; root: string } {
  if (options.trainFile === null || options.testFile === null || options.root === null) {
    throw new Error(`${datasetName} is file-backed: its loader needs root, trainFile and testFile`);
  }
  return { trainFile: options.trainFile, testFile: options.testFile, root: options.root };
}
