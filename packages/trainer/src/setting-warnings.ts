/**
 * Settings known to fail on a given data set, as warnings: what `longtail check-data` prints after the data's own
 * problems, and what a training run logs when it starts.
 */
import { manyMediumFew } from '@longtail/datasets';
import type { Stage } from '@longtail/gcl-loss';
import type { RunConfig } from './config.js';
import { lossOptionValues } from './losses.js';

/** Below this many classes a large logit scale `s` is a known failure (see {@link settingWarnings}). */
const FEW_CLASSES = 5;
/** Scales above this are "large" for few classes (the GCL defaults are 30 and 20). */
const LARGE_SCALE = 10;

/**
 * Warnings about a config's settings on data with these training images per class:
 * - a cosine-logit scale `s` above 10 with fewer than 5 classes (on a 2-class set, GCL's default `s` left the tail
 *   class with 0 recall: official GCL issue #3, fixed by lowering `s`);
 * - an empty many-, medium- or few-shot group (its accuracy will be n/a), and classes without training images;
 * - classes without validation images (`valCounts`, when the run has a validation split);
 * - a batch larger than the training set.
 */
export function settingWarnings(config: RunConfig, counts: readonly number[], valCounts?: readonly number[]): string[] {
  const warnings: string[] = [];
  const numClasses = counts.length;
  const stages: Array<[Stage, RunConfig['stage1']['loss'], boolean]> = [
    [1, config.stage1.loss, config.stage1.epochs > 0],
    [2, config.stage2.loss, config.stage2.enabled && config.stage2.epochs > 0],
  ];
  for (const [stage, loss, used] of stages) {
    const s = used ? lossOptionValues(loss, stage).s : undefined;
    if (typeof s === 'number' && s > LARGE_SCALE && numClasses < FEW_CLASSES) {
      warnings.push(
        `stage${stage}.loss.s is ${s} with ${numClasses} classes: with so few classes a large scale saturates the softmax; on a 2-class set GCL's default s left the tail class with 0 recall ` +
          `(official GCL issue #3, fixed by lowering s): try --stage${stage}.loss.s 5`,
      );
    }
  }
  const { manyThreshold, fewThreshold } = config.evaluation;
  const groups = manyMediumFew(counts, { manyAbove: manyThreshold, fewBelow: fewThreshold });
  const smallest = Math.min(...counts);
  const largest = Math.max(...counts);
  if (groups.few.length === 0) {
    warnings.push(`the few-shot group is empty (no class has fewer than ${fewThreshold} training images; the rarest has ${smallest}): few-shot accuracy will be n/a (evaluation.fewThreshold)`);
  }
  if (groups.medium.length === 0) warnings.push(`the medium-shot group is empty (no class has ${fewThreshold}–${manyThreshold} training images): medium-shot accuracy will be n/a`);
  if (groups.many.length === 0) {
    warnings.push(`the many-shot group is empty (no class has more than ${manyThreshold} training images; the largest has ${largest}): many-shot accuracy will be n/a (evaluation.manyThreshold)`);
  }
  const empty = counts.flatMap((n, c) => (n === 0 ? [c] : []));
  if (empty.length > 0) warnings.push(`${empty.length} of ${numClasses} classes have no training images (classes ${empty.slice(0, 10).join(', ')}${empty.length > 10 ? ', …' : ''}): nothing can be learnt of them`);
  if (valCounts) {
    const without = counts.flatMap((n, c) => (n > 0 && (valCounts[c] ?? 0) === 0 ? [c] : []));
    if (without.length > 0) {
      warnings.push(
        `${without.length} of ${numClasses} classes have no validation images (classes ${without.slice(0, 10).join(', ')}${without.length > 10 ? ', …' : ''}; a hold-out keeps a class's only image for training): ` +
          `selection on the validation split does not see them`,
      );
    }
  }
  const images = counts.reduce((sum, n) => sum + n, 0);
  if (config.stage1.epochs > 0 && config.stage1.batchSize > images) {
    warnings.push(`stage1.batchSize ${config.stage1.batchSize} is larger than the training set (${images} images): each epoch is one smaller batch`);
  }
  return warnings;
}
