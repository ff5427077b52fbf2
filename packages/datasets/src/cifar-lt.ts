import { loadCifar10, loadCifar100 } from './cifar.js';
import { CIFAR10_CLASS_NAMES, CIFAR100_CLASS_NAMES } from './class-names.js';
import type { InMemoryImageDataset } from './dataset.js';
import type { DatasetLoadOptions, DatasetSpec, LoadedDataset } from './registry.js';
import { configuredLongTail, inMemoryTransforms } from './spec-helpers.js';
import { cifarEvalTransform, cifarTrainTransform } from './transforms.js';

async function loadCifarLT(
  name: string,
  title: string,
  load: (options: { split: 'train' | 'test'; directory?: string }) => Promise<InMemoryImageDataset>,
  options: DatasetLoadOptions,
): Promise<LoadedDataset> {
  const directory = options.root ?? undefined;
  const train = configuredLongTail(await load({ split: 'train', directory }), options, name);
  const test = await load({ split: 'test', directory });
  return {
    train,
    test,
    ...inMemoryTransforms(options, name, cifarTrainTransform(), cifarEvalTransform()),
    description: `${title} binary files (${directory ?? process.env.LONGTAIL_DATA ?? '$LONGTAIL_DATA'})`,
  };
}

/** Registry entry `"cifar10-lt"`: CIFAR-10's binary files under the root, long-tailed (n_max 5000). */
export const cifar10LTSpec: DatasetSpec = {
  name: 'cifar10-lt',
  description: 'CIFAR-10-LT: the CIFAR-10 binary distribution, long-tailed (Cao et al. 2019)',
  fileBacked: false,
  augmentation: 'cifar',
  classNames: CIFAR10_CLASS_NAMES,
  load: (options) => loadCifarLT('cifar10-lt', 'CIFAR-10', loadCifar10, options),
};

/** Registry entry `"cifar100-lt"`: CIFAR-100's binary files under the root, long-tailed (n_max 500). */
export const cifar100LTSpec: DatasetSpec = {
  name: 'cifar100-lt',
  description: 'CIFAR-100-LT: the CIFAR-100 binary distribution, long-tailed',
  fileBacked: false,
  augmentation: 'cifar',
  classNames: CIFAR100_CLASS_NAMES,
  load: (options) => loadCifarLT('cifar100-lt', 'CIFAR-100', loadCifar100, options),
};
