import { SeededRandom } from '@longtail/samplers';
import { indicesByClass } from './imbalance.js';

/** The two parts of a {@link stratifiedSplit}: indices into the original set, each sorted ascending. */
export interface StratifiedSplit {
  /** What stays (e.g. the training set). */
  keep: Int32Array;
  /** What is held out (e.g. the validation set). */
  holdOut: Int32Array;
}

/**
 * How many images of a class of `n` a {@link stratifiedSplit} holds out: `round(n · fraction)`, at least 1 when the
 * class has 2 or more images, and never the class's last image (a class with one image keeps it). So a long-tailed
 * set keeps every class in training and, where it can, has every class in the held-out part too.
 */
export function heldOutCount(n: number, fraction: number): number {
  if (n <= 1 || fraction <= 0) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * A seeded, stratified split of a labelled set: per class, a seeded shuffle of its images and the first
 * {@link heldOutCount}`(n, fraction)` of them held out. The same labels, fraction and seed give the same split on
 * every machine. Used for a validation hold-out from a training set and for splitting an image folder that has no
 * separate `val/` or `test/` folders.
 *
 * @param labels class index per image, in `[0, numClasses)`
 * @param fraction share to hold out per class, in `[0, 1)`
 */
export function stratifiedSplit(labels: ArrayLike<number>, numClasses: number, fraction: number, seed: number): StratifiedSplit {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction < 1)) throw new RangeError(`fraction must be in [0, 1), got ${fraction}`);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const byClass = indicesByClass(labels, numClasses, 'labels');
  const random = new SeededRandom(seed);
  const keep: number[] = [];
  const holdOut: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const shuffled = random.shuffle(byClass[c]);
    const held = heldOutCount(shuffled.length, fraction);
    for (let i = 0; i < shuffled.length; i++) (i < held ? holdOut : keep).push(shuffled[i]);
  }
  const sorted = (values: number[]) => Int32Array.from(values).sort();
  return { keep: sorted(keep), holdOut: sorted(holdOut) };
}
