import { classCounts } from './class-counts.js';
import { SeededRandom } from './random.js';
import { checkLabels, checkPositiveInteger, checkSeed, rejectUnknownOptions } from './validation.js';
import type { SamplerSpec } from './registry.js';

/** State a sampler needs to reproduce its next epoch exactly (JSON-serialisable). */
export interface SamplerState {
  kind: string;
  random: [number, number, number, number];
  [extra: string]: unknown;
}

/**
 * What the trainer asks of a sampler: one epoch of dataset indices at a time, reproducibly.
 * Iterating a sampler yields one epoch (`sample()`).
 */
export interface IndexSampler extends Iterable<number> {
  /** Indices per epoch. */
  readonly numSamples: number;
  /** Draws the next epoch's indices (advances the sampler's state). */
  sample(): Int32Array;
  /** State before the next `sample()`; `setState` on a sampler built with the same arguments continues exactly. */
  getState(): SamplerState;
  setState(state: SamplerState): void;
}

abstract class SeededSampler implements IndexSampler {
  protected readonly random: SeededRandom;
  abstract readonly numSamples: number;
  protected abstract readonly kind: string;

  constructor(seed: number) {
    this.random = new SeededRandom(checkSeed(seed));
  }

  abstract sample(): Int32Array;

  *[Symbol.iterator](): Iterator<number> {
    yield* this.sample();
  }

  getState(): SamplerState {
    return { kind: this.kind, random: this.random.getState() };
  }

  setState(state: SamplerState): void {
    if (!state || state.kind !== this.kind) {
      throw new TypeError(`state is for a '${state?.kind}' sampler, not '${this.kind}'`);
    }
    this.random.setState(state.random);
  }
}

/** A fresh random permutation of all indices every epoch (no re-sampling; the `'none'` rule). */
export class ShuffleSampler extends SeededSampler {
  readonly numSamples: number;
  protected readonly kind = 'shuffle';

  constructor(options: { length: number; seed: number }) {
    super(options.seed);
    this.numSamples = checkPositiveInteger(options.length, 'options.length');
  }

  sample(): Int32Array {
    return this.random.permutation(this.numSamples);
  }
}

export interface WeightedClassSamplerOptions {
  /** Class index of every sample in the dataset. */
  labels: ArrayLike<number>;
  /** Weight of each class; a sample's probability is proportional to its class's weight. */
  classWeights: number[];
  /** Indices per epoch. Default: the dataset length. */
  numSamples?: number;
  seed: number;
}

/**
 * Draws dataset indices with replacement, `P(index i) ∝ classWeights[labels[i]]` — the reference's
 * `WeightedRandomSampler(per-sample weights, len(dataset), replacement=True)`.
 *
 * Sampling is two-stage and O(1) per draw: a class from an alias table built on `classWeights[c] · n_c`, then a
 * uniform sample of that class. Building takes O(dataset + classes), so millions of labels are fine.
 */
export class WeightedClassSampler extends SeededSampler {
  readonly numSamples: number;
  protected readonly kind = 'weighted-class';
  /** Sample indices grouped by class: `members[offsets[c] … offsets[c + 1])`. */
  private readonly members: Int32Array;
  private readonly offsets: Int32Array;
  private readonly aliasProbability: Float64Array;
  private readonly alias: Int32Array;

  constructor(options: WeightedClassSamplerOptions) {
    rejectUnknownOptions(options, ['labels', 'classWeights', 'numSamples', 'seed']);
    super(options.seed);
    const labels = checkLabels(options.labels, 'options.labels');
    const weights = options.classWeights;
    if (!Array.isArray(weights) || weights.length === 0) {
      throw new TypeError('options.classWeights must be a non-empty array of per-class weights');
    }
    weights.forEach((w, c) => {
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
        throw new RangeError(`options.classWeights[${c}] must be a finite number >= 0, got ${String(w)}`);
      }
    });
    const counts = classCounts(labels, Math.max(weights.length, 1));
    this.numSamples = options.numSamples === undefined ? labels.length : checkPositiveInteger(options.numSamples, 'options.numSamples');
    ({ members: this.members, offsets: this.offsets } = groupByClass(labels, counts));
    const mass = counts.map((n, c) => n * weights[c]);
    if (!mass.some((m) => m > 0)) throw new RangeError('options.classWeights give zero weight to every sample');
    ({ probability: this.aliasProbability, alias: this.alias } = buildAliasTable(mass));
  }

  sample(): Int32Array {
    const out = new Int32Array(this.numSamples);
    const classes = this.alias.length;
    for (let i = 0; i < out.length; i++) {
      const column = this.random.nextInt(classes);
      const c = this.random.next() < this.aliasProbability[column] ? column : this.alias[column];
      const start = this.offsets[c];
      out[i] = this.members[start + this.random.nextInt(this.offsets[c + 1] - start)];
    }
    return out;
  }
}

export interface ClassAwareSamplerOptions {
  labels: ArrayLike<number>;
  /** Consecutive samples taken from a class each time it is visited. Default 4. */
  samplesPerClass?: number;
  seed: number;
}

/**
 * Class-aware sampling (Shen et al. 2016, as in the decoupling / GCL code): visit classes in a cycle that is
 * reshuffled each time it wraps, and from the visited class take `samplesPerClass` consecutive samples of that
 * class's own reshuffled cycle. An epoch has `max_j n_j · C` samples (C = classes that have samples).
 * The cycles carry over from epoch to epoch, as in the reference.
 */
export class ClassAwareSampler implements IndexSampler {
  readonly numSamples: number;
  readonly samplesPerClass: number;
  private readonly random: SeededRandom;
  private readonly classOrder: Int32Array;
  private classPosition: number;
  /** Per class: its sample indices in the current cycle order and the position in that cycle. */
  private readonly classMembers: Int32Array[];
  private readonly memberPositions: Int32Array;

  constructor(options: ClassAwareSamplerOptions) {
    rejectUnknownOptions(options, ['labels', 'samplesPerClass', 'seed']);
    this.random = new SeededRandom(checkSeed(options.seed, 'options.seed'));
    const labels = checkLabels(options.labels, 'options.labels');
    this.samplesPerClass =
      options.samplesPerClass === undefined ? 4 : checkPositiveInteger(options.samplesPerClass, 'options.samplesPerClass');
    const counts = classCounts(labels);
    const { members, offsets } = groupByClass(labels, counts);
    const present: number[] = [];
    counts.forEach((n, c) => n > 0 && present.push(c));
    this.classMembers = present.map((c) => members.slice(offsets[c], offsets[c + 1]));
    this.classOrder = Int32Array.from(present.keys());
    // Like the reference's RandomCycleIter: positions start at the end so the first draw reshuffles.
    this.classPosition = this.classOrder.length - 1;
    this.memberPositions = Int32Array.from(this.classMembers, (m) => m.length - 1);
    this.numSamples = Math.max(...this.classMembers.map((m) => m.length)) * present.length;
  }

  private nextClass(): number {
    this.classPosition += 1;
    if (this.classPosition === this.classOrder.length) {
      this.classPosition = 0;
      this.random.shuffle(this.classOrder);
    }
    return this.classOrder[this.classPosition];
  }

  private nextMember(slot: number): number {
    const list = this.classMembers[slot];
    let position = this.memberPositions[slot] + 1;
    if (position === list.length) {
      position = 0;
      this.random.shuffle(list);
    }
    this.memberPositions[slot] = position;
    return list[position];
  }

  sample(): Int32Array {
    const out = new Int32Array(this.numSamples);
    let slot = 0;
    for (let i = 0; i < out.length; i++) {
      if (i % this.samplesPerClass === 0) slot = this.nextClass();
      out[i] = this.nextMember(slot);
    }
    return out;
  }

  *[Symbol.iterator](): Iterator<number> {
    yield* this.sample();
  }

  getState(): SamplerState {
    return {
      kind: 'class-aware',
      random: this.random.getState(),
      classOrder: Array.from(this.classOrder),
      classPosition: this.classPosition,
      classMembers: this.classMembers.map((m) => Array.from(m)),
      memberPositions: Array.from(this.memberPositions),
    };
  }

  setState(state: SamplerState): void {
    if (!state || state.kind !== 'class-aware') throw new TypeError(`state is for a '${state?.kind}' sampler, not 'class-aware'`);
    const classMembers = state.classMembers as number[][];
    if (!Array.isArray(classMembers) || classMembers.length !== this.classMembers.length ||
        classMembers.some((m, c) => !Array.isArray(m) || m.length !== this.classMembers[c].length)) {
      throw new RangeError('state does not belong to a sampler over these labels');
    }
    this.random.setState(state.random);
    this.classOrder.set(state.classOrder as number[]);
    this.classPosition = state.classPosition as number;
    classMembers.forEach((m, c) => this.classMembers[c].set(m));
    this.memberPositions.set(state.memberPositions as number[]);
  }
}

/** Indices of each class, contiguous: class c occupies `members[offsets[c] … offsets[c + 1])`, in dataset order. */
function groupByClass(labels: Int32Array, counts: number[]): { members: Int32Array; offsets: Int32Array } {
  const offsets = new Int32Array(counts.length + 1);
  for (let c = 0; c < counts.length; c++) offsets[c + 1] = offsets[c] + counts[c];
  const cursor = offsets.slice(0, counts.length);
  const members = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) members[cursor[labels[i]]++] = i;
  return { members, offsets };
}

/** Walker's alias table (Vose's construction) for a discrete distribution proportional to `mass`. */
function buildAliasTable(mass: number[]): { probability: Float64Array; alias: Int32Array } {
  const k = mass.length;
  const total = mass.reduce((a, b) => a + b, 0);
  const scaled = Float64Array.from(mass, (m) => (m * k) / total);
  const probability = new Float64Array(k);
  const alias = new Int32Array(k);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large.pop()!;
    probability[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    (scaled[l] < 1 ? small : large).push(l);
  }
  for (const i of large) (probability[i] = 1), (alias[i] = i);
  for (const i of small) (probability[i] = 1), (alias[i] = i); // only reached through rounding error
  return { probability, alias };
}

/** Registry entry `"none"`: no re-sampling, a fresh {@link ShuffleSampler} permutation each epoch. */
export const shuffleRule: SamplerSpec = {
  name: 'none',
  description: 'no re-sampling: a fresh permutation each epoch',
  create: (labels, options) => new ShuffleSampler({ length: labels.length, seed: options.seed }),
};

/** Registry entry `"class-aware"`: the {@link ClassAwareSampler} cycle (option `samplesPerClass`). */
export const classAwareRule: SamplerSpec = {
  name: 'class-aware',
  description: 'class-aware sampling: visit the classes in turn, samplesPerClass images per visit',
  create: (labels, options) => new ClassAwareSampler({ labels, seed: options.seed, samplesPerClass: options.samplesPerClass }),
};
