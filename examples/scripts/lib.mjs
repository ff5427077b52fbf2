/**
 * Shared helpers of the example scripts: find the built `longtail` CLI, run it, read results, print tables.
 * The scripts call the built trainer (packages/trainer/dist), so build it first (`npm run demo` does).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const examplesDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repositoryRoot = path.resolve(examplesDirectory, '..');

/** Path of the built `longtail` command (the trainer's bin). */
export function trainerCli() {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('@longtail/trainer/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const cli = path.join(path.dirname(manifestPath), manifest.bin.longtail);
  if (!existsSync(path.join(path.dirname(manifestPath), 'dist', 'cli.js'))) {
    throw new Error(`@longtail/trainer is not built: build it first (npx turbo run build --filter=@longtail/trainer...)`);
  }
  return cli;
}

/** Runs `longtail <args>` with the terminal attached; resolves to the exit code. */
export function runLongtail(args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [trainerCli(), ...args], { stdio: 'inherit', cwd: options.cwd ?? repositoryRoot, env: process.env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(signal ? 128 : (code ?? 1)));
  });
}

/** The final results.json of a run directory, or undefined. */
export function readResults(runDirectory) {
  const file = path.join(runDirectory, 'results.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/** A percentage with one decimal, or "n/a" for an empty group. */
export function percent(value) {
  return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : (100 * value).toFixed(1);
}

/** A plain-text table: first row is the header; columns after the first are right-aligned. */
export function formatTable(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  const line = (row) => row.map((cell, column) => (column === 0 ? String(cell).padEnd(widths[column]) : String(cell).padStart(widths[column]))).join('  ');
  return [line(rows[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The overall / many / medium / few table of several runs: `[{ label, runDirectory }]`. */
export function resultsTable(runs) {
  const rows = [['method', 'overall', 'many', 'medium', 'few', 'top-5']];
  for (const { label, runDirectory } of runs) {
    const result = readResults(runDirectory);
    rows.push(result ? [label, percent(result.top1), percent(result.many), percent(result.medium), percent(result.few), percent(result.top5)] : [label, 'failed', '', '', '', '']);
  }
  return formatTable(rows);
}

/**
 * Splits script arguments into the script's own `--name value` options (those in `known`) and the rest, which are
 * passed to `longtail train` unchanged (config overrides such as `--stage1.epochs 3`).
 */
export function splitArguments(argv, known, switches = new Set()) {
  const own = {};
  const passThrough = [];
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (switches.has(name)) {
      own[name] = true;
    } else if (known.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      own[name] = value;
    } else {
      passThrough.push(arg);
      if (inline === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('--')) passThrough.push(argv[++i]);
    }
  }
  return { own, passThrough, positional };
}
