import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { appendFileChecked, FileWriteError, writeFileAtomicSync } from './atomic.js';
import type { ValidationSummary } from './evaluation.js';

/** One optimisation step. */
export interface StepRecord {
  type: 'step';
  stage: 1 | 2;
  epoch: number;
  step: number;
  /** Global step counter of the stage. */
  globalStep: number;
  loss: number;
  /** Training top-1 of the batch (mixup: λ-weighted over both targets). */
  accuracy: number;
  lr: number;
  imagesPerSecond: number;
  time: string;
}

/** One finished epoch (evaluation fields present when the epoch was evaluated). */
export interface EpochRecord {
  type: 'epoch';
  stage: 1 | 2;
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
  top1?: number;
  top5?: number;
  many?: number | null;
  medium?: number | null;
  few?: number | null;
  /** Test ECE (15 bins by default). */
  ece?: number | null;
  /** Validation figures (`evaluation.select` `val`). */
  val?: ValidationSummary;
  time: string;
}

export type MetricRecord = StepRecord | EpochRecord;

/**
 * Appends metric records to a JSON-lines file (`metrics.jsonl`), one line per step or epoch. Lines are written
 * synchronously so that what a crashed run logged is on disk; a torn last line is ignored by {@link readMetrics}.
 */
export class MetricsLog {
  constructor(readonly filePath: string) {
    try {
      mkdirSync(path.dirname(filePath), { recursive: true });
    } catch (error) {
      throw new FileWriteError(path.dirname(filePath), error, 'create the directory');
    }
  }

  append(record: MetricRecord): void {
    appendFileChecked(this.filePath, `${JSON.stringify(record)}\n`);
  }

  /**
   * Drops records of work a resumed run will redo: everything of a later stage, and of `stage` from `epoch` on.
   * Keeps the file consistent with the checkpoint the run resumes from.
   */
  truncateFrom(stage: 1 | 2, epoch: number): void {
    if (!existsSync(this.filePath)) return;
    const kept = readMetrics(this.filePath).filter((record) => record.stage < stage || (record.stage === stage && record.epoch < epoch));
    writeFileAtomicSync(this.filePath, kept.map((record) => `${JSON.stringify(record)}\n`).join(''));
  }
}

/** Reads a `metrics.jsonl` file; malformed lines (a line torn by a crash) are skipped. */
export function readMetrics(filePath: string): MetricRecord[] {
  if (!existsSync(filePath)) return [];
  const out: MetricRecord[] = [];
  for (const line of readFileSync(filePath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const record = JSON.parse(line) as MetricRecord;
      if (record && (record.type === 'step' || record.type === 'epoch')) out.push(record);
    } catch {
      // A partially written last line after a crash: ignore it.
    }
  }
  return out;
}
