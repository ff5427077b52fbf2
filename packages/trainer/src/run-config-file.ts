import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './cli-io.js';
import { resolveConfig, type RunConfig } from './config.js';
import { CONFIG_FILE } from './run-layout.js';

/**
 * The resolved config of a run directory (`config.json`), for the commands that read a finished or interrupted run
 * (`eval`, `report`, `export`). A run written before `evaluation.select` existed was selected on the test set, and
 * trained without a validation hold-out: its config is read so (`select: "test"`), so that its data load as it trained.
 * Errors name the command (`what`).
 */
export function readRunConfig(run: string, cwd: string, what = 'run'): { directory: string; config: RunConfig } {
  const directory = path.resolve(cwd, run);
  const configFile = path.join(directory, CONFIG_FILE);
  if (!existsSync(directory)) throw new UsageError(`${run} is not a run directory (the ${what} directory ${directory} does not exist)`);
  if (!existsSync(configFile)) throw new UsageError(`${run} is not a run directory (no ${CONFIG_FILE})`);
  if (!statSync(configFile).isFile()) throw new UsageError(`${configFile} is not a regular file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (error) {
    throw new Error(`${configFile} is not valid JSON (${(error as Error).message}): the run directory is damaged`);
  }
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const evaluation = (raw as { evaluation?: Record<string, unknown> }).evaluation;
    if (evaluation && typeof evaluation === 'object' && evaluation.select === undefined) {
      raw = { ...raw, evaluation: { ...evaluation, select: 'test' } };
    }
  }
  return { directory, config: resolveConfig(raw) };
}
