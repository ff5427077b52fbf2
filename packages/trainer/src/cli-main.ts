/**
 * The `longtail` command line: `train`, `eval`, `report`, `info`, `check-data`, `compare`, `export`. Exit codes: 0 success, 1 failure while
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
  check-data  check a data set (an image folder especially) and the settings against it before training
  compare  methods side by side: one HTML page and a Markdown table from run directories
  export   write a run's network for the browser (a tfjs LayersModel with class names and preprocessing)

Run \`longtail <command> --help\` for the options of a command.
Exit codes: 0 success, 1 failure while running, 2 bad usage or invalid config.`,
  train: `Usage: longtail train [--config <file.json>] [--<key.path> <value> ...] [--seeds <list>] [--resume | --overwrite] [--print-config]

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
  --seeds <list>         train once per seed (0,1,2 or 0-4), one after another, into <outputDir>/seed-<n>, then write
                         seeds-summary.json and seeds-summary.md there: mean ± std of overall, many/medium/few, ECE and
                         per class (--resume and --overwrite apply to every seed)
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

HELP['check-data'] = `Usage: longtail check-data [--config <file.json>] [--data.<key> <value> ...] [--json]

Checks the data set of a config before training and prints what is wrong with it: training (and validation and test)
images per class, the imbalance factor, the many/medium/few split, and the data set's own checks where it has them
(an image folder in data.root: duplicates across splits by content hash, unreadable and very small images, empty
classes); then warnings about settings known to fail on such data (e.g. GCL's scale s with very few classes, an empty
few-shot group, classes left without validation images). Exit code 1 when it finds errors (unreadable images, a
class without training images), 0 otherwise.

Options:
  --config <file>        JSON config; --data.*, --evaluation.* and other config flags override its keys
  --json                 print the report as JSON
${COMMON_HELP}`;
HELP.compare = `Usage: longtail compare <run> <run> ... [--out <file.html>] [--markdown <file.md>] [--labels <a,b,...>]

Puts finished runs (or seed sweeps: directories with seeds-summary.json) side by side: overall, many/medium/few,
ECE and classwise ECE (mean ± std for sweeps), the differences to the first run, per-class accuracy against class
size. Writes one self-contained HTML page and prints a Markdown table (for papers and READMEs).

Options:
  --out <file>           HTML page (default compare.html)
  --markdown <file>      also write the Markdown table to this file
  --labels <a,b,...>     one label per run (default: from each run's config)
${COMMON_HELP}`;
HELP.export = `Usage: longtail export <run> --format tfjs [--out <dir>] [--checkpoint best|last|<file>]

Writes the run's final network (the best checkpoint of its last stage) as a TensorFlow.js LayersModel: model.json
(topology, weights manifest, and metadata: class names, training images per class, preprocessing, results) and its
weight files, loadable in a browser with tf.loadLayersModel once @longtail/backbones' layers are registered (see
examples/browser).

Options:
  --format <format>      tfjs (the only one so far)
  --out <dir>            output directory (default <run>/export-tfjs)
  --checkpoint <which>   best (default), last, or a checkpoint file
${COMMON_HELP}`;

interface ParsedArguments {
  flags: Map<string, string | true>;
  overrides: Array<[string, string]>;
  /** Arguments that are not options (run directories of `compare` and `export`). */
  positional: string[];
}

const SWITCHES = new Set(['help', 'resume', 'print-config', 'json', 'overwrite']);
const COMMAND_FLAGS: Record<string, Set<string>> = {
  train: new Set(['config', 'backend', 'help', 'resume', 'print-config', 'overwrite', 'allow-changed', 'seeds']),
  eval: new Set(['run', 'checkpoint', 'backend', 'help']),
  report: new Set(['run', 'out', 'backend', 'help']),
  info: new Set(['config', 'backend', 'help', 'json']),
  'check-data': new Set(['config', 'backend', 'help', 'json']),
  compare: new Set(['out', 'markdown', 'labels', 'backend', 'help']),
  export: new Set(['run', 'format', 'out', 'checkpoint', 'backend', 'help']),
};
/** Commands that take config overrides (`--key.path value`). */
const CONFIG_COMMANDS = new Set(['train', 'info', 'check-data']);
/** Commands that take positional arguments, and how many at most. */
const POSITIONAL: Record<string, number> = { compare: Infinity, export: 1 };

/** Splits `--flag value`, `--flag=value` and `--key.path value` (config overrides) arguments. */
export function parseArguments(command: string, args: string[]): ParsedArguments {
  const flags = new Map<string, string | true>();
  const overrides: Array<[string, string]> = [];
  const positional: string[] = [];
  const allowed = COMMAND_FLAGS[command];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--') && (POSITIONAL[command] ?? 0) > positional.length) {
      positional.push(arg);
      continue;
    }
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
    if (isOverride && !CONFIG_COMMANDS.has(command)) throw new UsageError(`config overrides like --${name} are not accepted by "${command}"`);
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
  return { flags, overrides, positional };
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
    if (!(command in COMMAND_FLAGS)) throw new UsageError(`unknown command "${command}" (commands: ${Object.keys(COMMAND_FLAGS).join(', ')})`);
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
        const trainOptions = {
          resume: parsed.flags.has('resume'),
          overwrite: parsed.flags.has('overwrite'),
          allowChanged: typeof allowChanged === 'string' ? allowChanged.split(',').map((key) => key.trim()).filter(Boolean) : undefined,
          io,
        };
        const seeds = parsed.flags.get('seeds');
        if (typeof seeds === 'string') {
          const { parseSeeds } = await import('./seeds.js');
          let list: number[];
          try {
            list = parseSeeds(seeds);
          } catch (error) {
            throw new UsageError((error as Error).message);
          }
          await commands.trainSeedsCommand(config, list, trainOptions);
        } else {
          await commands.trainCommand(config, trainOptions);
        }
        return 0;
      }
      case 'check-data': {
        const config = configFromArguments(parsed, io.cwd);
        const { checkDataCommand } = await import('./check-data-command.js');
        return await checkDataCommand(config, { json: parsed.flags.has('json'), io });
      }
      case 'compare': {
        if (parsed.positional.length === 0) throw new UsageError('compare needs at least one run directory (longtail compare runs/a runs/b)');
        const labels = parsed.flags.get('labels');
        const { compareCommand } = await import('./compare.js');
        await compareCommand({
          runs: parsed.positional,
          out: parsed.flags.get('out') as string | undefined,
          markdown: parsed.flags.get('markdown') as string | undefined,
          labels: typeof labels === 'string' ? labels.split(',').map((label) => label.trim()) : undefined,
          io,
        });
        return 0;
      }
      case 'export': {
        if (parsed.positional.length > 0 && parsed.flags.has('run')) throw new UsageError('export takes the run directory once: as an argument or as --run, not both');
        const run = parsed.positional[0] ?? parsed.flags.get('run');
        if (typeof run !== 'string') throw new UsageError('export needs a run directory (longtail export runs/x --format tfjs)');
        const format = parsed.flags.get('format') ?? 'tfjs';
        if (format !== 'tfjs') throw new UsageError(`--format must be tfjs (the only export format so far), got "${format}"`);
        const { exportCommand } = await import('./export-model.js');
        await exportCommand({ run, format, out: parsed.flags.get('out') as string | undefined, checkpoint: (parsed.flags.get('checkpoint') as string | undefined) ?? 'best', io });
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
