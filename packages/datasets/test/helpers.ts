import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The monorepo root (packages/datasets/test → ../../..). */
export const repoRoot = path.resolve(here, '../../..');
/** The read-only shared material, beside the repository unless LONGTAIL_SHARED says otherwise. */
export const sharedDirectory = process.env.LONGTAIL_SHARED ?? path.resolve(repoRoot, '../shared');
export const sharedAvailable = existsSync(path.join(sharedDirectory, 'golden'));
/**
 * Under CI (`CI=true`) the shared material and the data sets the CI installs are part of the environment: tests that
 * need them fail when they are missing instead of skipping. Elsewhere they skip with the warning printed here.
 */
export const dataRequired = process.env.CI === 'true';
/** `describe.skipIf` condition for tests that read ../shared: skip only when it is absent and this is not CI. */
export const skipWithoutShared = !sharedAvailable && !dataRequired;
if (!sharedAvailable) {
  console.warn(
    `[datasets tests] ${sharedDirectory} not found: tests that read golden files and split files are ${dataRequired ? 'FAILING (CI=true)' : 'skipped'}`,
  );
}

/** Throws, naming the directory, when ../shared is missing (under CI, where the tests that need it still run). */
export function requireShared(): void {
  if (!sharedAvailable) {
    throw new Error(`CI=true but ${path.join(sharedDirectory, 'golden')} is absent: the tests that read ../shared cannot run (set LONGTAIL_SHARED)`);
  }
}

/** A fresh temporary directory and its cleanup. */
export function temporaryDirectory(prefix = 'longtail-datasets-'): { directory: string; remove: () => void } {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}
