import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError, type CliIo } from './cli-io.js';
import { resolveConfig, type RunConfig } from './config.js';
import { formatPercent, writeResults } from './evaluation.js';
import { readRunConfig } from './run-config-file.js';
import { checkpointFile, evalResultsFile } from './run-layout.js';

/**
 * Production mode for the command line: skips tfjs' debug checks and its "install tfjs-node" banner (the commands
 * report the backend). Called by `runCli` before a command runs, never at import.
 */
export function useProductionMode(): void {
  tf.env().set('PROD', true);
}

/**
 * `longtail train --seeds 0,1,2`: the config trained once per seed, one after another, each into `seed-<n>/` under the
 * config's output directory (with the same `--resume` / `--overwrite`), then `seeds-summary.json` and
 * `seeds-summary.md` there (mean ± std of overall, many/medium/few, ECE and per class), and the table printed.
 */
export async function trainSeedsCommand(
  config: RunConfig,
  seeds: number[],
  options: { resume: boolean; overwrite?: boolean; allowChanged?: string[]; io: CliIo },
): Promise<void> {
  const { runDirectory } = await import('./run-layout.js');
  const { seedConfig, writeSeedsSummary, seedsSummaryMarkdown, SEEDS_SUMMARY_FILE } = await import('./seeds.js');
  const parent = runDirectory(config, options.io.cwd);
  for (const [index, seed] of seeds.entries()) {
    options.io.stdout.write(`\n=== seed ${seed} (${index + 1} of ${seeds.length}) → ${path.relative(options.io.cwd, path.join(parent, `seed-${seed}`)) || '.'}\n`);
    await trainCommand(seedConfig(config, parent, seed), options);
  }
  const summary = await writeSeedsSummary(parent, seeds);
  options.io.stdout.write(`\n${seedsSummaryMarkdown(summary)}wrote ${path.join(parent, SEEDS_SUMMARY_FILE)}\n`);
}

export async function trainCommand(config: RunConfig, options: { resume: boolean; overwrite?: boolean; allowChanged?: string[]; io: CliIo }): Promise<void> {
  const { train } = await import('./pipeline.js');
  const summary = await train(config, {
    resume: options.resume,
    overwrite: options.overwrite,
    allowChanged: options.allowChanged,
    stream: options.io.stdout,
    cwd: options.io.cwd,
  });
  if (summary.final && summary.rank === 0) {
    options.io.stdout.write(
      `top-1 ${formatPercent(summary.final.top1)}%  many ${formatPercent(summary.final.many)}  medium ${formatPercent(summary.final.medium)}  few ${formatPercent(summary.final.few)}\n`,
    );
  }
}

export async function evalCommand(options: { run: string; checkpoint: string; backend?: string; io: CliIo }): Promise<void> {
  const { directory, config } = readRunConfig(options.run, options.io.cwd);
  if (options.backend) config.backend = options.backend as RunConfig['backend'];
  const { selectComputeBackend } = await import('./backend-selection.js');
  const { evaluateModel } = await import('./evaluate-model.js');
  const { loadCheckpoint } = await import('./checkpoint.js');
  const { loadTrainingData } = await import('./data.js');
  const { resolveHead } = await import('./losses.js');
  const model = await import('./model.js');
  const { classCounts } = await import('@longtail/samplers');
  const stage = config.stage2.enabled && existsSync(checkpointFile(directory, 2, 'last')) ? 2 : 1;
  const file =
    options.checkpoint === 'best' || options.checkpoint === 'last'
      ? checkpointFile(directory, stage, options.checkpoint)
      : path.resolve(options.io.cwd, options.checkpoint);
  const checkpoint = await loadCheckpoint(file);
  const backend = await selectComputeBackend(config.backend);
  options.io.stdout.write(`${backend}\n`);
  const data = await loadTrainingData(config);
  const counts = classCounts(data.train.labels, data.numClasses);
  const network = await model.buildModel(config.model.backbone, {
    numClasses: data.numClasses,
    head: resolveHead(config.model.head, config.stage1.loss.name),
    inputShape: data.inputShape,
  });
  model.restoreModelWeights(network, checkpoint.tensors.model ?? []);
  // The probability scale of the stage the checkpoint is of (a stage-1 checkpoint of a two-stage run: stage 1's s).
  const checkpointStage = (checkpoint.meta as { stage?: unknown } | undefined)?.stage;
  const result = await evaluateModel(network, data, counts, config, undefined, { stage: checkpointStage === 1 || checkpointStage === 2 ? checkpointStage : stage });
  network.dispose();
  // Beside the training's own results.json, never over it: results/eval-<checkpoint>.json.
  const target = evalResultsFile(directory, file);
  await writeResults(target, result, { checkpoint: path.relative(directory, file), dataset: config.data.dataset });
  options.io.stdout.write(
    `${path.relative(options.io.cwd, file)}: top-1 ${formatPercent(result.top1)}%  top-5 ${formatPercent(result.top5)}%  many ${formatPercent(result.many)}  medium ${formatPercent(
      result.medium,
    )}  few ${formatPercent(result.few)}\nwrote ${target}\n`,
  );
}

export async function reportCommand(options: { run: string; out?: string; io: CliIo }): Promise<void> {
  const { directory, config } = readRunConfig(options.run, options.io.cwd);
  const { writeRunReport } = await import('./pipeline.js');
  const target = await writeRunReport(directory, config, undefined);
  if (options.out) {
    const { writeFileAtomic } = await import('./atomic.js');
    await writeFileAtomic(path.resolve(options.io.cwd, options.out), readFileSync(target));
  }
  options.io.stdout.write(`wrote ${options.out ? path.resolve(options.io.cwd, options.out) : target}\n`);
}

export async function infoCommand(config: RunConfig, options: { json: boolean; io: CliIo; showBackend?: boolean }): Promise<void> {
  // With --backend, the backend that training would use, and why the faster ones are not (e.g. no GPU adapter).
  const backend = options.showBackend ? await (await import('./backend-selection.js')).selectComputeBackend(config.backend) : undefined;
  const { loadTrainingData } = await import('./data.js');
  const { cloudSizes } = await import('@longtail/gcl-loss');
  const { classCounts } = await import('@longtail/samplers');
  const { manyMediumFew } = await import('@longtail/datasets');
  // The data set as it is: without the validation hold-out a run may take (longtail check-data shows that split).
  const data = await loadTrainingData({ ...config, evaluation: { ...config.evaluation, select: 'test', temperatureScaling: false } });
  const counts = classCounts(data.train.labels, data.numClasses);
  const groups = manyMediumFew(counts, { manyAbove: config.evaluation.manyThreshold, fewBelow: config.evaluation.fewThreshold });
  const clouds = cloudSizes(counts.map((n) => Math.max(n, 1)));
  const info = {
    ...(backend === undefined ? {} : { backend }),
    dataset: config.data.dataset,
    source: data.description,
    numClasses: data.numClasses,
    trainImages: data.train.length,
    testImages: data.test.length,
    imbalanceRatio: Math.max(...counts) / Math.max(Math.min(...counts), 1),
    counts,
    many: groups.many,
    medium: groups.medium,
    few: groups.few,
    cloudSizes: clouds,
    classNames: data.classNames,
  };
  if (options.json) {
    options.io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return;
  }
  const lines = [
    ...(backend === undefined ? [] : [backend]),
    `${info.dataset}: ${info.source}`,
    `${info.numClasses} classes, ${info.trainImages} training images, ${info.testImages} test images, imbalance ratio ${info.imbalanceRatio.toFixed(1)}`,
    `many (> ${config.evaluation.manyThreshold}): ${groups.many.length} classes, medium: ${groups.medium.length}, few (< ${config.evaluation.fewThreshold}): ${groups.few.length}`,
    '',
    'class  name                 train images  shot    cloud size',
    ...counts.map((n, c) => {
      const shot = groups.many.includes(c) ? 'many' : groups.few.includes(c) ? 'few' : 'medium';
      return `${String(c).padStart(5)}  ${(data.classNames[c] ?? '').padEnd(20).slice(0, 20)} ${String(n).padStart(12)}  ${shot.padEnd(6)}  ${clouds[c].toFixed(3).padStart(10)}`;
    }),
  ];
  options.io.stdout.write(`${lines.join('\n')}\n`);
}
