import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** `../shared` beside the repository (or `LONGTAIL_SHARED`): read at test time, never copied into the repo. */
export const sharedDir = process.env.LONGTAIL_SHARED ?? path.resolve(repoRoot, '../shared');
export const goldenDir = path.join(sharedDir, 'golden');
export const hasGolden = existsSync(goldenDir);
/** Under CI (`CI=true`) the shared material is part of the environment: its absence is a failure, not a skip. */
export const sharedRequired = process.env.CI === 'true';
/** Why a golden-value test is skipped (outside CI only). */
export const goldenMissingMessage = `${goldenDir} is absent: golden-value tests are skipped (set LONGTAIL_SHARED)`;
if (!hasGolden) {
  if (sharedRequired) {
    // Thrown at import: every test file that reads golden values fails, naming the missing directory.
    throw new Error(`[samplers tests] CI=true but ${goldenDir} is absent: the golden-value tests cannot run (set LONGTAIL_SHARED)`);
  }
  console.warn(`[samplers tests] ${goldenMissingMessage}.`);
}

export function readGolden<T = any>(file: string): T {
  return JSON.parse(readFileSync(path.join(goldenDir, file), 'utf8')) as T;
}

export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

export function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
}
