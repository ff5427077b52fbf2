/**
 * `longtail export`: a trained run's network as a TensorFlow.js LayersModel directory (`model.json` + weight shards)
 * that a browser loads with `tf.loadLayersModel`, with everything a page needs to use it in the model's
 * `userDefinedMetadata` (`longtail` key): class names, training images per class, the preprocessing of the data set's
 * evaluation transform, the head and how its outputs become probabilities, the run's results and the checkpoint's
 * SHA-256.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { saveModel } from '@longtail/backbones';
import { manyMediumFew, type ImageTransform } from '@longtail/datasets';
import { classCounts } from '@longtail/samplers';
import { UsageError, type CliIo } from './cli-io.js';
import type { RunConfig } from './config.js';
import { loadCheckpoint } from './checkpoint.js';
import { loadTrainingData } from './data.js';
import type { EvaluationResult } from './evaluation.js';
import { probabilityScale, resolveHead } from './losses.js';
import { buildModel, restoreModelWeights } from './model.js';
import { readJsonIfExists } from './report.js';
import { readRunConfig } from './run-config-file.js';
import { RUN_RECORD_FILE } from './run-directory.js';
import { checkpointFile, RESULTS_FILE, stageResultsFile } from './run-layout.js';

/** The formats `exportRun` writes: `tfjs`, a TensorFlow.js LayersModel directory. */
export const EXPORT_FORMATS = ['tfjs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Version of the `longtail` entry of an exported model's `userDefinedMetadata`; a page refuses other versions. */
export const EXPORT_METADATA_VERSION = 1;

/** The directory `exportRun` writes when no `out` is given, inside the run directory. */
export const DEFAULT_EXPORT_DIRECTORY = 'export-tfjs';

/**
 * How a page turns an image into the network's input, derived from the data set's evaluation transform. Steps, in
 * order: draw the image onto an opaque black background (`background`), scaled by `resize`; take its pixels as 0–255
 * values, as grey (`color: 'grayscale'`: `round(luma · [R, G, B])`, repeated to `inputShape[2]` channels) or RGB; place
 * them in the `inputShape` frame (`pad`: zero pixels around, or `crop`: the centre window); then every channel
 * `c` becomes `(value / 255 − mean[c]) / std[c]`. The input tensor is NHWC float32 `[1, ...inputShape]`.
 */
export interface BrowserPreprocessing {
  /** The `kind` of the data set's evaluation transform it was derived from. */
  transform: 'cifar' | 'imagenet-eval';
  /** `[height, width, channels]` of the network input. */
  inputShape: [number, number, number];
  layout: 'NHWC';
  dtype: 'float32';
  /** The images the network was trained on: `[height, width, channels]` (an in-memory data set), or null (files of any size). */
  sourceShape: [number, number, number] | null;
  /** `grayscale`: the training images are grey (one channel), `rgb`: colour. */
  color: 'grayscale' | 'rgb';
  /** How a colour image becomes grey (`color: 'grayscale'`): ITU-R BT.601 luma, rounded to an integer, then repeated. */
  grayscale: { luma: [number, number, number]; rounding: 'round'; expand: 'repeat'; channels: number } | null;
  /** RGB the image is composited onto (transparent pixels) and the canvas is filled with before drawing. */
  background: [number, number, number];
  /**
   * `fit`: scale the image to fit inside `height × width` keeping its aspect ratio, centred (an image of exactly that
   * size is drawn unchanged, as the training images were); `shorter-side`: torchvision `Resize(size)` — the shorter
   * side becomes `size`, the longer `trunc(size · long / short)` (bilinear).
   */
  resize: { mode: 'fit'; height: number; width: number } | { mode: 'shorter-side'; size: number };
  /** Zero-pixel padding (value 0 before normalisation) placing the resized image in the input frame; null: none. */
  pad: { top: number; bottom: number; left: number; right: number; value: number } | null;
  /** torchvision `CenterCrop`: offsets `roundHalfEven((resized − size) / 2)`; null: none. */
  crop: { mode: 'center'; height: number; width: number } | null;
  /** Pixel values before normalisation. */
  valueRange: [number, number];
  /** Per input channel. */
  mean: number[];
  /** Per input channel. */
  std: number[];
  /** The normalisation, in words. */
  normalize: string;
}

/** The `longtail` entry of an exported model's `userDefinedMetadata`. */
export interface ExportedModelMetadata {
  format: 'longtail-tfjs-model';
  formatVersion: number;
  /** Version of `@longtail/trainer` that exported it. */
  longtailVersion: string;
  dataset: string;
  backbone: string;
  numClasses: number;
  classNames: string[];
  /** Training images per class: the run's (`results.json`'s `trainCounts`), else those of the data as configured. */
  trainCounts: number[];
  /** Shot groups of the classes by their training counts: many `> manyAbove`, few `< fewBelow`, medium between. */
  shotGroups: { manyAbove: number; fewBelow: number; many: number[]; medium: number[]; few: number[] };
  preprocessing: BrowserPreprocessing;
  /**
   * The classifier: `cosine` (`NormedLinear`: outputs are cosines in [−1, 1], which the loss scaled by `s` in training)
   * or `dense` (plain logits). Probabilities are `softmax(probabilityScale · output)`.
   */
  head: {
    kind: 'cosine' | 'dense';
    cosineLogits: boolean;
    /** The multiplier of the outputs before the softmax. */
    probabilityScale: number;
    /** Where it comes from: the stage loss's logit scale (a cosine head's `s`), divided by the fitted temperature when the results have one, or `none` (1). */
    probabilityScaleSource: string;
  };
  /** The checkpoint the weights come from. */
  checkpoint: { file: string; stage: number | null; epochsDone: number | null; which: string; sha256: string; fileSha256: string };
  /** The run's final results (`results.json`), or null when the run has none. */
  results: {
    stage: number | null;
    numSamples: number;
    top1: number;
    top5: number;
    many: number | null;
    medium: number | null;
    few: number | null;
    ece: number | null;
    /** Whether these results score the exported checkpoint (the stage's results name its SHA-256). */
    describesCheckpoint: boolean;
  } | null;
}

/** Options of {@link exportRun}. */
export interface ExportOptions {
  /** The run directory (relative to `cwd`). */
  run: string;
  format: string;
  /** Output directory (relative to `cwd`); default `<run>/export-tfjs`. */
  out?: string;
  /** `best` (default: the final stage's best network), `last`, or a checkpoint file (relative to `cwd`). */
  checkpoint?: string;
  /** Default `process.cwd()`. */
  cwd?: string;
}

/** What {@link exportRun} wrote. */
export interface ExportResult {
  directory: string;
  /** `model.json` first, then the weight shards (absolute paths). */
  files: string[];
  checkpointFile: string;
  metadata: ExportedModelMetadata;
}

const LUMA: [number, number, number] = [0.299, 0.587, 0.114];

/**
 * The browser preprocessing of an evaluation transform (see {@link BrowserPreprocessing}): what a page must do to
 * an image so that the network sees what the trainer's evaluation gave it. `sourceShape` is the training images'
 * `[height, width, channels]` for an in-memory data set (null for file-backed ones). Throws for a transform with
 * random steps (a training transform) or one that cannot be described.
 */
export function browserPreprocessing(transform: ImageTransform, sourceShape: [number, number, number] | null): BrowserPreprocessing {
  const common = { layout: 'NHWC' as const, dtype: 'float32' as const, background: [0, 0, 0] as [number, number, number], valueRange: [0, 255] as [number, number] };
  const normalize = '(value / 255 - mean[c]) / std[c]';
  switch (transform?.kind) {
    case 'cifar': {
      if (transform.padding > 0 || transform.flip) {
        throw new Error(`cannot export the preprocessing: the cifar transform has random steps (crop padding ${transform.padding}, flip ${transform.flip}); an evaluation transform has none`);
      }
      if (transform.resize) {
        // Files of any size (an image folder): shorter side to the size, then the central square, as decodeTransformed.
        return {
          transform: 'cifar',
          inputShape: [transform.size, transform.size, transform.channels],
          ...common,
          sourceShape,
          color: transform.channels === 1 ? 'grayscale' : 'rgb',
          grayscale: transform.channels === 1 ? { luma: [...LUMA], rounding: 'round', expand: 'repeat', channels: 1 } : null,
          resize: { mode: 'shorter-side', size: transform.size },
          pad: null,
          crop: { mode: 'center', height: transform.size, width: transform.size },
          mean: [...transform.mean],
          std: [...transform.std],
          normalize,
        };
      }
      if (sourceShape === null) throw new Error('cannot export the preprocessing: a cifar transform needs in-memory images of a known size');
      const [height, width, channels] = sourceShape;
      const { size } = transform;
      if (height > size || width > size) throw new Error(`cannot export the preprocessing: images of ${height}×${width} are larger than the cifar transform's ${size}×${size}`);
      if (channels !== 1 && channels !== transform.channels) {
        throw new Error(`cannot export the preprocessing: ${channels}-channel images and a ${transform.channels}-channel transform (only one channel is repeated)`);
      }
      const top = Math.floor((size - height) / 2);
      const left = Math.floor((size - width) / 2);
      const grey = channels === 1;
      if (!grey && channels !== 3) throw new Error(`cannot export the preprocessing: ${channels}-channel colour images (a browser image is RGB)`);
      return {
        transform: 'cifar',
        inputShape: [size, size, transform.channels],
        ...common,
        sourceShape: [height, width, channels],
        color: grey ? 'grayscale' : 'rgb',
        grayscale: grey ? { luma: [...LUMA], rounding: 'round', expand: 'repeat', channels: transform.channels } : null,
        resize: { mode: 'fit', height, width },
        pad: top === 0 && left === 0 && height === size && width === size ? null : { top, bottom: size - height - top, left, right: size - width - left, value: 0 },
        crop: null,
        mean: [...transform.mean],
        std: [...transform.std],
        normalize,
      };
    }
    case 'imagenet-eval':
      return {
        transform: 'imagenet-eval',
        inputShape: [transform.size, transform.size, 3],
        ...common,
        sourceShape,
        color: 'rgb',
        grayscale: null,
        resize: { mode: 'shorter-side', size: transform.resize },
        pad: null,
        crop: { mode: 'center', height: transform.size, width: transform.size },
        mean: [...transform.mean],
        std: [...transform.std],
        normalize,
      };
    case 'imagenet-train':
      throw new Error('cannot export the preprocessing: imagenet-train is a random training transform (random resized crop, flip); an evaluation transform has none');
    default:
      throw new Error(`cannot export the preprocessing: unknown transform ${JSON.stringify(transform)}`);
  }
}

function longtailVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function sourceShapeOf(dataset: unknown): [number, number, number] | null {
  const { height, width, channels } = dataset as { height?: unknown; width?: unknown; channels?: unknown };
  return typeof height === 'number' && typeof width === 'number' && typeof channels === 'number' ? [height, width, channels] : null;
}

/**
 * Exports a run's network for TensorFlow.js: loads `config.json` and the checkpoint (`best`: the final stage's best
 * network — stage 2's when stage 2 ran, else stage 1's; `last`; or a file), rebuilds the model and writes a LayersModel
 * directory (`model.json` + `group1-shard*.bin`, default `<run>/export-tfjs/`) whose `userDefinedMetadata.longtail`
 * is an {@link ExportedModelMetadata}. Old `model.json` and shards in the output directory are replaced; other files
 * are left alone. Refuses an unknown format, a missing run or checkpoint, and a preprocessing it cannot describe.
 *
 * Load it back with `tf.loadLayersModel(url)` after `registerBackboneLayers()` (importing `@longtail/backbones`).
 */
export async function exportRun(options: ExportOptions): Promise<ExportResult> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(`export: unknown format "${options.format}" (formats: ${EXPORT_FORMATS.join(', ')})`);
  }
  const cwd = options.cwd ?? process.cwd();
  if (typeof options.run !== 'string' || options.run.length === 0) throw new UsageError('export: the run directory is required');
  const { directory, config } = readRunConfig(options.run, cwd, 'export');
  const which = options.checkpoint ?? 'best';
  const finalStage: 1 | 2 = config.stage2.enabled && existsSync(checkpointFile(directory, 2, 'last')) ? 2 : 1;
  const file = which === 'best' || which === 'last' ? checkpointFile(directory, finalStage, which) : path.resolve(cwd, which);
  if (!existsSync(file)) {
    throw new UsageError(
      which === 'best' || which === 'last'
        ? `export: ${options.run} has no ${path.relative(directory, file)} (has the run trained stage ${finalStage}?)`
        : `export: checkpoint ${which} does not exist`,
    );
  }
  if (!statSync(file).isFile()) throw new UsageError(`export: checkpoint ${file} is not a regular file`);
  const out = path.resolve(cwd, options.out ?? path.join(options.run, DEFAULT_EXPORT_DIRECTORY));
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`export: --out ${out} exists and is not a directory`);

  const checkpoint = await loadCheckpoint<{ stage?: unknown; epochsDone?: unknown; fingerprint?: unknown }>(file);
  // A checkpoint of another run (by file) would carry that run's weights under this run's metadata.
  const record = readJsonIfExists<{ fingerprint?: unknown }>(path.join(directory, RUN_RECORD_FILE));
  if (typeof record?.fingerprint === 'string' && typeof checkpoint.meta?.fingerprint === 'string' && checkpoint.meta.fingerprint !== record.fingerprint) {
    throw new UsageError(`export: ${file} belongs to another run (fingerprint ${checkpoint.meta.fingerprint.slice(0, 12)}, ${options.run}'s is ${record.fingerprint.slice(0, 12)})`);
  }
  const data = await loadTrainingData(config);
  const preprocessing = browserPreprocessing(data.evalTransform, sourceShapeOf(data.train));
  const headKind = resolveHead(config.model.head, config.stage1.loss.name);
  const checkpointStage = checkpoint.meta?.stage === 1 || checkpoint.meta?.stage === 2 ? (checkpoint.meta.stage as 1 | 2) : null;

  // The final results, and whether they score this checkpoint (the stage's results file names the network's SHA-256).
  const results = readJsonIfExists<EvaluationResult & { stage?: number }>(path.join(directory, RESULTS_FILE));
  let summary: ExportedModelMetadata['results'] = null;
  if (results && typeof results.top1 === 'number') {
    const stage = typeof results.stage === 'number' ? results.stage : null;
    const stageResults = stage === 1 || stage === 2 ? readJsonIfExists<{ checkpointSha256?: string }>(stageResultsFile(directory, stage)) : undefined;
    summary = {
      stage,
      numSamples: results.numSamples,
      top1: results.top1,
      top5: results.top5,
      many: results.many,
      medium: results.medium,
      few: results.few,
      ece: typeof results.calibration?.ece === 'number' ? results.calibration.ece : null,
      describesCheckpoint: stageResults?.checkpointSha256 !== undefined && stageResults.checkpointSha256 === checkpoint.payloadSha256,
    };
  }
  // The counts the run trained with (results.json records them); the data as loaded now where the run has none.
  const recorded = results?.trainCounts;
  const counts =
    Array.isArray(recorded) && recorded.length === data.numClasses && recorded.every((n) => Number.isInteger(n) && n >= 0)
      ? [...recorded]
      : classCounts(data.train.labels, data.numClasses);
  const temperature = (results as { temperatureScaling?: { temperature?: unknown } } | undefined)?.temperatureScaling?.temperature;
  const scaleStage = checkpointStage ?? finalStage;
  // The probabilities the network was trained to give: softmax(s · outputs) for a scaled loss (a cosine head's s); a
  // temperature fitted on those (results.json, for this checkpoint) divides them further.
  const scale = probabilityScale(config, scaleStage);
  const probability =
    summary?.describesCheckpoint && typeof temperature === 'number' && temperature > 0
      ? { probabilityScale: scale / temperature, probabilityScaleSource: `stage${scaleStage}.loss logit scale ${scale} / temperature ${temperature}` }
      : scale !== 1
        ? { probabilityScale: scale, probabilityScaleSource: `stage${scaleStage}.loss logit scale` }
        : { probabilityScale: 1, probabilityScaleSource: 'none' };

  const groups = manyMediumFew(counts, { manyAbove: config.evaluation.manyThreshold, fewBelow: config.evaluation.fewThreshold });
  const metadata: ExportedModelMetadata = {
    format: 'longtail-tfjs-model',
    formatVersion: EXPORT_METADATA_VERSION,
    longtailVersion: longtailVersion(),
    dataset: config.data.dataset,
    backbone: config.model.backbone,
    numClasses: data.numClasses,
    classNames: [...data.classNames],
    trainCounts: counts,
    shotGroups: { manyAbove: config.evaluation.manyThreshold, fewBelow: config.evaluation.fewThreshold, many: [...groups.many], medium: [...groups.medium], few: [...groups.few] },
    preprocessing,
    head: { kind: headKind, cosineLogits: headKind === 'cosine', ...probability },
    checkpoint: {
      file: path.relative(directory, file).split(path.sep).join('/'),
      stage: checkpointStage,
      epochsDone: typeof checkpoint.meta?.epochsDone === 'number' ? checkpoint.meta.epochsDone : null,
      which: which === 'best' || which === 'last' ? which : 'file',
      sha256: checkpoint.payloadSha256 ?? '',
      fileSha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
    },
    results: summary,
  };

  const network = await buildModel(config.model.backbone, { numClasses: data.numClasses, head: headKind, inputShape: data.inputShape });
  try {
    restoreModelWeights(network, checkpoint.tensors.model ?? []);
    network.setUserDefinedMetadata({ longtail: metadata as unknown as Record<string, unknown> });
    // Replace an earlier export (its shard count may differ); leave anything else in the directory alone.
    if (existsSync(out)) {
      for (const name of readdirSync(out)) {
        if (name === 'model.json' || /^group\d+-shard\d+of\d+(\.bin)?$/.test(name)) await rm(path.join(out, name), { force: true });
      }
    }
    await saveModel(network, out);
  } finally {
    network.dispose();
  }
  const model = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  const files = [path.join(out, 'model.json'), ...model.weightsManifest.flatMap((group) => group.paths.map((shard) => path.join(out, shard)))];
  return { directory: out, files, checkpointFile: file, metadata };
}

/** `longtail export <run> --format tfjs [--out dir] [--checkpoint best|last|file]`: {@link exportRun}, then prints what it wrote. */
export async function exportCommand(options: Omit<ExportOptions, 'cwd'> & { io: CliIo }): Promise<ExportResult> {
  const { io, ...rest } = options;
  const result = await exportRun({ ...rest, cwd: io.cwd });
  const { metadata } = result;
  const shown = (value: number | null | undefined) => (value === null || value === undefined ? 'n/a' : `${(100 * value).toFixed(1)}%`);
  const lines = [
    `exported ${path.relative(io.cwd, result.checkpointFile) || result.checkpointFile} (sha256 ${metadata.checkpoint.sha256.slice(0, 12)}) as a tfjs LayersModel:`,
    ...result.files.map((file) => `  wrote ${path.relative(io.cwd, file) || file} (${statSync(file).size} bytes)`),
    `  ${metadata.backbone}, ${metadata.head.kind} head, ${metadata.numClasses} classes, input ${metadata.preprocessing.inputShape.join('×')} (${metadata.preprocessing.color})` +
      (metadata.results ? `; results: top-1 ${shown(metadata.results.top1)}, many ${shown(metadata.results.many)}, medium ${shown(metadata.results.medium)}, few ${shown(metadata.results.few)}` : '; no results.json'),
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return result;
}
