import { manyMediumFew, type ShotGroups } from '@longtail/datasets';
import { writeFileAtomic } from './atomic.js';
import { calibration, type CalibrationResult, type TemperatureScaling } from './calibration.js';

export type { ShotGroups };

/** Scores and labels of a whole evaluation set. */
export interface Predictions {
  /** Row-major `numSamples × numClasses` scores (logits). */
  logits: Float32Array | Float64Array | number[];
  /** True class per sample, `numSamples` entries. */
  labels: Int32Array | number[];
  numClasses: number;
}

function checkPredictions({ logits, labels, numClasses }: Predictions): number {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  if (logits.length !== labels.length * numClasses) {
    throw new RangeError(
      `logits must hold labels.length × numClasses = ${labels.length} × ${numClasses} = ${labels.length * numClasses} values, got ${logits.length}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new RangeError(`labels[${i}] must be an integer class index in [0, ${numClasses}), got ${label}`);
    }
  }
  return labels.length;
}

/**
 * Rank of the true class per sample: the number of classes scored above it, ties broken by the lower class index
 * first (the order of a stable descending sort). Top-k is correct when rank < k; rank 0 is the argmax prediction.
 */
export function trueClassRanks(predictions: Predictions): Int32Array {
  const count = checkPredictions(predictions);
  const { logits, labels, numClasses } = predictions;
  const ranks = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = i * numClasses;
    const label = labels[i];
    const target = logits[row + label];
    let rank = 0;
    for (let j = 0; j < numClasses; j++) {
      const value = logits[row + j];
      if (value > target || (value === target && j < label) || Number.isNaN(target)) rank++;
    }
    ranks[i] = Math.min(rank, numClasses - 1);
  }
  return ranks;
}

/** Predicted class per sample: argmax of its row, the lowest index on ties. */
export function argmaxPredictions(logits: Predictions['logits'], numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses <= 0) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  if (logits.length % numClasses !== 0) throw new RangeError(`logits length ${logits.length} is not a multiple of numClasses ${numClasses}`);
  const count = logits.length / numClasses;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    let bestValue = logits[i * numClasses];
    for (let j = 1; j < numClasses; j++) {
      const value = logits[i * numClasses + j];
      if (value > bestValue || Number.isNaN(bestValue)) {
        best = j;
        bestValue = value;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Fraction of samples whose true class is among the `k` highest scores (`k` capped at `numClasses`). */
export function topKAccuracy(predictions: Predictions, k: number): number {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`k must be a positive integer, got ${k}`);
  const ranks = trueClassRanks(predictions);
  if (ranks.length === 0) return Number.NaN;
  let hits = 0;
  for (const rank of ranks) if (rank < k) hits++;
  return hits / ranks.length;
}

/** `numClasses × numClasses` counts, `matrix[true][predicted]`. */
export function confusionMatrix(labels: Predictions['labels'], predicted: Int32Array | number[], numClasses: number): number[][] {
  if (labels.length !== predicted.length) {
    throw new RangeError(`predicted must have labels.length (${labels.length}) entries, got ${predicted.length}`);
  }
  const matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    const guess = predicted[i];
    if (!(label >= 0 && label < numClasses)) throw new RangeError(`labels[${i}] must be in [0, ${numClasses}), got ${label}`);
    if (!(guess >= 0 && guess < numClasses)) throw new RangeError(`predicted[${i}] must be in [0, ${numClasses}), got ${guess}`);
    matrix[label][guess]++;
  }
  return matrix;
}

/** Per-class accuracy (recall) from a confusion matrix: diagonal / row sum, `null` for a class with no samples. */
export function perClassAccuracy(confusion: number[][]): Array<number | null> {
  return confusion.map((row, index) => {
    const total = row.reduce((sum, value) => sum + value, 0);
    return total === 0 ? null : row[index] / total;
  });
}

/** Mean of the per-class accuracies of `classes`; `null` when the group is empty or none of its classes was tested. */
export function groupAccuracy(perClass: Array<number | null>, classes: readonly number[]): number | null {
  const values = classes.map((c) => perClass[c]).filter((value): value is number => value !== null && value !== undefined);
  if (values.length === 0) return null;
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Everything one evaluation reports; accuracies are fractions in [0, 1], `null` where undefined. */
export interface EvaluationResult {
  numSamples: number;
  numClasses: number;
  top1: number;
  top5: number;
  many: number | null;
  medium: number | null;
  few: number | null;
  groups: ShotGroups;
  perClassAccuracy: Array<number | null>;
  trainCounts: number[];
  confusion: number[][];
  classNames?: string[];
  /** Calibration of the softmax probabilities (ECE, classwise, per shot group, reliability bins); absent in old results. */
  calibration?: CalibrationResult;
  /** How the reported epoch was chosen (results of a stage or run; absent in results written before selection existed). */
  selection?: SelectionRecord;
  /** Validation figures of the reported epoch, when a validation split was scored. */
  validation?: ValidationSummary;
  /** Temperature scaling fitted on the validation split, when `evaluation.temperatureScaling` is on. */
  temperatureScaling?: TemperatureScaling;
}

/**
 * Which epoch a stage reports: `val` the best validation score (mean per-class accuracy on the validation split),
 * `test` the best test top-1 (the official GCL code's and the paper's protocol), `last` the last evaluated epoch.
 */
export const SELECTION_MODES = ['val', 'test', 'last'] as const;
export type SelectionMode = (typeof SELECTION_MODES)[number];

/** How a reported epoch was selected. */
export interface SelectionRecord {
  mode: SelectionMode;
  /** 1-based epoch of the stage that was selected. */
  epoch: number;
  /** The score it was selected by (`val`: validation mean per-class accuracy; `test`: test top-1; `last`: none). */
  score: number | null;
  /** Where the validation split came from (`val` only): the data set's own, or a seeded stratified hold-out. */
  validationSource?: 'dataset' | 'hold-out';
}

/** The validation figures of one evaluation (fractions; `balancedAccuracy` is the mean per-class accuracy). */
export interface ValidationSummary {
  numSamples: number;
  top1: number;
  balancedAccuracy: number | null;
  many: number | null;
  medium: number | null;
  few: number | null;
  ece: number | null;
}

/** The validation summary of a validation-split evaluation. */
export function validationSummary(result: EvaluationResult): ValidationSummary {
  return {
    numSamples: result.numSamples,
    top1: result.top1,
    // Mean per-class accuracy over the classes the split has images of.
    balancedAccuracy: groupAccuracy(result.perClassAccuracy, result.perClassAccuracy.map((_, c) => c)),
    many: result.many,
    medium: result.medium,
    few: result.few,
    ece: result.calibration?.ece ?? null,
  };
}

/**
 * Top-1, top-5, per-class accuracy, many/medium/few-shot accuracy (mean per-class accuracy of each group, `null`
 * for an empty group) and the confusion matrix of one evaluation.
 */
export function evaluatePredictions(
  predictions: Predictions,
  trainCounts: readonly number[],
  options: { manyThreshold?: number; fewThreshold?: number; classNames?: string[]; calibrationBins?: number } = {},
): EvaluationResult {
  const { numClasses, labels, logits } = predictions;
  if (trainCounts.length !== numClasses) {
    throw new RangeError(`trainCounts must have numClasses (${numClasses}) entries, got ${trainCounts.length}`);
  }
  const ranks = trueClassRanks(predictions);
  const predicted = argmaxPredictions(logits, numClasses);
  const confusion = confusionMatrix(labels, predicted, numClasses);
  const perClass = perClassAccuracy(confusion);
  const groups = manyMediumFew(trainCounts, { manyAbove: options.manyThreshold, fewBelow: options.fewThreshold });
  let top1 = 0;
  let top5 = 0;
  for (const rank of ranks) {
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  }
  const result: EvaluationResult = {
    numSamples: ranks.length,
    numClasses,
    top1: ranks.length ? top1 / ranks.length : Number.NaN,
    top5: ranks.length ? top5 / ranks.length : Number.NaN,
    many: groupAccuracy(perClass, groups.many),
    medium: groupAccuracy(perClass, groups.medium),
    few: groupAccuracy(perClass, groups.few),
    groups,
    perClassAccuracy: perClass,
    trainCounts: [...trainCounts],
    confusion,
  };
  if (ranks.length > 0) result.calibration = calibration(logits, labels, numClasses, groups, { bins: options.calibrationBins });
  if (options.classNames) result.classNames = options.classNames;
  return result;
}

/** Formats an accuracy fraction as a percentage with one decimal, or "n/a" for `null`/NaN. */
export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : `${(100 * value).toFixed(1)}`;
}

/**
 * Writes `results.json` (pretty JSON: the evaluation plus whatever `extra` holds, e.g. stage and epoch), atomically:
 * a full disk leaves the previous file (or none), never a truncated one, and the error names the file.
 */
export async function writeResults(filePath: string, result: EvaluationResult, extra: Record<string, unknown> = {}): Promise<void> {
  await writeFileAtomic(filePath, `${JSON.stringify({ ...extra, ...result }, null, 2)}\n`);
}
