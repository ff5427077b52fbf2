import { cifar100LTSpec, cifar10LTSpec } from './cifar-lt.js';
import { fashionMnistLTSpec } from './fashion-mnist-lt.js';
import { iNaturalist2018Spec, imageNetLTSpec, placesLTSpec } from './file-backed-benchmarks.js';
import { imageFolderSpec } from './image-folder.js';
import type { DatasetSpec } from './registry.js';
import { syntheticSpec } from './synthetic.js';

/** The data sets of this package, registered in this order (the one list; add a line here for a new built-in). */
export const BUILTIN_DATASETS: readonly DatasetSpec[] = [
  fashionMnistLTSpec,
  cifar10LTSpec,
  cifar100LTSpec,
  imageNetLTSpec,
  placesLTSpec,
  iNaturalist2018Spec,
  syntheticSpec,
  imageFolderSpec,
];

/** The data set of a config that names none: CIFAR-10-LT, the paper's first benchmark. */
export const DEFAULT_DATASET: string = cifar10LTSpec.name;
