/**
 * The two stages of a run as data: everything in which stage 1 (representation learning) and stage 2 (classifier
 * re-training on the frozen backbone) differ is a field of a {@link StagePlan}, so the stage runner has no
 * per-stage branches.
 */
import type { Stage } from '@longtail/gcl-loss';
import { classWeights, NO_WEIGHTING } from '@longtail/samplers';
import type { LossConfig, RunConfig } from './config.js';
import { cosineDecay, warmupStepDecay } from './schedules.js';

/** One stage of a run, as the stage runner executes it. */
export interface StagePlan {
  stage: Stage;
  epochs: number;
  batchSize: number;
  /** Sampler rule of `@longtail/samplers`' registry. */
  sampler: string;
  loss: LossConfig;
  /** Mixup Beta(α, α); 0 disables. */
  mixupAlpha: number;
  optimizer: { lr: number; momentum: number; weightDecay: number };
  /** Batch norm in training mode (stage 1); stage 2 runs the backbone in inference mode. */
  training: boolean;
  /** Train only the classifier head (`freezeBackbone`), as stage 2 does. */
  freezeBackbone: boolean;
  /** The learning rate of step `step` (0-based) of `steps` in epoch `epoch` (0-based). */
  learningRate(epoch: number, step: number, steps: number): number;
  /** The loss's per-class weights in epoch `epoch` (null: unweighted); DRW switches them on at its epoch. */
  classWeights(epoch: number): number[] | null;
}

/** The `weighting` of a loss entry (a loss that takes no class weights has none). */
function weightingOf(loss: LossConfig): string {
  return typeof loss.weighting === 'string' ? loss.weighting : NO_WEIGHTING;
}

/**
 * The stages a config trains, in order: stage 1 (warm-up + step decay, a fractional warm-up ramping per step;
 * optional DRW), then stage 2 when enabled (cosine or constant rate, frozen backbone, batch norm in inference).
 * Class weights are computed once from the training counts.
 */
export function stagePlans(config: RunConfig, counts: number[]): StagePlan[] {
  const { stage1, stage2 } = config;
  const base1 = classWeights(weightingOf(stage1.loss), counts);
  const drw = stage1.drw.epoch === null ? null : { epoch: stage1.drw.epoch, weights: classWeights(stage1.drw.weighting, counts) };
  // A fractional (compressed) warm-up ramps per step; an integer one per epoch as the official code.
  const perStep = !Number.isInteger(stage1.schedule.warmupEpochs);
  const plans: StagePlan[] = [
    {
      stage: 1,
      epochs: stage1.epochs,
      batchSize: stage1.batchSize,
      sampler: stage1.sampler,
      loss: stage1.loss,
      mixupAlpha: stage1.mixup.alpha,
      optimizer: stage1.optimizer,
      training: true,
      freezeBackbone: false,
      learningRate: (epoch, step, steps) => warmupStepDecay(epoch, { lr: stage1.optimizer.lr, ...stage1.schedule }, perStep ? (step + 1) / steps : 1),
      classWeights: (epoch) => (drw && epoch >= drw.epoch ? drw.weights : base1),
    },
  ];
  if (stage2.enabled) {
    const base2 = classWeights(weightingOf(stage2.loss), counts);
    plans.push({
      stage: 2,
      epochs: stage2.epochs,
      batchSize: stage2.batchSize,
      sampler: stage2.sampler,
      loss: stage2.loss,
      mixupAlpha: stage2.mixup.alpha,
      optimizer: stage2.optimizer,
      training: false,
      freezeBackbone: true,
      learningRate: (epoch) => (stage2.schedule.type === 'cosine' ? cosineDecay(epoch, { lr: stage2.optimizer.lr, totalEpochs: stage2.epochs }) : stage2.optimizer.lr),
      classWeights: () => base2,
    });
  }
  return plans;
}
