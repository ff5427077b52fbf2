/**
 * Atomic file writes for everything a run writes (checkpoints, results, config, report): the bytes go to a
 * temporary file in the same directory (named with the writer's pid), which is fsync'ed, renamed over the target,
 * and the directory fsync'ed. A reader, and a crash at any moment, see either the previous complete file or the new
 * complete file. A failed write (ENOSPC, EROFS, EACCES, …) throws a {@link FileWriteError} that names the file and
 * keeps the system error's `code`. This module has no TensorFlow.js dependency.
 *
 * Test-only fault injection (inert unless the variable is set; used by this package's tests through the built CLI):
 * - `LONGTAIL_TEST_CRASH_AT=<basename>[#<n>]`: the process SIGKILLs itself just before the rename of the n-th
 *   (default first) atomic write of a file with that base name, as `kill -9` at the worst moment would.
 * - `LONGTAIL_TEST_FAIL_WRITE=<basename>[#<n>]:<CODE>`: the n-th write (default: every write from the first on)
 *   of that base name fails with a system error of that code (e.g. `ENOSPC`), as a full disk would; also applies to
 *   appends ({@link appendFileChecked}).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export const TEMPORARY_MARKER = '.tmp-';
const TEMPORARY_PATTERN = /\.tmp-(\d+)-[0-9a-f]+$/;

/** A file that could not be written; the message names the file and the system error (code kept in `code`). */
export class FileWriteError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly filePath: string,
    cause: unknown,
    action = 'write',
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`cannot ${action} ${filePath}: ${reason}`, { cause });
    this.name = 'FileWriteError';
    this.code = code;
  }
}

// ---- test-only hooks -------------------------------------------------------------------------------------------

const writeCounts = new Map<string, number>();

interface HookSpec {
  basename: string;
  /** 1-based write number; null: every write. */
  nth: number | null;
}

function parseHook(text: string): HookSpec {
  const hash = text.lastIndexOf('#');
  if (hash > 0 && /^\d+$/.test(text.slice(hash + 1))) return { basename: text.slice(0, hash), nth: Number(text.slice(hash + 1)) };
  return { basename: text, nth: null };
}

function hookMatches(spec: HookSpec, basename: string, count: number, defaultNth: number | null): boolean {
  if (spec.basename !== basename) return false;
  const nth = spec.nth ?? defaultNth;
  return nth === null ? true : count === nth;
}

/** Counts one write of `filePath` and throws the configured test failure, if any (`LONGTAIL_TEST_FAIL_WRITE`). */
function beforeWrite(filePath: string): number {
  const basename = path.basename(filePath);
  const count = (writeCounts.get(basename) ?? 0) + 1;
  writeCounts.set(basename, count);
  const fail = process.env.LONGTAIL_TEST_FAIL_WRITE;
  if (fail) {
    const colon = fail.lastIndexOf(':');
    const spec = parseHook(colon > 0 ? fail.slice(0, colon) : fail);
    const code = colon > 0 ? fail.slice(colon + 1) : 'ENOSPC';
    if (hookMatches(spec, basename, count, null)) {
      const messages: Record<string, string> = { ENOSPC: 'no space left on device', EROFS: 'read-only file system', EACCES: 'permission denied', EIO: 'i/o error' };
      const error = new Error(`${code}: ${messages[code] ?? 'simulated failure'}, write (LONGTAIL_TEST_FAIL_WRITE)`) as NodeJS.ErrnoException;
      error.code = code;
      throw error;
    }
  }
  return count;
}

/** SIGKILLs this process if `LONGTAIL_TEST_CRASH_AT` names this write (called just before the rename). */
function beforeRename(filePath: string, count: number): void {
  const crash = process.env.LONGTAIL_TEST_CRASH_AT;
  if (crash && hookMatches(parseHook(crash), path.basename(filePath), count, 1)) process.kill(process.pid, 'SIGKILL');
}

// ---- writers ---------------------------------------------------------------------------------------------------

function temporaryName(filePath: string): string {
  return path.join(path.dirname(filePath), `.${path.basename(filePath)}${TEMPORARY_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`);
}

function toChunks(data: string | Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  return data instanceof Uint8Array ? [data] : data;
}

/** Writes `data` to `filePath` atomically (see the module comment); creates the directory. */
export async function writeFileAtomic(filePath: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  const target = path.resolve(filePath);
  const directory = path.dirname(target);
  try {
    await mkdir(directory, { recursive: true });
  } catch (error) {
    throw new FileWriteError(directory, error, 'create the directory');
  }
  const temporary = temporaryName(target);
  let count = 0;
  try {
    const handle = await open(temporary, 'w');
    try {
      count = beforeWrite(target);
      for (const chunk of toChunks(data)) {
        let written = 0;
        while (written < chunk.byteLength) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
          written += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    beforeRename(target, count);
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error instanceof FileWriteError ? error : new FileWriteError(target, error);
  }
  // The rename is durable only once the directory entry is on disk.
  try {
    const directoryHandle = await open(directory, 'r');
    try {
      await directoryHandle.sync();
    } finally {
      await directoryHandle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  }
}

/** Synchronous {@link writeFileAtomic}. */
export function writeFileAtomicSync(filePath: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const target = path.resolve(filePath);
  const directory = path.dirname(target);
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new FileWriteError(directory, error, 'create the directory');
  }
  const temporary = temporaryName(target);
  try {
    const fd = openSync(temporary, 'w');
    let count = 0;
    try {
      count = beforeWrite(target);
      for (const chunk of toChunks(data)) {
        let written = 0;
        while (written < chunk.byteLength) written += writeSync(fd, chunk, written, chunk.byteLength - written);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    beforeRename(target, count);
    renameSync(temporary, target);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never created, or already renamed.
    }
    throw error instanceof FileWriteError ? error : new FileWriteError(target, error);
  }
  try {
    const fd = openSync(directory, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // See writeFileAtomic.
  }
}

/** `appendFileSync` whose failure names the file (and honours `LONGTAIL_TEST_FAIL_WRITE`). */
export function appendFileChecked(filePath: string, text: string): void {
  try {
    beforeWrite(filePath);
    appendFileSync(filePath, text);
  } catch (error) {
    throw new FileWriteError(filePath, error);
  }
}

// ---- temporary files -------------------------------------------------------------------------------------------

/** Whether process `pid` is alive on this machine (EPERM: alive, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function staleNames(names: string[]): string[] {
  return names.filter((name) => {
    if (!name.startsWith('.') || !name.includes(TEMPORARY_MARKER)) return false;
    const match = TEMPORARY_PATTERN.exec(name);
    // A temporary file of a live writer (this process or another) is in use: only a dead writer's is stale.
    return match !== null && !processAlive(Number(match[1]));
  });
}

/**
 * Removes the temporary files that killed writers left in `directory`: only those whose writer pid (in the name)
 * is no longer alive, never a file a running process is writing, never a finished file. Returns the names removed.
 */
export async function removeStaleTemporaryFiles(directory: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const stale = staleNames(names);
  await Promise.all(stale.map((name) => unlink(path.join(directory, name)).catch(() => undefined)));
  return stale;
}

/** Synchronous {@link removeStaleTemporaryFiles}. */
export function removeStaleTemporaryFilesSync(directory: string): string[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return [];
  }
  const stale = staleNames(names);
  for (const name of stale) {
    try {
      unlinkSync(path.join(directory, name));
    } catch {
      // Gone already.
    }
  }
  return stale;
}
