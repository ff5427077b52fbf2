import { checkLabels, checkPositiveInteger } from './validation.js';

/**
 * Training images per class: `counts[c] = #{i : labels[i] = c}` — the one class-count function of the packages
 * (datasets re-exports it; the trainer counts with it).
 *
 * @param labels class index per sample (empty only with `numClasses`: every count 0).
 * @param numClasses number of classes; default `max(labels) + 1`. A label ≥ numClasses is an error.
 */
export function classCounts(labels: ArrayLike<number>, numClasses?: number): number[] {
  if (numClasses !== undefined && labels !== null && typeof labels === 'object' && labels.length === 0) {
    return new Array<number>(checkPositiveInteger(numClasses, 'numClasses')).fill(0);
  }
  const values = checkLabels(labels);
  let classes = numClasses;
  if (classes === undefined) {
    classes = 0;
    for (let i = 0; i < values.length; i++) if (values[i] >= classes) classes = values[i] + 1;
  } else {
    checkPositiveInteger(classes, 'numClasses');
  }
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < values.length; i++) {
    const y = values[i];
    if (y >= classes) throw new RangeError(`labels[${i}] = ${y} is out of range [0, ${classes})`);
    counts[y] += 1;
  }
  return counts;
}
