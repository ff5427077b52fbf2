import { SeededRandom } from '@longtail/samplers';
import { requireFiniteNumber, requirePositiveInteger } from './errors.js';

/** Options of {@link imbalancedCounts}. */
export interface ImbalancedCountsOptions {
  /** Number of classes C. */
  numClasses: number;
  /** Images of the largest (first) class, `n_max`; the reference uses `len(train) / C` (5000 CIFAR-10, 500 CIFAR-100, 6000 Fashion-MNIST). */
  maxPerClass: number;
  /** Imbalance factor `IF = n_min / n_max` in (0, 1]; "imbalance ratio 100" is `factor: 0.01`. */
  factor: number;
  /** `'exp'` (default) or `'step'`. */
  profile?: 'exp' | 'step';
}

/**
 * Per-class image counts of a long-tailed training set, exactly as the reference `get_img_num_per_cls`
 * (LDAM/GCL `IMBALANCECIFAR10`):
 * - `exp`: class i keeps `⌊n_max · IF^(i / (C − 1))⌋`;
 * - `step`: the first `⌊C / 2⌋` classes keep `n_max`, the others `⌊n_max · IF⌋`.
 *
 * Where the reference is undefined this function chooses: with C = 1 both profiles give `[n_max]` (the reference
 * divides by zero), and with an odd C the step profile still returns C counts (the reference returns C − 1).
 *
 * @returns an array of C non-negative integers, class 0 first.
 */
export function imbalancedCounts(options: ImbalancedCountsOptions): number[] {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const numClasses = requirePositiveInteger(options.numClasses, 'numClasses');
  const maxPerClass = requireFiniteNumber(options.maxPerClass, 'maxPerClass');
  if (maxPerClass <= 0) throw new RangeError(`maxPerClass must be positive, got ${maxPerClass}`);
  const factor = requireFiniteNumber(options.factor, 'factor');
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`factor must be in (0, 1] (e.g. 0.01 for imbalance ratio 100), got ${factor}`);
  const profile = options.profile ?? 'exp';
  const counts: number[] = [];
  if (profile === 'exp') {
    for (let i = 0; i < numClasses; i++) {
      const exponent = numClasses === 1 ? 0 : i / (numClasses - 1);
      counts.push(Math.trunc(maxPerClass * factor ** exponent));
    }
  } else if (profile === 'step') {
    const head = Math.floor(numClasses / 2);
    for (let i = 0; i < numClasses; i++) counts.push(i < head || numClasses === 1 ? Math.trunc(maxPerClass) : Math.trunc(maxPerClass * factor));
  } else {
    throw new TypeError(`profile must be 'exp' or 'step', got ${String(profile)}`);
  }
  return counts;
}

/**
 * Indices of a long-tailed subset: for class c = 0 … C − 1 in turn, the class's indices (ascending) are shuffled by
 * one {@link SeededRandom}(seed) generator and the first `counts[c]` are kept. The result lists class 0's picks first,
 * then class 1's, … (the reference's order, which only matters for samplers that read the order).
 *
 * @param labels label of every image of the full (balanced) set, in `[0, counts.length)`.
 * @param counts images to keep per class, e.g. from {@link imbalancedCounts}.
 * @param seed seed of the shuffle; the same seed always gives the same subset.
 * @throws RangeError naming the class when it has fewer images than requested.
 */
export function longTailedSubset(labels: ArrayLike<number>, counts: ArrayLike<number>, seed: number): Int32Array {
  if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') throw new TypeError('labels must be an array of class indices');
  if (counts === null || typeof counts !== 'object' || typeof counts.length !== 'number' || counts.length === 0) {
    throw new TypeError('counts must be a non-empty array of per-class counts');
  }
  requireFiniteNumber(seed, 'seed');
  const numClasses = counts.length;
  const byClass = indicesByClass(labels, numClasses, 'labels');
  const random = new SeededRandom(seed);
  let total = 0;
  for (let c = 0; c < numClasses; c++) {
    const want = counts[c];
    if (!Number.isInteger(want) || want < 0) throw new TypeError(`counts[${c}] must be a non-negative integer, got ${want}`);
    if (want > byClass[c].length) throw new RangeError(`counts[${c}] = ${want} but class ${c} has only ${byClass[c].length} images`);
    total += want;
  }
  const subset = new Int32Array(total);
  let offset = 0;
  for (let c = 0; c < numClasses; c++) {
    const shuffled = random.shuffle(byClass[c]);
    subset.set(shuffled.subarray(0, counts[c]), offset);
    offset += counts[c];
  }
  return subset;
}

/** Indices of every class, ascending (Int32Array per class); throws naming `argumentName` for a label out of range. */
export function indicesByClass(labels: ArrayLike<number>, numClasses: number, argumentName = 'labels'): Int32Array[] {
  const sizes = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new RangeError(`${argumentName}[${i}] = ${label} is not a class index in [0, ${numClasses})`);
    }
    sizes[label]++;
  }
  const result = Array.from(sizes, (size) => new Int32Array(size));
  const filled = new Int32Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    result[label][filled[label]++] = i;
  }
  return result;
}
