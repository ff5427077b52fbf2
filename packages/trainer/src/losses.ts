import type * as tf from '@tensorflow/tfjs';
import { getLoss, lossDefaultsFor, type Stage } from '@longtail/gcl-loss';
import type { LossConfig, RunConfig } from './config.js';

/**
 * The option values a stage's loss runs with: the config's, and the loss's default for the stage where the config
 * leaves one out or `null`.
 */
export function lossOptionValues(loss: LossConfig, stage: Stage): Record<string, number | boolean> {
  const options: Record<string, number | boolean> = {};
  for (const [key, fallback] of Object.entries(lossDefaultsFor(getLoss(loss.name), stage))) {
    const value = loss[key];
    options[key] = typeof value === typeof fallback ? (value as number | boolean) : fallback;
  }
  return options;
}

/** A stage's loss as the train step calls it: `(logits, labels, noise, weight) → scalar`. */
export type StepLoss = (logits: tf.Tensor2D, labels: tf.Tensor1D, noise: tf.Tensor2D | null, weight: number[] | null) => tf.Scalar;

/**
 * The loss of a stage from its config entry, through `@longtail/gcl-loss`'s registry: the registered loss of
 * `loss.name` with its options for `stage` (a missing or `null` option takes the loss's default for the stage).
 * `needsNoise`: the loss takes a cloud noise draw per call; `takesClassWeights`: it uses the `weight` argument
 * (otherwise `weight` is ignored: the config refuses weighting or DRW for such a loss).
 */
export function makeLoss(loss: LossConfig, counts: number[], stage: Stage): { fn: StepLoss; needsNoise: boolean; takesClassWeights: boolean } {
  const spec = getLoss(loss.name);
  const options = lossOptionValues(loss, stage);
  const fn = spec.create({ clsNumList: counts.map((n) => Math.max(n, 1)), stage, options });
  return {
    needsNoise: spec.cloudNoise,
    takesClassWeights: spec.classWeights,
    fn: (logits, labels, noise, weight) => fn(logits, labels, { noise: spec.cloudNoise ? noise : null, weight: spec.classWeights ? weight : null }),
  };
}

/** The head `model.head` means: the one given, or for `auto` the head the stage-1 loss is defined on. */
export function resolveHead(head: RunConfig['model']['head'], lossName: string): 'cosine' | 'dense' {
  return head === 'auto' ? getLoss(lossName).head.preferred : head;
}

/**
 * The factor a stage's loss multiplies the network's outputs by before its softmax (`LossSpec.logitScale`: a cosine
 * loss's `s`, e.g. GCL's 30 in stage 1 and 20 in stage 2; 1 for losses that take the outputs as logits):
 * `softmax(scale · outputs)` are the probabilities the network was trained to give. Calibration uses them; the
 * argmax, and so every accuracy, does not depend on it.
 */
export function probabilityScale(config: RunConfig, stage: Stage): number {
  const loss = stage === 1 ? config.stage1.loss : config.stage2.loss;
  return getLoss(loss.name).logitScale?.(lossOptionValues(loss, stage)) ?? 1;
}

/** The stage whose network a run reports last: 2 when stage 2 runs, else 1. */
export function finalStageOf(config: RunConfig): Stage {
  return config.stage2.enabled && config.stage2.epochs > 0 ? 2 : 1;
}
