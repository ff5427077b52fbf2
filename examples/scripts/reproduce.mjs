#!/usr/bin/env node
/**
 * `npm run reproduce -- <benchmark> [options] [--key.path value ...]`: runs a benchmark's configs from
 * examples/<benchmark>/configs with the built `longtail` CLI and prints overall / many / medium / few accuracy.
 *
 * Benchmarks and their runs:
 *   fashion-mnist-lt   CE and GCL on the demo budget; with --full the schedule (ResNet-32, 10 + 3 epochs)
 *   cifar10-lt         --imbalance 100|50|10 (default 100): CE and GCL (ResNet-32, 200 + 30 epochs); --with-ldam adds LDAM-DRW
 *   cifar100-lt        as cifar10-lt
 *   imagenet-lt        --backbone resnet50|resnext50 (default resnet50): GCL
 *   inaturalist2018    GCL, ResNet-50
 *   places-lt          GCL, ResNet-152 from ImageNet weights (--model.pretrained <file.safetensors>)
 * Options:
 *   --out <dir>        run directories go to <dir>/<run> (default runs/reproduce/<benchmark>[-full])
 *   --only <label>     run only this one (ce, gcl, ldam-drw)
 *   --dry-run          print the longtail commands instead of running them
 * Data: CIFAR binaries in $LONGTAIL_DATA (or --data.root); ImageNet-LT, Places-LT and iNaturalist under
 * --data.root (default $LONGTAIL_DATA/<benchmark>); see examples/<benchmark>/README.md. Every other
 * `--key.path value` is a config override passed to `longtail train` (e.g. --stage1.epochs 1 --data.trainLimit 500).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { examplesDirectory, repositoryRoot, resultsTable, runLongtail, splitArguments, trainerCli } from './lib.mjs';

const FILE_BACKED = new Set(['imagenet-lt', 'inaturalist2018', 'places-lt']);

/** The runs of a benchmark: `[{ label, config }]`, config relative to examples/<benchmark>/configs. */
export function benchmarkRuns(benchmark, own) {
  const imbalance = own.imbalance ?? '100';
  switch (benchmark) {
    case 'fashion-mnist-lt': {
      const prefix = own.full ? 'full' : 'demo';
      return [
        { label: 'ce', config: `${prefix}-ce.json` },
        { label: 'gcl', config: `${prefix}-gcl.json` },
      ];
    }
    case 'cifar10-lt':
    case 'cifar100-lt': {
      if (!['100', '50', '10'].includes(imbalance)) throw new Error(`--imbalance must be 100, 50 or 10, got "${imbalance}"`);
      const runs = [
        { label: 'ce', config: `ce-if${imbalance}.json` },
        { label: 'gcl', config: `gcl-if${imbalance}.json` },
      ];
      if (own['with-ldam']) {
        if (imbalance !== '100') throw new Error('--with-ldam: the LDAM-DRW config is for imbalance 100');
        runs.push({ label: 'ldam-drw', config: 'ldam-drw-if100.json' });
      }
      return runs;
    }
    case 'imagenet-lt': {
      const backbone = own.backbone ?? 'resnet50';
      if (!['resnet50', 'resnext50'].includes(backbone)) throw new Error(`--backbone must be resnet50 or resnext50, got "${backbone}"`);
      return [{ label: 'gcl', config: `gcl-${backbone}.json` }];
    }
    case 'inaturalist2018':
      return [{ label: 'gcl', config: 'gcl-resnet50.json' }];
    case 'places-lt':
      return [{ label: 'gcl', config: 'gcl-resnet152.json' }];
    default:
      throw new Error(`unknown benchmark "${benchmark}" (fashion-mnist-lt, cifar10-lt, cifar100-lt, imagenet-lt, inaturalist2018, places-lt)`);
  }
}

function hasOverride(passThrough, key) {
  return passThrough.some((arg) => arg === `--${key}` || arg.startsWith(`--${key}=`));
}

async function main() {
  const { own, passThrough, positional } = splitArguments(
    process.argv.slice(2),
    new Set(['out', 'only', 'imbalance', 'backbone']),
    new Set(['full', 'dry-run', 'help', 'with-ldam']),
  );
  if (own.help || positional.length === 0) {
    const text = (await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8');
    process.stdout.write(`${text.slice(text.indexOf('/**') + 4, text.indexOf('*/')).replace(/^ \* ?/gm, '')}\n`);
    return own.help ? 0 : 2;
  }
  if (positional.length > 1) throw new Error(`one benchmark at a time, got ${positional.join(', ')}`);
  const benchmark = positional[0];
  let runs = benchmarkRuns(benchmark, own);
  if (own.only) {
    runs = runs.filter((run) => run.label === own.only);
    if (runs.length === 0) throw new Error(`--only ${own.only}: not a run of ${benchmark}`);
  }
  const out = path.resolve(repositoryRoot, own.out ?? path.join('runs', 'reproduce', `${benchmark}${own.full ? '-full' : ''}`));
  const extra = [];
  if (FILE_BACKED.has(benchmark) && !hasOverride(passThrough, 'data.root')) {
    if (!process.env.LONGTAIL_DATA) throw new Error(`${benchmark} needs --data.root <dir> or LONGTAIL_DATA (see examples/${benchmark}/README.md)`);
    extra.push('--data.root', path.join(process.env.LONGTAIL_DATA, benchmark));
  }
  if (benchmark === 'places-lt' && !hasOverride(passThrough, 'model.pretrained')) {
    // The config names the file relative to the data root.
    const root = hasOverride(passThrough, 'data.root') ? passThrough[passThrough.indexOf('--data.root') + 1] : extra[1];
    extra.push('--model.pretrained', path.join(root ?? '.', 'resnet152-imagenet.safetensors'));
  }
  const commands = runs.map((run) => ({
    ...run,
    directory: path.join(out, run.label),
    args: ['train', '--config', path.join(examplesDirectory, benchmark, 'configs', run.config), '--outputDir', path.join(out, run.label), ...extra, ...passThrough],
  }));
  if (own['dry-run']) {
    for (const command of commands) console.log(['node', path.relative(process.cwd(), trainerCli()), ...command.args].join(' '));
    return 0;
  }
  const started = performance.now();
  for (const command of commands) {
    console.log(`\n=== ${benchmark} ${command.label} (${command.config}) → ${command.directory}`);
    const code = await runLongtail(command.args);
    if (code !== 0) {
      console.error(`reproduce: ${benchmark} ${command.label} failed (exit ${code})`);
      return code;
    }
  }
  console.log(`\n${benchmark}: test accuracy (%) of the epoch each run selects (evaluation.select: val, test or last), ${((performance.now() - started) / 60000).toFixed(1)} min`);
  console.log(resultsTable(commands.map((command) => ({ label: command.label, runDirectory: command.directory }))));
  console.log(`\npublished numbers: examples/${benchmark}/README.md; reports: ${commands.map((c) => path.join(c.directory, 'report.html')).join(', ')}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`reproduce: ${error.message}`);
    process.exitCode = 2;
  },
);
