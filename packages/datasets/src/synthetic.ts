import { SeededRandom } from '@longtail/samplers';
import { InMemoryImageDataset } from './dataset.js';
import type { DatasetSpec } from './registry.js';
import { configuredLongTail, inMemoryTransforms } from './spec-helpers.js';
import { cifarEvalTransform, cifarTrainTransform } from './transforms.js';

/** Options of {@link syntheticDataset}. */
export interface SyntheticDatasetOptions {
  perClass: number;
  numClasses: number;
  /** Image side (square, 3 channels). */
  size: number;
  seed: number;
  name: string;
}

/**
 * A small synthetic image set for tests and smoke runs: each class a distinct pattern of stripes (direction and
 * frequency by class, one colour channel brighter) plus N(0, 40) noise, as 8-bit RGB.
 */
export function syntheticDataset(options: SyntheticDatasetOptions): InMemoryImageDataset {
  const { perClass, numClasses, size, seed, name } = options;
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
            images[((k * size + y) * size + x) * channels + ch] = Math.max(0, Math.min(255, Math.round(value)));
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

/**
 * Registry entry `"synthetic"`: 10 classes of stripes, 60 training images per class before the long tail, 20 test
 * images per class, `inputSize` (default 16) square, CIFAR-style augmentation (padding 2, mean 0.5, std 0.25).
 */
export const syntheticSpec: DatasetSpec = {
  name: 'synthetic',
  description: 'coloured stripes for tests and smoke runs (10 classes)',
  fileBacked: false,
  augmentation: 'cifar',
  async load(options) {
    const size = options.inputSize ?? 16;
    const common = { size, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    return {
      train: configuredLongTail(syntheticDataset({ perClass: 60, numClasses: 10, size, seed: options.subsetSeed + 1, name: 'synthetic train' }), options, 'synthetic'),
      test: syntheticDataset({ perClass: 20, numClasses: 10, size, seed: options.subsetSeed + 2, name: 'synthetic test' }),
      ...inMemoryTransforms(options, 'synthetic', cifarTrainTransform({ ...common, padding: 2 }), cifarEvalTransform(common)),
      description: `synthetic stripes, ${size}×${size}×3`,
    };
  },
};
