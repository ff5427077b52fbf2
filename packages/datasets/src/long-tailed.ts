import type { FileImageDataset, InMemoryImageDataset } from './dataset.js';
import { imbalancedCounts, longTailedSubset } from './imbalance.js';

/** Options of {@link makeLongTailed}. */
export interface LongTailedOptions {
  /** Imbalance factor `n_min / n_max`, e.g. 0.01 (ratio 100). */
  factor: number;
  /** Default `'exp'`. */
  profile?: 'exp' | 'step';
  /** Seed of the per-class shuffle; default 0. */
  seed?: number;
  /** Default `length / numClasses` (the reference's `img_max`: 5000 CIFAR-10, 500 CIFAR-100, 6000 Fashion-MNIST). */
  maxPerClass?: number;
}

/**
 * The long-tailed training set of the CIFAR-LT benchmarks from a balanced set: counts from
 * {@link imbalancedCounts}, images chosen by {@link longTailedSubset} (seeded per-class shuffle).
 * E.g. CIFAR-10 with `factor: 0.01` keeps 12,406 images (5000 … 50); Fashion-MNIST keeps 14,886 (6000 … 60).
 */
export function makeLongTailed<T extends InMemoryImageDataset | FileImageDataset>(dataset: T, options: LongTailedOptions): T {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const counts = imbalancedCounts({
    numClasses: dataset.numClasses,
    maxPerClass: options.maxPerClass ?? dataset.length / dataset.numClasses,
    factor: options.factor,
    profile: options.profile ?? 'exp',
  });
  const indices = longTailedSubset(dataset.labels, counts, options.seed ?? 0);
  return dataset.select(indices) as T;
}
