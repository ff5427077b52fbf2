import { classCounts } from './class-counts.js';
import type { CreateSamplerOptions } from './create-sampler.js';
import { classAwareRule, shuffleRule, WeightedClassSampler, type IndexSampler } from './samplers.js';
import { balancedRule, classBasedEffectiveNumberRule, effectiveNumberRule, normalizeWeights } from './weights.js';

/** Options a weight rule may read (each has the rule's own default). */
export interface WeightRuleOptions {
  /** β of `effective-number`. */
  beta?: number;
  /** β_a, β_b of `class-based-effective-number`. */
  betaA?: number;
  betaB?: number;
}

/**
 * A per-class weight rule: the re-weighting of a loss (`weighting`, DRW) and, through a weighted sampler of the same
 * name, a re-sampling rule.
 */
export interface WeightRuleSpec {
  /** The name a config selects it by, e.g. `"effective-number"`. */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly description: string;
  /** Raw (unnormalised) weight of each class from its training-image count (positive integers). */
  weights(counts: number[], options: WeightRuleOptions): number[];
}

/** A sampling rule: builds the {@link IndexSampler} of one epoch order after another. */
export interface SamplerSpec {
  /** The name a config selects it by, e.g. `"class-aware"`. */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly description: string;
  /** The sampler over a data set's labels (validated non-negative integers). */
  create(labels: Int32Array, options: CreateSamplerOptions): IndexSampler;
}

/** The weighting value meaning "no class weights" (a plain, unweighted loss). */
export const NO_WEIGHTING = 'none';

/**
 * The sampler of a weight rule: dataset-length draws with replacement, P(index) ∝ the rule's weight of its class,
 * computed over the classes that have samples (a class without samples gets weight 0).
 */
export function weightedSampler(rule: WeightRuleSpec): SamplerSpec {
  return {
    name: rule.name,
    description: `draws with replacement, P(image) ∝ ${rule.description}`,
    create(labels, options) {
      const counts = classCounts(labels);
      const present = counts.filter((n) => n > 0);
      const presentWeights = rule.weights(present, options);
      let k = 0;
      const weights = counts.map((n) => (n > 0 ? presentWeights[k++] : 0));
      return new WeightedClassSampler({ labels, classWeights: weights, numSamples: options.numSamples, seed: options.seed });
    },
  };
}

/** The built-in weight rules, one spec per rule (each is also a sampler of the same name). */
export const BUILTIN_WEIGHT_RULES: readonly WeightRuleSpec[] = [balancedRule, effectiveNumberRule, classBasedEffectiveNumberRule];

/** The built-in samplers: shuffling, the weighted sampler of each weight rule, class-aware. */
export const BUILTIN_SAMPLERS: readonly SamplerSpec[] = [shuffleRule, ...BUILTIN_WEIGHT_RULES.map(weightedSampler), classAwareRule];

/** The paper's protocol when a config names none: shuffling in stage 1, class-based effective number in stage 2. */
export const DEFAULT_SAMPLERS: Readonly<{ stage1: string; stage2: string }> = { stage1: shuffleRule.name, stage2: classBasedEffectiveNumberRule.name };

/** The class weights deferred re-weighting (DRW) switches to when a config names none: effective number. */
export const DEFAULT_DRW_WEIGHTING: string = effectiveNumberRule.name;

const weightRules = new Map<string, WeightRuleSpec>(BUILTIN_WEIGHT_RULES.map((spec) => [spec.name, spec]));
const samplerRules = new Map<string, SamplerSpec>(BUILTIN_SAMPLERS.map((spec) => [spec.name, spec]));

function checkName(kind: string, name: unknown): void {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(name) || name === NO_WEIGHTING && kind === 'registerWeightRule') {
    throw new TypeError(`${kind}: spec.name must be a lower-case name (letters, digits, ".", "_", "-"; not "${NO_WEIGHTING}"), got ${JSON.stringify(name)}`);
  }
}

/**
 * Adds a weight rule to the registry (and, unless `sampler: false`, its weighted sampler under the same name), so
 * that `createSampler`, {@link classWeights} and the trainer's `weighting`, `drw.weighting` and `sampler` keys offer
 * it. Throws if the name is taken, unless `override` is set.
 */
export function registerWeightRule(spec: WeightRuleSpec, options: { sampler?: boolean; override?: boolean } = {}): WeightRuleSpec {
  checkName('registerWeightRule', spec?.name);
  if (typeof spec.weights !== 'function') throw new TypeError(`registerWeightRule: spec.weights of "${spec.name}" must be a function`);
  if (weightRules.has(spec.name) && !options.override) {
    throw new Error(`registerWeightRule: a weight rule named "${spec.name}" is already registered (pass { override: true } to replace it)`);
  }
  if (options.sampler !== false && samplerRules.has(spec.name) && !options.override && !weightRules.has(spec.name)) {
    throw new Error(`registerWeightRule: a sampler named "${spec.name}" is already registered (pass { override: true } to replace it, or { sampler: false })`);
  }
  weightRules.set(spec.name, spec);
  if (options.sampler !== false) registerSampler(weightedSampler(spec), { override: true });
  return spec;
}

/** Adds a sampler to the registry (`createSampler` and the trainer's `sampler` keys offer it). */
export function registerSampler(spec: SamplerSpec, options: { override?: boolean } = {}): SamplerSpec {
  checkName('registerSampler', spec?.name);
  if (typeof spec.create !== 'function') throw new TypeError(`registerSampler: spec.create of "${spec.name}" must be a function`);
  if (samplerRules.has(spec.name) && !options.override) {
    throw new Error(`registerSampler: a sampler named "${spec.name}" is already registered (pass { override: true } to replace it)`);
  }
  samplerRules.set(spec.name, spec);
  return spec;
}

/** The registered weight rule of this name; throws naming the registered ones otherwise. */
export function getWeightRule(name: string): WeightRuleSpec {
  const spec = weightRules.get(name);
  if (!spec) throw new RangeError(`unknown weight rule ${JSON.stringify(name)} (registered: ${weightRuleNames().join(', ')})`);
  return spec;
}

/** The registered sampler of this name; throws naming the registered ones otherwise. */
export function getSampler(name: string): SamplerSpec {
  const spec = samplerRules.get(name);
  if (!spec) throw new RangeError(`rule must be one of ${samplerNames().map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(name)}`);
  return spec;
}

/** Names of the registered weight rules, built-ins first. */
export function weightRuleNames(): string[] {
  return [...weightRules.keys()];
}

/** The values of a `weighting` setting: {@link NO_WEIGHTING} and every weight rule. */
export function weightingNames(): string[] {
  return [NO_WEIGHTING, ...weightRules.keys()];
}

/** Names of the registered samplers, built-ins first. */
export function samplerNames(): string[] {
  return [...samplerRules.keys()];
}

/** Every registered weight rule spec. */
export function listWeightRules(): WeightRuleSpec[] {
  return [...weightRules.values()];
}

/** Every registered sampler spec. */
export function listSamplers(): SamplerSpec[] {
  return [...samplerRules.values()];
}

/**
 * Per-class loss weights of a weighting rule, normalised to sum to 1 (`w / Σ w`, the method's re-weighting), or
 * null for {@link NO_WEIGHTING}: e.g. `balanced` `1/n_j`, `effective-number` `(1 − β)/(1 − β^{n_j})`.
 *
 * @param counts training images per class, positive integers.
 */
export function classWeights(rule: string, counts: number[], options: WeightRuleOptions = {}): number[] | null {
  if (rule === NO_WEIGHTING) return null;
  return normalizeWeights(getWeightRule(rule).weights(counts, options));
}
