/**
 * Calibration of a classifier's softmax probabilities: expected calibration error (ECE) over equal-width confidence
 * bins, as MiSLAS reports it, the classwise ECE, ECE per shot group, a reliability diagram's bins, the negative
 * log-likelihood, and temperature scaling fitted on a validation split.
 */
import type { ShotGroups } from '@longtail/datasets';

/** Bins of the confidence histogram: 15, as MiSLAS (Zhong et al., CVPR 2021) and Guo et al. (2017). */
export const DEFAULT_CALIBRATION_BINS = 15;

/** One bin `(lower, upper]` of a reliability diagram (the first bin also holds confidence 0). */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  /** Samples whose top-1 confidence falls in the bin. */
  count: number;
  /** Mean top-1 confidence of those samples; `null` for an empty bin. */
  confidence: number | null;
  /** Their top-1 accuracy; `null` for an empty bin. */
  accuracy: number | null;
}

/** The calibration of one evaluation; errors are fractions in [0, 1] (×100 for the usual "ECE %"). */
export interface CalibrationResult {
  bins: number;
  /** Top-label ECE: Σ_b (|B_b| / N) · |acc(B_b) − conf(B_b)| over the top-1 confidence bins. */
  ece: number;
  /**
   * Classwise ECE (Kull et al. 2019): the mean over classes j of ECE_j, where ECE_j bins every sample's probability of
   * class j and compares each bin's mean probability with the frequency of class j in it.
   */
  classwiseEce: number;
  /** ECE_j of each class (the terms of `classwiseEce`). */
  perClassEce: number[];
  /** Top-label ECE over the test samples whose true class is in each shot group; `null` for an empty group. */
  eceByGroup: { many: number | null; medium: number | null; few: number | null };
  /** Mean negative log-likelihood of the true class (nats). */
  nll: number;
  /** The reliability diagram of `ece`. */
  reliability: ReliabilityBin[];
}

/** Temperature scaling (Guo et al. 2017): logits / T with T fitted on the validation split by minimum NLL. */
export interface TemperatureScaling {
  temperature: number;
  /** Images of the validation split it was fitted on. */
  fittedOn: number;
  /** Test calibration with T = 1 and with the fitted T (accuracy does not change: the argmax is the same). */
  before: Pick<CalibrationResult, 'ece' | 'classwiseEce' | 'nll' | 'eceByGroup'>;
  after: CalibrationResult;
}

type Logits = Float32Array | Float64Array | number[];

/** Row-wise softmax of `logits / temperature` in float64 (max-subtracted, so large logits do not overflow). */
export function softmaxProbabilities(logits: Logits, numClasses: number, temperature = 1): Float64Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be a positive number, got ${temperature}`);
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  if (logits.length % numClasses !== 0) throw new RangeError(`logits length ${logits.length} is not a multiple of numClasses ${numClasses}`);
  const out = new Float64Array(logits.length);
  for (let row = 0; row < logits.length; row += numClasses) {
    let max = -Infinity;
    for (let j = 0; j < numClasses; j++) max = Math.max(max, logits[row + j] / temperature);
    let sum = 0;
    for (let j = 0; j < numClasses; j++) {
      const e = Math.exp(logits[row + j] / temperature - max);
      out[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < numClasses; j++) out[row + j] /= sum;
  }
  return out;
}

/** Bin index of a probability: bins are `(k/B, (k+1)/B]`, and 0 goes to the first. */
function binOf(p: number, bins: number): number {
  return Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
}

/** Top-label ECE and its bins over the samples `include` selects (all when omitted). */
function topLabelEce(probabilities: Float64Array, labels: ArrayLike<number>, numClasses: number, bins: number, include?: (label: number) => boolean) {
  const count = new Float64Array(bins);
  const confidence = new Float64Array(bins);
  const correct = new Float64Array(bins);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (include && !include(label)) continue;
    const row = i * numClasses;
    let best = 0;
    for (let j = 1; j < numClasses; j++) if (probabilities[row + j] > probabilities[row + best]) best = j;
    const p = probabilities[row + best];
    const b = binOf(p, bins);
    count[b]++;
    confidence[b] += p;
    if (best === label) correct[b]++;
    total++;
  }
  let ece = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (count[b] > 0) ece += Math.abs(correct[b] - confidence[b]) / total;
    reliability.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      count: count[b],
      confidence: count[b] > 0 ? confidence[b] / count[b] : null,
      accuracy: count[b] > 0 ? correct[b] / count[b] : null,
    });
  }
  return { ece: total > 0 ? ece : null, reliability, total };
}

/** ECE_j of class j: every sample's probability of j, binned, against the frequency of label j per bin. */
function classEce(probabilities: Float64Array, labels: ArrayLike<number>, numClasses: number, bins: number, j: number): number {
  const count = new Float64Array(bins);
  const mass = new Float64Array(bins);
  const hits = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i * numClasses + j];
    const b = binOf(p, bins);
    count[b]++;
    mass[b] += p;
    if (labels[i] === j) hits[b]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) ece += Math.abs(hits[b] - mass[b]);
  return ece / labels.length;
}

/** Mean negative log-likelihood of the true class under `probabilities` (a zero probability counts as 1e-300). */
function meanNll(probabilities: Float64Array, labels: ArrayLike<number>, numClasses: number): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum -= Math.log(Math.max(probabilities[i * numClasses + labels[i]], 1e-300));
  return sum / labels.length;
}

/**
 * ECE (top-label, `bins` equal-width bins), classwise ECE, ECE per shot group, NLL and the reliability bins of a set
 * of logits, with softmax probabilities of `logits / temperature`. Throws on an empty set.
 */
export function calibration(
  logits: Logits,
  labels: ArrayLike<number>,
  numClasses: number,
  groups: ShotGroups,
  options: { bins?: number; temperature?: number } = {},
): CalibrationResult {
  const bins = options.bins ?? DEFAULT_CALIBRATION_BINS;
  if (!Number.isInteger(bins) || bins <= 0) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  if (labels.length === 0) throw new RangeError('calibration needs at least one sample');
  if (logits.length !== labels.length * numClasses) {
    throw new RangeError(`logits must hold labels.length × numClasses = ${labels.length * numClasses} values, got ${logits.length}`);
  }
  const probabilities = softmaxProbabilities(logits, numClasses, options.temperature ?? 1);
  const overall = topLabelEce(probabilities, labels, numClasses, bins);
  const group = (classes: readonly number[]) => {
    const members = new Set(classes);
    return topLabelEce(probabilities, labels, numClasses, bins, (label) => members.has(label)).ece;
  };
  const perClassEce = Array.from({ length: numClasses }, (_, j) => classEce(probabilities, labels, numClasses, bins, j));
  return {
    bins,
    ece: overall.ece as number,
    classwiseEce: perClassEce.reduce((sum, value) => sum + value, 0) / numClasses,
    perClassEce,
    eceByGroup: { many: group(groups.many), medium: group(groups.medium), few: group(groups.few) },
    nll: meanNll(probabilities, labels, numClasses),
    reliability: overall.reliability,
  };
}

/**
 * The temperature T > 0 that minimises the mean NLL of `softmax(logits / T)` on a validation split: a golden-section
 * search on log T over [1/100, 100] (the NLL is unimodal in T for fixed logits), to a relative precision of 1e-6.
 */
export function fitTemperature(logits: Logits, labels: ArrayLike<number>, numClasses: number): number {
  if (labels.length === 0) throw new RangeError('fitTemperature needs at least one validation sample');
  const nllAt = (logT: number) => meanNll(softmaxProbabilities(logits, numClasses, Math.exp(logT)), labels, numClasses);
  let lo = Math.log(0.01);
  let hi = Math.log(100);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = nllAt(a);
  let fb = nllAt(b);
  while (hi - lo > 1e-6) {
    if (fa <= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = nllAt(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = nllAt(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}
