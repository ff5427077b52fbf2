/**
 * Stage checkpoints as a set: what a stage checkpoint records, and the checks `--resume` makes before anything in the
 * run directory is rewritten (the run's fingerprint, the best network each last checkpoint names, the stage-1 network
 * stage 2 started from), with the one repair that is safe (best rewritten from last after a crash between the two).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Stage } from '@longtail/gcl-loss';
import { writeFileAtomic } from './atomic.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import type { RunConfig } from './config.js';
import type { EvaluationResult } from './evaluation.js';
import { assertFinite } from './finite.js';
import { readJsonIfExists } from './report.js';
import { RunDirectoryError } from './run-directory.js';

/** A stage's checkpoint file by kind (`last`, `best`, `epoch0003`): see `checkpointFile` in run-layout. */
export type StageFile = (stage: Stage, which: string) => string;

/**
 * The metadata of a stage checkpoint. `stage<N>-last.ckpt` is the stage's commit point: it names the run
 * (`fingerprint`), the best network so far by the SHA-256 of its payload (`best.sha256`; `stage<N>-best.ckpt` must
 * hold exactly that), and for stage 2 the stage-1 network it started from (`from`). Resume verifies all three.
 */
export interface StageMeta {
  kind: 'longtail-trainer';
  stage: Stage;
  /** Epochs of this stage completed. */
  epochsDone: number;
  globalStep: number;
  /** `score`: what `evaluation.select` compares (absent in checkpoints written before selection: test top-1). */
  best: { top1: number; epoch: number; sha256: string; score?: number | null } | null;
  rng: number[];
  noiseDraws: number;
  sampler: unknown;
  /** The run's fingerprint (run.json). */
  fingerprint: string;
  /** Stage 2: payload SHA-256 of the stage-1 network it started from (null: the model as built). */
  from: string | null;
  /** Processes of a data-parallel run (absent: one); `--resume` needs the same number. */
  worldSize?: number;
}

/** Results file of a stage's best epoch: the evaluation plus which checkpoint it scores. */
export type StageResultsFile = EvaluationResult & { stage?: number; epoch?: number; best?: boolean; checkpointSha256?: string };

/** The first 12 hex digits of a SHA-256 (`none` for null), for messages. */
export const SHORT = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : 'none');

/** Loads `stage<N>-last.ckpt` for a resume and checks that it is this run's, and finite. */
export async function loadStageCheckpoint(file: string, stage: Stage, fingerprint: string): Promise<Checkpoint<StageMeta>> {
  const checkpoint = await loadCheckpoint<StageMeta>(file);
  const meta = checkpoint.meta;
  if (!meta || meta.kind !== 'longtail-trainer' || meta.stage !== stage) throw new RunDirectoryError(`--resume: ${file} is not a stage-${stage} checkpoint of longtail train`);
  if (meta.fingerprint !== fingerprint) {
    throw new RunDirectoryError(
      `--resume: ${file} belongs to another run (fingerprint ${SHORT(meta.fingerprint)}, this run's is ${SHORT(fingerprint)}): ` +
        `left by an earlier run in this directory? Train afresh with --overwrite`,
    );
  }
  assertFinite(checkpoint.tensors.model ?? [], file, 'weight');
  assertFinite(checkpoint.tensors.optimizer ?? [], file, 'optimizer slot');
  return checkpoint;
}

/**
 * Checks that `stage<N>-best.ckpt` holds the network its last checkpoint names. When the run stopped between the
 * two writes and the best network is the last one, queues rewriting best from last; otherwise refuses.
 */
async function verifyBest(stage: Stage, last: Checkpoint<StageMeta>, file: StageFile, repairs: Array<() => Promise<string>>): Promise<void> {
  const best = last.meta.best;
  if (best === null) return;
  const bestFile = file(stage, 'best');
  let held: Checkpoint<StageMeta> | undefined;
  let problem = 'is missing';
  if (existsSync(bestFile)) {
    try {
      held = await loadCheckpoint<StageMeta>(bestFile);
      problem = `holds another network (after epoch ${held.meta?.epochsDone}, sha256 ${SHORT(held.payloadSha256)})`;
    } catch (error) {
      problem = `is unreadable (${(error as Error).message})`;
    }
  }
  if (held?.payloadSha256 === best.sha256) return;
  if (last.payloadSha256 === best.sha256) {
    repairs.push(async () => {
      await writeFileAtomic(bestFile, readFileSync(file(stage, 'last')));
      return `resume: rewrote ${path.basename(bestFile)} from ${path.basename(file(stage, 'last'))} (the run stopped between the two writes)`;
    });
    return;
  }
  throw new RunDirectoryError(
    `--resume: the stage-${stage} checkpoints are inconsistent: ${file(stage, 'last')} names the best network of epoch ${best.epoch + 1} ` +
      `(sha256 ${SHORT(best.sha256)}), but ${bestFile} ${problem}; the run cannot be resumed exactly (train afresh with --overwrite)`,
  );
}

export interface ResumePoint {
  stage: Stage;
  /** The last checkpoint of the stage resumed. */
  last: Checkpoint<StageMeta>;
  stage1Last: Checkpoint<StageMeta> | null;
  repairs: Array<() => Promise<string>>;
}

/** Verifies the run's checkpoints as a set (see {@link StageMeta}); null when there is none yet. */
export async function verifyCheckpointSet(config: RunConfig, fingerprint: string, file: StageFile): Promise<ResumePoint | null> {
  const repairs: Array<() => Promise<string>> = [];
  let stage1Last: Checkpoint<StageMeta> | null = null;
  if (existsSync(file(1, 'last'))) {
    stage1Last = await loadStageCheckpoint(file(1, 'last'), 1, fingerprint);
    await verifyBest(1, stage1Last, file, repairs);
  }
  if (!existsSync(file(2, 'last'))) return stage1Last ? { stage: 1, last: stage1Last, stage1Last, repairs } : null;
  const last = await loadStageCheckpoint(file(2, 'last'), 2, fingerprint);
  if (config.stage1.epochs > 0 && (stage1Last === null || stage1Last.meta.epochsDone !== config.stage1.epochs)) {
    throw new RunDirectoryError(
      `--resume: ${file(2, 'last')} exists but stage 1 is not complete (${stage1Last ? `${stage1Last.meta.epochsDone} of ${config.stage1.epochs} epochs` : `no ${path.basename(file(1, 'last'))}`}): the checkpoints are inconsistent`,
    );
  }
  const from = stage1Last?.meta.best?.sha256 ?? null;
  if (last.meta.from !== from) {
    throw new RunDirectoryError(
      `--resume: ${file(2, 'last')} did not start from this run's best stage-1 network (it started from ${SHORT(last.meta.from)}, the best is ${SHORT(from)}): the checkpoints are inconsistent`,
    );
  }
  await verifyBest(2, last, file, repairs);
  return { stage: 2, last, stage1Last, repairs };
}

/** Reads a stage's results file if it scores the network `sha256`; undefined otherwise. */
export function readStageResults(file: string, sha256: string): EvaluationResult | undefined {
  const saved = readJsonIfExists<StageResultsFile>(file);
  return saved && saved.checkpointSha256 === sha256 ? saved : undefined;
}

