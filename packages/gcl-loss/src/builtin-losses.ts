import { balancedSoftmaxSpec } from './balanced-softmax.js';
import { crossEntropySpec } from './cross-entropy.js';
import { focalSpec } from './focal.js';
import { gclSpec } from './gcl.js';
import { gclAngularSpec } from './gcl-angular.js';
import { ldamSpec } from './ldam.js';
import { logitAdjustedSpec } from './logit-adjusted.js';
import type { LossSpec } from './registry.js';

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
