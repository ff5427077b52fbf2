/**
 * The layout of a run directory, in one place: where a config writes, and the name of every file `train` writes
 * and `eval` / `report` / `--resume` read.
 */
import path from 'node:path';
import type { Stage } from '@longtail/gcl-loss';
import { ConfigError, outputPathIssues, type RunConfig } from './config.js';

/** The resolved config of the run. */
export const CONFIG_FILE = 'config.json';
/** One JSON line per step and per epoch. */
export const METRICS_FILE = 'metrics.jsonl';
/** The final evaluation (best network of the last stage). */
export const RESULTS_FILE = 'results.json';
/** Per-stage results (`stage<N>.json`) and `eval-<checkpoint>.json` files. */
export const RESULTS_DIRECTORY = 'results';
/** `stage<N>-last.ckpt`, `stage<N>-best.ckpt`, `stage<N>-epoch<NNNN>.ckpt`. */
export const CHECKPOINT_DIRECTORY = 'checkpoints';
/** The self-contained HTML report. */
export const REPORT_FILE = 'report.html';

/**
 * Output directory of a config: `outputDir`, or `runs/<name>`, relative to `cwd`. A relative path must stay inside
 * `cwd` (and `name` is one path segment); an absolute `outputDir` may be anywhere. Throws a {@link ConfigError}.
 */
export function runDirectory(config: Pick<RunConfig, 'name' | 'outputDir'>, cwd = process.cwd()): string {
  const issues = outputPathIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
  return path.resolve(cwd, config.outputDir ?? path.join('runs', config.name));
}

/** `checkpoints/stage<N>-<which>.ckpt` (`which`: `last`, `best`, `epoch0003`). */
export function checkpointFile(outputDir: string, stage: Stage, which: string): string {
  return path.join(outputDir, CHECKPOINT_DIRECTORY, `stage${stage}-${which}.ckpt`);
}

/** The name `checkpointFile` gives a per-epoch checkpoint (1-based epoch, four digits). */
export function epochCheckpointName(epoch: number): string {
  return `epoch${String(epoch).padStart(4, '0')}`;
}

/** `results/stage<N>.json`: the evaluation of a stage's best network. */
export function stageResultsFile(outputDir: string, stage: Stage): string {
  return path.join(outputDir, RESULTS_DIRECTORY, `stage${stage}.json`);
}

/** `results/eval-<checkpoint>.json`: what `longtail eval` writes for a checkpoint file. */
export function evalResultsFile(outputDir: string, checkpoint: string): string {
  return path.join(outputDir, RESULTS_DIRECTORY, `eval-${path.basename(checkpoint).replace(/\.ckpt$/, '')}.json`);
}
