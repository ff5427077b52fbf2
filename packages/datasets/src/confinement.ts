import { realpath } from 'node:fs/promises';
import * as path from 'node:path';

/*
 * Input confinement: every image path named by a split or annotation file must stay inside the data root.
 *
 * 1. Lexically, when the line is parsed (no file-system access, so the answer cannot depend on what exists outside
 *    the root): no NUL byte, not absolute (POSIX `/…`, Windows `\…`, `C:…`), no `..` segment that leaves the root.
 * 2. When the image is opened: the realpath of the file must lie inside the realpath of the root (resolved once per
 *    data set), so a symbolic link inside the root cannot lead outside it. A file that cannot be resolved and one that
 *    resolves outside get the same message, so an error never tells whether something outside the root exists.
 */

/** Shown for a path that resolves outside the root, or cannot be resolved (missing, dangling link, loop, …). */
export const NOT_INSIDE_ROOT =
  'file not found inside the data root (it is missing, or a symbolic link on its way leads outside the root: point the root at the real directory)';

/** A path as written, quoted, with control characters (NUL, newline, …) escaped. */
export function quotePath(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/**
 * Why `relative` (an image path from a split or annotation file) may not be read from under a data root, or
 * `undefined` when it is acceptable. Purely lexical: the file system is not touched.
 */
export function lexicalPathProblem(relative: string): string | undefined {
  if (relative.includes('\0')) return 'contains a NUL byte';
  const first = relative.charCodeAt(0);
  // '/' or '\' first: absolute on POSIX, root-relative on Windows; 'C:' is a drive path (absolute or drive-relative).
  const letter = (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7a;
  if (first === 0x2f || first === 0x5c || (letter && relative.charCodeAt(1) === 0x3a)) return 'is absolute; image paths must be relative to the data root';
  // Fast path for the common case (437k ImageNet / iNaturalist paths): no '..' anywhere means no segment can climb.
  if (!relative.includes('..')) return undefined;
  const segments = relative.split(path.sep === '\\' ? /[\\/]/ : '/');
  let depth = 0;
  for (const segment of segments) {
    if (segment === '..') {
      if (--depth < 0) return 'leaves the data root (a ".." segment climbs above it)';
    } else if (segment !== '.' && segment !== '') {
      depth++;
    }
  }
  return undefined;
}

/** True when `real` is `realRoot` or lies below it (both realpaths). */
export function isInside(real: string, realRoot: string): boolean {
  if (real === realRoot) return true;
  const prefix = realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep;
  return real.startsWith(prefix);
}

/**
 * Resolves `relative` under the data root whose realpath is `realRoot`: the realpath of the file when it exists and
 * lies inside the root, `undefined` otherwise (missing, dangling link, outside, loop, no permission — deliberately
 * not told apart). The caller has already applied {@link lexicalPathProblem}.
 */
export async function resolveInside(realRoot: string, relative: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(path.resolve(realRoot, relative));
  } catch {
    return undefined;
  }
  return isInside(real, realRoot) ? real : undefined;
}
