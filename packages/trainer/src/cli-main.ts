/**
 * The `longtail` command line: `train`, `eval`, `report`, `info`. Exit codes: 0 success, 1 failure while
 * running, 2 bad usage or invalid config. Errors are one readable line on stderr (`longtail: error: …`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  BACKEND_NAMES,
  ConfigError,
  describeConfigKeys,
  mergeConfig,
  overridesToObject,
  parseOverrideValue,
  resolveConfig,
  runConfigSchema,
  type RunConfig,
} from './config.js';
import { UsageError, type CliIo } from './cli-io.js';
import { schemaAt } from './schema.js';

export { UsageError, type CliIo };

const COMMON_HELP = `  --backend <${BACKEND_NAMES.join('|')}>  compute backend (default auto: the fastest available)
  --help                 show this help`;

const HELP: Record<string, string> = {
  main: `longtail — long-tailed visual recognition with GCL for TensorFlow.js

Usage: longtail <command> [options]

Commands:
  train    train a model: two-stage GCL by default, or one-stage / DRW baselines
  eval     evaluate a run's checkpoint on the test set (writes results/eval-<checkpoint>.json)
  report   rebuild a run's self-contained report.html
  info     data set statistics: class counts, many/medium/few split, GCL cloud sizes

Run \`longtail <command> --help\` for the options of a command.
Exit codes: 0 success, 1 failure while running, 2 bad usage or invalid config.`,
  train: `Usage: longtail train [--config <file.json>] [--<key.path> <value> ...] [--resume | --overwrite] [--print-config]

Trains as the config says and writes into the run's output directory (every file atomically): run.json (the run's
fingerprint), config.json (the resolved config), metrics.jsonl, checkpoints (stage1-last.ckpt, stage1-best.ckpt, ...),
results and report.html. The directory is locked while a run trains (.lock); a fresh run needs an empty directory.

Options:
  --config <file>        JSON config (see docs/trainer.md); flags below override its keys
  --resume               continue from the last checkpoint in the output directory, exactly; refused when the
                         config or data differ from the run's (the differing keys are listed)
  --allow-changed <keys> with --resume: let these resume-safe keys differ (backend, evaluation.batchSize,
                         checkpoint.keepEveryEpoch; comma-separated)
  --overwrite            delete an old run's files in the output directory first, then train afresh
  --print-config         print the resolved config and exit
${COMMON_HELP}

Config keys (each also a flag, e.g. --stage1.epochs 3; arrays comma-separated; null where allowed):
`,
  eval: `Usage: longtail eval --run <dir> [--checkpoint best|last|<file>]

Evaluates a checkpoint of a finished or interrupted run on its test set and writes results/eval-<checkpoint>.json
(top-1, top-5, per class, many/medium/few, confusion matrix) into the run directory, beside the training's own
results.json (which it leaves alone).

Options:
  --run <dir>            run directory (holds config.json and the checkpoints)
  --checkpoint <which>   best (default), last, or a checkpoint file
${COMMON_HELP}`,
  report: `Usage: longtail report --run <dir> [--out <file.html>]

Rebuilds the self-contained HTML report (training curves, per-class accuracy against class size, many/medium/few,
cloud sizes, confusion matrix) from the run's metrics.jsonl and results files. Opens offline in any browser.

Options:
  --run <dir>            run directory
  --out <file>           output file (default <run>/report.html)
${COMMON_HELP}`,
  info: `Usage: longtail info [--config <file.json>] [--data.<key> <value> ...] [--backend <name>] [--json]

Loads the data set of a config and prints its statistics: training images per class, the many/medium/few split
(> 100, 20–100, < 20 training images) and the GCL cloud size of each class. With --backend, first the backend
training would run on and why faster ones are unavailable (\`longtail info --backend auto\` shows whether a GPU is used).

Options:
  --config <file>        JSON config; --data.* flags override its keys
  --json                 print JSON instead of a table
${COMMON_HELP}`,
};

interface ParsedArguments {
  flags: Map<string, string | true>;
  overrides: Array<[string, string]>;
}

const SWITCHES = new Set(['help', 'resume', 'print-config', 'json', 'overwrite']);
const COMMAND_FLAGS: Record<string, Set<string>> = {
  train: new Set(['config', 'backend', 'help', 'resume', 'print-config', 'overwrite', 'allow-changed']),
  eval: new Set(['run', 'checkpoint', 'backend', 'help']),
  report: new Set(['run', 'out', 'backend', 'help']),
  info: new Set(['config', 'backend', 'help', 'json']),
};

/** Splits `--flag value`, `--flag=value` and `--key.path value` (config overrides) arguments. */
export function parseArguments(command: string, args: string[]): ParsedArguments {
  const flags = new Map<string, string | true>();
  const overrides: Array<[string, string]> = [];
  const allowed = COMMAND_FLAGS[command];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--') || arg === '--') throw new UsageError(`unexpected argument "${arg}" (options start with --)`);
    let name = arg.slice(2);
    let value: string | undefined;
    const equals = name.indexOf('=');
    if (equals >= 0) {
      value = name.slice(equals + 1);
      name = name.slice(0, equals);
    }
    // Config keys: dotted paths, and top-level keys such as --outputDir, --seed or --name.
    const isOverride = name.includes('.') || (!allowed.has(name) && schemaAt(runConfigSchema(), name) !== undefined);
    if (!isOverride && !allowed.has(name)) throw new UsageError(`unknown option --${name} for "${command}" (see longtail ${command} --help)`);
    if (isOverride && command !== 'train' && command !== 'info') throw new UsageError(`config overrides like --${name} are not accepted by "${command}"`);
    if (!isOverride && SWITCHES.has(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value`);
      value = args[++i];
    }
    if (isOverride) overrides.push([name, value]);
    else flags.set(name, value);
  }
  return { flags, overrides };
}

function readConfigFile(file: string, cwd: string): unknown {
  const full = path.resolve(cwd, file);
  if (!existsSync(full)) throw new UsageError(`config file ${file} does not exist`);
  // A FIFO or device would block the read (or never end): only regular files.
  if (!statSync(full).isFile()) throw new UsageError(`config file ${file} is not a regular file (a directory, FIFO or device)`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(full, 'utf8'));
  } catch (error) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value} (${JSON.stringify(value).slice(0, 40)})`;
    throw new UsageError(`config file ${file} must hold a JSON object of config keys, got ${kind}`);
  }
  return value;
}

/** Config file + CLI overrides → resolved config (throws ConfigError naming the key). */
export function configFromArguments(parsed: ParsedArguments, cwd: string): RunConfig {
  const file = parsed.flags.get('config');
  const base = typeof file === 'string' ? readConfigFile(file, cwd) : {};
  const overrides = overridesToObject(parsed.overrides.map(([key, raw]) => [key, parseOverrideValue(key, raw)]));
  const backend = parsed.flags.get('backend');
  if (typeof backend === 'string') overrides.backend = backend;
  return resolveConfig(mergeConfig(base, overrides));
}

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === 'help' || command === '-h') {
      io.stdout.write(`${HELP.main}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version') {
      io.stdout.write(`${readVersion()}\n`);
      return 0;
    }
    if (!(command in COMMAND_FLAGS)) throw new UsageError(`unknown command "${command}" (commands: train, eval, report, info)`);
    const parsed = parseArguments(command, rest);
    if (parsed.flags.has('help')) {
      io.stdout.write(command === 'train' ? `${HELP.train}${describeConfigKeys().map((l) => `  ${l}`).join('\n')}\n` : `${HELP[command]}\n`);
      return 0;
    }
    const backend = parsed.flags.get('backend');
    if (typeof backend === 'string' && !(BACKEND_NAMES as readonly string[]).includes(backend)) {
      throw new UsageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got "${backend}"`);
    }
    const commands = await import('./commands.js');
    commands.useProductionMode();
    switch (command) {
      case 'train': {
        const config = configFromArguments(parsed, io.cwd);
        if (parsed.flags.has('print-config')) {
          io.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
          return 0;
        }
        const allowChanged = parsed.flags.get('allow-changed');
        if (parsed.flags.has('resume') && parsed.flags.has('overwrite')) throw new UsageError('--resume and --overwrite exclude each other');
        if (allowChanged !== undefined && !parsed.flags.has('resume')) throw new UsageError('--allow-changed applies to --resume only');
        await commands.trainCommand(config, {
          resume: parsed.flags.has('resume'),
          overwrite: parsed.flags.has('overwrite'),
          allowChanged: typeof allowChanged === 'string' ? allowChanged.split(',').map((key) => key.trim()).filter(Boolean) : undefined,
          io,
        });
        return 0;
      }
      case 'eval':
        await commands.evalCommand({
          run: requireFlag(parsed, 'run'),
          checkpoint: (parsed.flags.get('checkpoint') as string | undefined) ?? 'best',
          backend: backend as string | undefined,
          io,
        });
        return 0;
      case 'report':
        await commands.reportCommand({ run: requireFlag(parsed, 'run'), out: parsed.flags.get('out') as string | undefined, io });
        return 0;
      case 'info': {
        const config = configFromArguments(parsed, io.cwd);
        await commands.infoCommand(config, { json: parsed.flags.has('json'), io, showBackend: parsed.flags.has('backend') });
        return 0;
      }
    }
    return 2;
  } catch (error) {
    // Refusals about the run directory (locked, not empty, another run's files) are usage errors too.
    const usage = error instanceof UsageError || error instanceof ConfigError || (error instanceof Error && error.name === 'RunDirectoryError');
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`longtail: error: ${message}\n`);
    if (!usage && io.env.LONGTAIL_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return usage ? 2 : 1;
  }
}

function requireFlag(parsed: ParsedArguments, name: string): string {
  const value = parsed.flags.get(name);
  if (typeof value !== 'string') throw new UsageError(`--${name} is required`);
  return value;
}

function readVersion(): string {
  try {
    const file = new URL('../package.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
