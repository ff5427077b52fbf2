/** Learning-rate schedules as pure functions of the (0-based) epoch. */

function checkPositive(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${String(value)}`);
  }
}

export interface WarmupStepDecayOptions {
  /** Base learning rate. */
  lr: number;
  /** Linear warm-up length in epochs (default 5). */
  warmupEpochs?: number;
  /** Epochs (0-based) from which the rate is multiplied by another `gamma` (default [160, 180]). */
  milestones?: readonly number[];
  /** Decay factor per milestone (default 0.1). */
  gamma?: number;
}

/**
 * Linear warm-up followed by step decay, the CIFAR-LT protocol of the official code.
 *
 * For a 0-based epoch `e` and the fraction `p` of that epoch done after the current step (default 1, i.e. the
 * official per-epoch form), with `t = e + p`:
 * - `t <= warmupEpochs`: `lr · t / warmupEpochs`
 * - otherwise: `lr · gamma^k`, `k` = number of milestones `<= e`.
 * Pass `p` per step when `warmupEpochs` is fractional (a compressed schedule), so the warm-up still ramps.
 *
 * Defaults (lr 0.1, 5 warm-up epochs, milestones [160, 180], gamma 0.1) give 0.02, 0.04, … 0.1 over epochs 0–4,
 * 0.1 until 159, 0.01 from 160 and 0.001 from 180.
 */
export function warmupStepDecay(epoch: number, options: WarmupStepDecayOptions, progressInEpoch = 1): number {
  const { lr, warmupEpochs = 5, milestones = [160, 180], gamma = 0.1 } = options;
  checkPositive('lr', lr);
  if (!Number.isFinite(epoch) || epoch < 0) throw new RangeError(`epoch must be a finite number >= 0, got ${epoch}`);
  if (!Number.isFinite(warmupEpochs) || warmupEpochs < 0) {
    throw new RangeError(`warmupEpochs must be a finite number >= 0, got ${warmupEpochs}`);
  }
  if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`gamma must be in (0, 1], got ${gamma}`);
  if (!(progressInEpoch > 0 && progressInEpoch <= 1)) {
    throw new RangeError(`progressInEpoch must be in (0, 1], got ${progressInEpoch}`);
  }
  const whole = Math.floor(epoch);
  const elapsed = whole + progressInEpoch;
  if (warmupEpochs > 0 && elapsed <= warmupEpochs) return (lr * elapsed) / warmupEpochs;
  let factor = 1;
  for (const milestone of milestones) if (whole >= milestone) factor *= gamma;
  return lr * factor;
}

/**
 * Cosine annealing over `totalEpochs`: `lr · (1 + cos(π e / E)) / 2` for a 0-based epoch `e` (fractional allowed).
 * Starts at `lr`, halves at `E/2`, tends to 0 at `E`. The method page's stage-2 rate `0.001 · (1 + cos(π e/E))` is
 * this with `lr = 0.002`.
 */
export function cosineDecay(epoch: number, options: { lr: number; totalEpochs: number }): number {
  const { lr, totalEpochs } = options;
  checkPositive('lr', lr);
  checkPositive('totalEpochs', totalEpochs);
  if (!Number.isFinite(epoch) || epoch < 0) throw new RangeError(`epoch must be a finite number >= 0, got ${epoch}`);
  return (lr * (1 + Math.cos((Math.PI * Math.min(epoch, totalEpochs)) / totalEpochs))) / 2;
}

/**
 * Compresses the official 200-epoch CIFAR schedule (5 warm-up epochs, decay at 80 % and 90 %) to `epochs` epochs:
 * warm-up scaled proportionally, milestones at `round(0.8·E)` and `round(0.9·E)`.
 */
export function compressedSchedule(epochs: number): { warmupEpochs: number; milestones: number[] } {
  if (!Number.isInteger(epochs) || epochs <= 0) throw new RangeError(`epochs must be a positive integer, got ${epochs}`);
  return { warmupEpochs: (5 * epochs) / 200, milestones: [Math.round(0.8 * epochs), Math.round(0.9 * epochs)] };
}
