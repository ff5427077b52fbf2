import { balancedSoftmaxSpec } from './balanced-softmax';
import { crossEntropySpec } from './cross-entropy';
import { focalSpec } from './focal';
import { gclSpec } from './gcl';
import { gclAngularSpec } from './gcl-angular';
import { ldamSpec } from './ldam';
import { logitAdjustedSpec } from './logit-adjusted';
import type { LossSpec } from './registry';

/**
 * The losses of this package, one spec per file, registered in this order (the one list; add a line here for a new
 * built-in loss).
 */
export const BUILTIN_LOSSES: readonly LossSpec[] = [
  gclSpec,
  gclAngularSpec,
  crossEntropySpec,
  focalSpec,
  ldamSpec,
  logitAdjustedSpec,
  balancedSoftmaxSpec,
];

/** The loss of both stages when a config names none: GCL, the paper's method. */
export const DEFAULT_LOSS: string = gclSpec.name;
