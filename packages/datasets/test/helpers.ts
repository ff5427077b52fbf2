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
if (!sharedAvailable) console.warn(`[datasets tests] ${sharedDirectory} not found: tests that read golden files and split files are skipped`);

/** A fresh temporary directory and its cleanup. */
export function temporaryDirectory(prefix = 'longtail-datasets-'): { directory: string; remove: () => void } {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}
