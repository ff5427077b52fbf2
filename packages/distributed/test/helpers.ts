import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildSync } from 'esbuild';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const addonFile = path.join(packageRoot, 'build', 'Release', 'longtail_mpi.node');
export const onCi = process.env.CI === 'true';

/** `mpirun` on PATH (Open MPI's, whose flags the tests use). */
export const mpirunVersion = (() => {
  const run = spawnSync('mpirun', ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return run.status === 0 ? run.stdout.split('\n')[0] : undefined;
})();

/** Why the multi-process tests cannot run here, or undefined when they can. Under CI=true this is a failure. */
export const mpiMissing =
  mpirunVersion === undefined
    ? 'mpirun was not found (apt-get install openmpi-bin libopenmpi-dev)'
    : !existsSync(addonFile)
      ? `the MPI addon ${addonFile} was not built (npm rebuild @longtail/distributed)`
      : !mpirunVersion.includes('Open MPI')
        ? `the tests use Open MPI's mpirun flags; found ${mpirunVersion}`
        : undefined;

/** Skip multi-process tests only off CI; on CI a missing MPI or addon fails them (see {@link requireMpi}). */
export const skipMpi = mpiMissing !== undefined && !onCi;

/** Throws (failing the test) when MPI is missing; called first by every multi-process test. */
export function requireMpi(): void {
  if (mpiMissing !== undefined) throw new Error(`multi-process MPI tests cannot run under CI=true: ${mpiMissing}`);
}

const bundleDirectory = mkdtempSync(path.join(tmpdir(), 'longtail-distributed-test-'));

/** Bundles test/programs/<name>.ts (and the package's src/) into one .mjs that plain node runs. */
export function bundleProgram(name: string): string {
  const outfile = path.join(bundleDirectory, `${name}.mjs`);
  buildSync({
    entryPoints: [path.join(packageRoot, 'test', 'programs', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

export interface MpiRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  timedOut: boolean;
}

/**
 * Runs `mpirun -np <np> node <program>` on loopback only (TCP on `lo`, no other interface is contacted), bounded by
 * `timeoutMs` (mpirun is then killed and `timedOut` is true).
 */
export function runMpi(program: string, options: { np?: number; timeoutMs?: number; env?: Record<string, string>; btl?: string; mpirunArgs?: string[] } = {}): Promise<MpiRun> {
  const { np = 2, timeoutMs = 90_000, env = {}, btl = 'self,tcp', mpirunArgs = [] } = options;
  const args = [
    '--allow-run-as-root',
    '--oversubscribe',
    ...mpirunArgs,
    '-np',
    String(np),
    '--mca', 'btl', btl,
    '--mca', 'btl_tcp_if_include', 'lo',
    '--mca', 'oob_tcp_if_include', 'lo',
    process.execPath,
    program,
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('mpirun', args, {
      env: { ...process.env, LONGTAIL_DISTRIBUTED_ADDON: addonFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, seconds: (Date.now() - started) / 1000, timedOut });
    });
  });
}

/** The `RESULT {...}` lines of a run, one per rank, sorted by rank. */
export function results(run: MpiRun): Array<Record<string, any>> {
  return run.stdout
    .split('\n')
    .filter((line) => line.startsWith('RESULT '))
    .map((line) => JSON.parse(line.slice('RESULT '.length)))
    .sort((a, b) => a.world.rank - b.world.rank);
}
