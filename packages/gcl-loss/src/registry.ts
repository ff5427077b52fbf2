import type { Scalar, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { BUILTIN_LOSSES } from './builtin-losses.js';

/** A training stage of the two-stage protocol: 1 representation learning, 2 classifier re-training. */
export type Stage = 1 | 2;

/** Classifier head kinds a loss can ask for (the backbones package's `HeadKind`). */
export type LossHead = 'cosine' | 'dense';

/**
 * One option of a registered loss, described as a JSON-schema-like node so that a config file, a CLI flag and
 * `--help` can be derived from it: a number with bounds, or a boolean.
 */
export type LossOptionSchema =
  | {
      type: 'number';
      /** Default in every stage the option is taken in (see `stageDefaults`). */
      default: number;
      /** One line for `--help` and the docs. */
      description: string;
      integer?: boolean;
      minimum?: number;
      exclusiveMinimum?: number;
      maximum?: number;
      exclusiveMaximum?: number;
      /** Stages in which the option exists (default both). */
      stages?: readonly Stage[];
      /** Default of a stage where it differs from `default`. */
      stageDefaults?: Partial<Record<Stage, number>>;
    }
  | {
      type: 'boolean';
      default: boolean;
      description: string;
      stages?: readonly Stage[];
      stageDefaults?: Partial<Record<Stage, boolean>>;
    };

/** Resolved options of one loss in one stage: option name → value. */
export type LossOptionValues = Readonly<Record<string, number | boolean>>;

/** What a loss function of the registry is called with besides logits and labels. */
export interface LossInputs {
  /** This call's cloud noise draw, B×C (only for a loss with `cloudNoise: true`; null otherwise). */
  noise: Tensor2D | null;
  /** Per-class loss weights (only for a loss with `classWeights: true`; null otherwise or when off). */
  weight: number[] | null;
}

/** A loss ready to train with: `(logits, labels, { noise, weight }) → scalar`, differentiable in `logits`. */
export type LossFunction = (logits: Tensor2D, labels: Tensor1D, inputs: LossInputs) => Scalar;

/** What {@link LossSpec.create} is given. */
export interface LossContext {
  /** Training images per class, each ≥ 1. */
  clsNumList: number[];
  /** The stage the loss trains (stage 2 is classifier re-training). */
  stage: Stage;
  /** Every option of the loss in this stage, defaults filled in (see {@link lossOptionsFor}). */
  options: LossOptionValues;
}

/**
 * The description of a loss for the registry (Keras' `losses.get()` over one dict of objects with a config, timm's
 * `register_model`): its name, its options and their per-stage defaults, what it needs around it, and a factory.
 */
export interface LossSpec {
  /** The name a config selects it by, e.g. `"gcl"`. */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly description: string;
  /** Its options (not counting class weights, which `classWeights` governs). */
  readonly options: Readonly<Record<string, LossOptionSchema>>;
  /** Whether each call takes a cloud noise draw (`LossInputs.noise`). */
  readonly cloudNoise: boolean;
  /** The classifier head it is defined on; with `required`, another head is a config error. */
  readonly head: { readonly preferred: LossHead; readonly required: boolean };
  /** Whether it accepts per-class loss weights (re-weighting, DRW). */
  readonly classWeights: boolean;
  /**
   * Checks that need more than one option's bounds; each issue names the option first
   * (`"m must be <= π/2 for gcl-angular, got 2"`). Optional.
   */
  validate?(options: LossOptionValues, stage: Stage): string[];
  /**
   * The factor the loss multiplies the network's outputs by before its softmax (a cosine loss's scale `s`), for the
   * option values of a stage: `softmax(logitScale · outputs)` are the probabilities the network was trained to give,
   * which calibration and an exported model use. Absent: 1 (the loss takes the outputs as logits).
   */
  logitScale?(options: LossOptionValues): number;
  /** The loss function of a stage. */
  create(context: LossContext): LossFunction;
}

// Filled from the one list of built-ins when the module loads (no import-time side effect elsewhere).
const registry = new Map<string, LossSpec>(BUILTIN_LOSSES.map((spec) => [spec.name, spec]));

/**
 * Adds a loss to the registry, so that every tool built on it (the trainer's config, CLI flags, `--help`) offers it.
 * Throws if the name is taken, unless `override` is set.
 * @returns the spec (so a module can `export const mySpec = registerLoss({ … })`).
 */
export function registerLoss(spec: LossSpec, options: { override?: boolean } = {}): LossSpec {
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(spec.name)) {
    throw new TypeError(`registerLoss: spec.name must be a lower-case name (letters, digits, ".", "_", "-"), got ${JSON.stringify(spec?.name)}`);
  }
  if (typeof spec.create !== 'function') throw new TypeError(`registerLoss: spec.create of "${spec.name}" must be a function`);
  for (const [key, option] of Object.entries(spec.options ?? {})) {
    if (key === 'name' || key === 'weighting') throw new TypeError(`registerLoss: "${spec.name}" may not name an option "${key}" (a config key of its own)`);
    if (option.type !== 'number' && option.type !== 'boolean') throw new TypeError(`registerLoss: option ${key} of "${spec.name}" must be a number or boolean option`);
    if (option.type === 'number') {
      for (const value of [option.default, ...Object.values(option.stageDefaults ?? {})]) {
        const outside =
          typeof value !== 'number' ||
          !Number.isFinite(value) ||
          (option.minimum !== undefined && value < option.minimum) ||
          (option.exclusiveMinimum !== undefined && value <= option.exclusiveMinimum) ||
          (option.maximum !== undefined && value > option.maximum) ||
          (option.exclusiveMaximum !== undefined && value >= option.exclusiveMaximum) ||
          (option.integer === true && !Number.isInteger(value));
        if (outside) throw new RangeError(`registerLoss: the default ${value} of option ${key} of "${spec.name}" is outside the option's own bounds`);
      }
    } else if (typeof option.default !== 'boolean') {
      throw new TypeError(`registerLoss: the default of boolean option ${key} of "${spec.name}" must be true or false`);
    }
  }
  if (registry.has(spec.name) && !options.override) throw new Error(`registerLoss: a loss named "${spec.name}" is already registered (pass { override: true } to replace it)`);
  registry.set(spec.name, spec);
  return spec;
}

/** The registered loss of this name; throws naming the registered ones otherwise. */
export function getLoss(name: string): LossSpec {
  const spec = registry.get(name);
  if (!spec) throw new RangeError(`unknown loss ${JSON.stringify(name)} (registered: ${lossNames().join(', ')})`);
  return spec;
}

/** Names of the registered losses, in registration order (the built-ins first). */
export function lossNames(): string[] {
  return [...registry.keys()];
}

/** Every registered loss spec, in registration order. */
export function listLosses(): LossSpec[] {
  return [...registry.values()];
}

/**
 * The options a loss takes in `stage`, each with that stage's default (`stageDefaults[stage] ?? default`), in
 * declaration order.
 */
export function lossOptionsFor(spec: LossSpec, stage: Stage): Record<string, LossOptionSchema> {
  const out: Record<string, LossOptionSchema> = {};
  for (const [key, option] of Object.entries(spec.options ?? {})) {
    if (option.stages && !option.stages.includes(stage)) continue;
    const fallback = option.stageDefaults?.[stage];
    out[key] = { ...option, default: fallback ?? option.default } as LossOptionSchema;
  }
  return out;
}

/** The default option values of a loss in `stage` (the official code's values). */
export function lossDefaultsFor(spec: LossSpec, stage: Stage): Record<string, number | boolean> {
  return Object.fromEntries(Object.entries(lossOptionsFor(spec, stage)).map(([key, option]) => [key, option.default]));
}
