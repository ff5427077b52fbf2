/** Number of images of each class: `@longtail/samplers`' `classCounts` (one class-count function). */
export { classCounts } from '@longtail/samplers';

/** The many / medium / few-shot split of the classes (class indices, ascending). */
export interface ShotGroups {
  /** Classes with more than `manyAbove` (default 100) training images. */
  many: number[];
  /** Classes with `fewBelow` … `manyAbove` (default 20 … 100) training images. */
  medium: number[];
  /** Classes with fewer than `fewBelow` (default 20) training images. */
  few: number[];
}

/**
 * Splits classes by their training-set counts as the long-tail literature reports accuracy (OLTR, Liu et al. 2019) —
 * the one shot-group function (the trainer's evaluation and `longtail info` use it):
 * many-shot `n > 100`, medium-shot `20 ≤ n ≤ 100`, few-shot `n < 20`.
 * @param counts training images per class (e.g. from {@link classCounts}).
 * @param thresholds `{ manyAbove = 100, fewBelow = 20 }`.
 */
export function manyMediumFew(counts: ArrayLike<number>, thresholds: { manyAbove?: number; fewBelow?: number } = {}): ShotGroups {
  if (counts === null || typeof counts !== 'object' || typeof counts.length !== 'number') throw new TypeError('counts must be an array of per-class counts');
  const manyAbove = thresholds.manyAbove ?? 100;
  const fewBelow = thresholds.fewBelow ?? 20;
  if (!(fewBelow <= manyAbove)) throw new RangeError(`thresholds.fewBelow (${fewBelow}) must not exceed thresholds.manyAbove (${manyAbove})`);
  const groups: ShotGroups = { many: [], medium: [], few: [] };
  for (let c = 0; c < counts.length; c++) {
    const n = counts[c];
    if (!(n >= 0)) throw new RangeError(`counts[${c}] must be a non-negative number, got ${n}`);
    if (n > manyAbove) groups.many.push(c);
    else if (n < fewBelow) groups.few.push(c);
    else groups.medium.push(c);
  }
  return groups;
}
