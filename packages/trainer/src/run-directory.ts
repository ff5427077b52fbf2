/**
 * The integrity of a run directory: an exclusive lock (one `train` at a time), the run record `run.json` (the
 * fingerprint of everything that defines the run, checked by `--resume`), and the refusal to train afresh over an
 * old run's files unless told to overwrite them. No TensorFlow.js dependency.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { classCounts } from '@longtail/samplers';
import { processAlive, writeFileAtomicSync, FileWriteError } from './atomic.js';
import { configEntries, type RunConfig } from './config.js';
import { CHECKPOINT_DIRECTORY, CONFIG_FILE, METRICS_FILE, REPORT_FILE, RESULTS_DIRECTORY, RESULTS_FILE } from './run-layout.js';

/** A refusal about the run directory (locked, not empty, a different run, inconsistent files): exit code 2. */
export class RunDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunDirectoryError';
  }
}

export const LOCK_FILE = '.lock';
export const RUN_RECORD_FILE = 'run.json';

/** What a run writes into its directory (what `--overwrite` removes). */
export const RUN_ENTRIES = [CONFIG_FILE, RUN_RECORD_FILE, METRICS_FILE, RESULTS_FILE, RESULTS_DIRECTORY, CHECKPOINT_DIRECTORY, REPORT_FILE] as const;

// ---- lock ------------------------------------------------------------------------------------------------------

interface LockContents {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
}

/** The exclusive lock of a run directory, held from {@link acquireRunLock} until {@link RunLock.release}. */
export interface RunLock {
  readonly filePath: string;
  release(): void;
}

function readLock(file: string): { text: string; lock: Partial<LockContents> | null } | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FileWriteError(file, error, 'read');
  }
  try {
    return { text, lock: JSON.parse(text) as Partial<LockContents> };
  } catch {
    // A lock torn by a crash between create and write: its holder died before it started.
    return { text, lock: null };
  }
}

/**
 * Takes the run directory's lock: `<dir>/.lock`, created with O_EXCL and holding this process's pid and host.
 * A lock whose holder is dead (same host, pid no longer alive) is stale and taken over; a live holder, or one on
 * another host, makes this throw a {@link RunDirectoryError} naming it. Synchronous, so that a lock is held as soon
 * as `train()` returns its promise.
 */
export function acquireRunLock(directory: string): RunLock {
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new FileWriteError(directory, error, 'create the run directory');
  }
  const file = path.join(directory, LOCK_FILE);
  const host = hostname();
  const token = `${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  const contents: LockContents = { pid: process.pid, host, startedAt: new Date().toISOString(), token };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new FileWriteError(file, error, 'create the lock');
      const held = readLock(file);
      if (held === null) continue; // released meanwhile
      const holder = held.lock;
      const stale = holder === null || (holder.host === host && typeof holder.pid === 'number' && !processAlive(holder.pid));
      if (!stale) {
        throw new RunDirectoryError(
          `${directory} is in use by another longtail process (pid ${holder?.pid} on ${holder?.host}, since ${holder?.startedAt}); ` +
            `wait for it to finish, or delete ${file} if that process is gone`,
        );
      }
      // Take the stale lock over: remove it only if it is still the one just read.
      const again = readLock(file);
      if (again !== null && again.text === held.text) {
        try {
          unlinkSync(file);
        } catch {
          // Someone else took it over first; retry.
        }
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(contents)}\n`);
    } catch (error) {
      closeSync(fd);
      try {
        unlinkSync(file);
      } catch {
        // ignore
      }
      throw new FileWriteError(file, error, 'write the lock');
    } finally {
      try {
        closeSync(fd);
      } catch {
        // closed above
      }
    }
    return {
      filePath: file,
      release() {
        const current = readLock(file);
        if (current?.lock?.token === token) {
          try {
            unlinkSync(file);
          } catch {
            // Removed by hand: nothing to release.
          }
        }
      },
    };
  }
  throw new RunDirectoryError(`${directory}: could not take the lock ${file} (another process keeps taking it)`);
}

// ---- fresh runs ------------------------------------------------------------------------------------------------

/** The entries of `directory` other than the lock (and other than stale temporary files). */
export function runDirectoryEntries(directory: string): string[] {
  try {
    return readdirSync(directory).filter((name) => name !== LOCK_FILE);
  } catch {
    return [];
  }
}

/**
 * Before a fresh (not resumed) run: the directory must be empty, or with `overwrite` the old run's files
 * ({@link RUN_ENTRIES}) are removed first (other files are left alone). Returns the entries removed.
 */
export function prepareFreshRunDirectory(directory: string, overwrite: boolean): string[] {
  const entries = runDirectoryEntries(directory);
  if (entries.length === 0) return [];
  if (!overwrite) {
    const shown = entries.slice(0, 6).join(', ') + (entries.length > 6 ? ', …' : '');
    throw new RunDirectoryError(
      `${directory} is not empty (${shown}): continue that run with --resume, or pass --overwrite to delete its files and train afresh`,
    );
  }
  const removed: string[] = [];
  for (const name of entries) {
    if (!(RUN_ENTRIES as readonly string[]).includes(name) && !name.startsWith('.')) continue;
    if (name.startsWith('.') && !name.includes('.tmp-')) continue;
    try {
      rmSync(path.join(directory, name), { recursive: true, force: true });
    } catch (error) {
      throw new FileWriteError(path.join(directory, name), error, 'remove');
    }
    removed.push(name);
  }
  return removed;
}

// ---- run record (fingerprint) ----------------------------------------------------------------------------------

/** Config keys that do not define a run (never compared). */
export const UNCOMPARED_KEYS = ['name', 'outputDir', 'progress'] as const;
/**
 * Keys a resume may change with `--allow-changed <key,…>` (refused otherwise): they change neither the data, the
 * network nor the optimisation (the backend's rounding can differ: a resume on another backend is not bit-exact).
 */
export const RESUME_SAFE_KEYS = ['backend', 'evaluation.batchSize', 'checkpoint.keepEveryEpoch'] as const;

/** What the loaded data looked like (part of the fingerprint: a changed data set is a different run). */
export interface DataFacts {
  trainImages: number;
  testImages: number;
  numClasses: number;
  trainCounts: number[];
  /** SHA-256 of the training and test labels. */
  labelsSha256: string;
}

export interface RunRecord {
  format: 'longtail-run';
  version: 1;
  /** SHA-256 over the defining keys (all compared keys but the resume-safe ones). */
  fingerprint: string;
  /** Every compared key (flattened config paths and `data.*` facts) and its value. */
  keys: Record<string, unknown>;
  createdAt: string;
}

export function dataFacts(train: ArrayLike<number>, test: ArrayLike<number>, numClasses: number): DataFacts {
  const counts = classCounts(train, numClasses);
  const hash = createHash('sha256');
  hash.update(Buffer.from(Int32Array.from(train as ArrayLike<number>).buffer));
  hash.update('|');
  hash.update(Buffer.from(Int32Array.from(test as ArrayLike<number>).buffer));
  return { trainImages: train.length, testImages: test.length, numClasses, trainCounts: counts, labelsSha256: hash.digest('hex') };
}

/** The run record of a config and its data: every compared key with its value, and the fingerprint. */
export function runRecord(config: RunConfig, facts: DataFacts): RunRecord {
  const keys: Record<string, unknown> = {};
  for (const [keyPath, value] of configEntries(config)) {
    if ((UNCOMPARED_KEYS as readonly string[]).includes(keyPath)) continue;
    keys[keyPath] = value ?? null;
  }
  keys['data.trainImages'] = facts.trainImages;
  keys['data.testImages'] = facts.testImages;
  keys['data.numClasses'] = facts.numClasses;
  keys['data.trainCounts'] = facts.trainCounts;
  keys['data.labelsSha256'] = facts.labelsSha256;
  return { format: 'longtail-run', version: 1, fingerprint: fingerprintOf(keys), keys, createdAt: new Date().toISOString() };
}

function fingerprintOf(keys: Record<string, unknown>): string {
  const defining = Object.keys(keys)
    .filter((key) => !(RESUME_SAFE_KEYS as readonly string[]).includes(key))
    .sort()
    .map((key) => [key, keys[key]]);
  return createHash('sha256').update(JSON.stringify(defining)).digest('hex');
}

/** Reads `run.json`; `undefined` when absent. Throws naming the file when it is not a run record. */
export function readRunRecord(directory: string): RunRecord | undefined {
  const file = path.join(directory, RUN_RECORD_FILE);
  if (!existsSync(file)) return undefined;
  if (!statSync(file).isFile()) throw new RunDirectoryError(`${file} is not a regular file`);
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
  } catch (error) {
    throw new RunDirectoryError(`${file} is not valid JSON (${(error as Error).message}); the run directory is damaged`);
  }
  if (!record || record.format !== 'longtail-run' || typeof record.keys !== 'object' || record.keys === null) {
    throw new RunDirectoryError(`${file} is not a longtail run record`);
  }
  return record;
}

export function writeRunRecord(directory: string, record: RunRecord): void {
  writeFileAtomicSync(path.join(directory, RUN_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? 'unset' : text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

/**
 * The keys whose values differ between a saved run record and the current one, as `key (saved → now)`.
 * Throws a {@link RunDirectoryError} listing them unless each is resume-safe and in `allowChanged`.
 */
export function checkResumeRecord(directory: string, saved: RunRecord, current: RunRecord, allowChanged: readonly string[] = []): string[] {
  const keys = [...new Set([...Object.keys(saved.keys), ...Object.keys(current.keys)])];
  const differing = keys.filter((key) => JSON.stringify(saved.keys[key]) !== JSON.stringify(current.keys[key]));
  const refused = differing.filter((key) => !allowChanged.includes(key));
  if (refused.length > 0) {
    const list = refused.map((key) => `${key} (${show(saved.keys[key])} → ${show(current.keys[key])})`).join(', ');
    const safe = refused.filter((key) => (RESUME_SAFE_KEYS as readonly string[]).includes(key));
    const hint =
      safe.length === refused.length
        ? `; pass --allow-changed ${safe.join(',')} to resume with the new value${safe.length > 1 ? 's' : ''}`
        : `; resume with the run's own config (${path.join(directory, CONFIG_FILE)}), or train afresh elsewhere (or with --overwrite)`;
    throw new RunDirectoryError(`--resume: ${directory} holds a run with a different config: ${list}${hint}`);
  }
  return differing;
}

/** Checks `--allow-changed` keys: each must be resume-safe. */
export function validateAllowChanged(keys: readonly string[]): void {
  for (const key of keys) {
    if (!(RESUME_SAFE_KEYS as readonly string[]).includes(key)) {
      throw new RunDirectoryError(
        `--allow-changed ${key}: only ${RESUME_SAFE_KEYS.join(', ')} may change on resume (any other key changes what the run computes)`,
      );
    }
  }
}
