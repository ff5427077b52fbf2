import { checkLabels, checkPositiveInteger } from './validation';

/**
 * Training images per class: `counts[c] = #{i : labels[i] = c}`.
 *
 * @param labels class index per sample.
 * @param numClasses number of classes; default `max(labels) + 1`. A label ≥ numClasses is an error.
 */
export function classCounts(labels: ArrayLike<number>, numClasses?: number): number[] {
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
