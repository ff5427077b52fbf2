import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  describeConfigKeys,
  mergeConfig,
  overridesToObject,
  parseOverrideValue,
  resolveConfig,
  type RunConfig,
} from '../src/index.js';

function issuesOf(input: unknown): string[] {
  try {
    resolveConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('fills the paper defaults (CIFAR-LT protocol) and stage-specific loss defaults', () => {
    const config: RunConfig = resolveConfig({});
    expect(config.stage1.epochs).toBe(200);
    expect(config.stage1.batchSize).toBe(64);
    expect(config.stage1.optimizer).toEqual({ lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
    expect(config.stage1.schedule).toEqual({ warmupEpochs: 5, milestones: [160, 180], gamma: 0.1 });
    expect(config.stage1.mixup.alpha).toBe(1);
    // Only the chosen loss's options of the stage: stage-1 GCL has no focal exponent (no focal reduction there).
    expect(config.stage1.loss).toEqual({ name: 'gcl', m: 0, s: 30, noiseMul: 0.5, weighting: 'none' });
    expect(config.stage2.loss).toEqual({ name: 'gcl', m: 0.1, s: 20, noiseMul: 0.5, gamma: 1, weighting: 'none' });
    expect(config.stage2.sampler).toBe('class-based-effective-number');
    expect(config.stage2.epochs).toBe(30);
    expect(config.stage2.schedule.type).toBe('cosine');
    expect(config.evaluation).toMatchObject({ manyThreshold: 100, fewThreshold: 20 });
    expect(config.stage1.drw.epoch).toBeNull();
  });

  it('keeps explicit values and is idempotent on its own output', () => {
    const config = resolveConfig({ stage1: { epochs: 3, loss: { name: 'ldam', s: 15 } }, data: { dataset: 'fashion-mnist-lt' } });
    expect(config.stage1.epochs).toBe(3);
    expect(config.stage1.loss).toMatchObject({ name: 'ldam', s: 15, maxM: 0.5 });
    expect(resolveConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it('names the key path of a bad value', () => {
    expect(issuesOf({ stage1: { optimizer: { lr: -1 } } })).toEqual(['stage1.optimizer.lr must be > 0, got -1']);
    expect(issuesOf({ stage1: { optimizer: { momentum: 1 } } })).toEqual(['stage1.optimizer.momentum must be < 1, got 1']);
    expect(issuesOf({ stage1: { epochs: 2.5 } })).toEqual(['stage1.epochs must be an integer, got 2.5']);
    expect(issuesOf({ stage2: { sampler: 'random' } })[0]).toMatch(/^stage2\.sampler must be one of "none", "balanced"/);
    expect(issuesOf({ stage1: { batchSize: '64' } })).toEqual(['stage1.batchSize must be a finite number, got "64"']);
    expect(issuesOf({ stage2: { enabled: 'yes' } })).toEqual(['stage2.enabled must be true or false, got "yes"']);
    expect(issuesOf({ stage1: { schedule: { milestones: [180, 160] } } })[0]).toMatch(/^stage1\.schedule\.milestones must be strictly increasing/);
    expect(issuesOf({ stage1: { schedule: { milestones: [1, 'x'] } } })).toEqual(['stage1.schedule.milestones[1] must be a finite number, got "x"']);
    expect(issuesOf({ data: { imbalance: { factor: 0 } } })).toEqual(['data.imbalance.factor must be > 0, got 0']);
    expect(issuesOf({ stage1: 5 })).toEqual(['stage1 must be an object, got 5']);
    expect(issuesOf([])).toEqual(['config must be an object, got an array']);
  });

  it('rejects unknown keys at any depth, naming them', () => {
    expect(issuesOf({ stage1: { optimiser: {} } })[0]).toMatch(/^stage1\.optimiser is not a known key \(known: epochs, batchSize/);
    expect(issuesOf({ typo: 1 })[0]).toMatch(/^typo is not a known key/);
    expect(issuesOf({ stage2: { loss: { sigma: 1 } } })).toEqual(['stage2.loss.sigma: not an option of gcl (options: m, s, noiseMul, gamma, weighting)']);
  });

  it('reports every problem at once and runs cross-key checks', () => {
    const issues = issuesOf({ seed: -1, stage1: { optimizer: { lr: 0 } }, extra: true });
    expect(issues).toHaveLength(3);
    expect(issuesOf({ stage1: { epochs: 10, drw: { epoch: 10 } } })).toEqual(['stage1.drw.epoch must be < stage1.epochs (10), got 10']);
    expect(issuesOf({ evaluation: { fewThreshold: 200 } })[0]).toMatch(/^evaluation\.fewThreshold must be <= evaluation\.manyThreshold/);
    expect(issuesOf({ data: { dataset: 'places-lt' } })[0]).toMatch(/^data\.root is required for places-lt/);
  });

  it('rejects prototype keys ("__proto__", "constructor", "toString") instead of ignoring them (finding 8)', () => {
    for (const text of ['{"__proto__": {"seed": 5}}', '{"constructor": 1}', '{"toString": "x"}', '{"stage1": {"hasOwnProperty": 1}}']) {
      const input = JSON.parse(text);
      expect(issuesOf(input)[0], text).toMatch(/is not a known key/);
      // Also after merging with CLI overrides (the merge must not turn "__proto__" into a prototype).
      expect(issuesOf(mergeConfig(input, { seed: 1 }))[0], text).toMatch(/is not a known key/);
    }
    expect(issuesOf(JSON.parse('{"__proto__": {"seed": 5}}'))[0]).toMatch(/^__proto__ is not a known key/);
    expect(issuesOf(JSON.parse('{"stage1": {"hasOwnProperty": 1}}'))[0]).toMatch(/^stage1\.hasOwnProperty is not a known key/);
    expect(() => parseOverrideValue('toString', '3')).toThrow(/--toString is not a config key/);
    expect(() => parseOverrideValue('__proto__.seed', '3')).toThrow(/--__proto__\.seed is not a config key/);
    expect(Object.getPrototypeOf(overridesToObject([['__proto__.seed', 1]]))).toBe(Object.prototype);
  });

  it('rejects empty or contradictory runs, naming the keys (finding 9)', () => {
    expect(issuesOf({ stage1: { epochs: 0 } })[0]).toMatch(/^stage1\.epochs is 0 with stage 2 enabled and no model\.pretrained: stage 2 would re-train a classifier on a random, frozen backbone/);
    expect(resolveConfig({ stage1: { epochs: 0 }, model: { pretrained: 'w.safetensors' } }).stage1.epochs).toBe(0);
    expect(issuesOf({ stage1: { epochs: 0 }, stage2: { epochs: 0 } })[0]).toMatch(/^stage1\.epochs is 0 and stage2\.epochs is 0: there is nothing to train/);
    expect(issuesOf({ stage1: { epochs: 0 }, stage2: { enabled: false } })[0]).toMatch(/^stage1\.epochs is 0 and stage2\.enabled is false: there is nothing to train/);
    expect(issuesOf({ stage2: { epochs: 0 } })[0]).toMatch(/^stage2\.epochs must be > 0 when stage2\.enabled is true/);
    expect(issuesOf({ model: { head: 'dense' } })).toEqual([
      'stage1.loss.name "gcl" needs the cosine classifier, but model.head is "dense": set model.head "cosine"',
      'stage2.loss.name "gcl" needs the cosine classifier, but model.head is "dense": set model.head "cosine"',
    ]);
    expect(issuesOf({ stage1: { loss: { name: 'ce' } } })[0]).toMatch(/^stage2\.loss\.name "gcl" needs the cosine classifier, but model\.head is "auto" \(dense for stage1\.loss\.name "ce"\)/);
    expect(resolveConfig({ stage1: { loss: { name: 'ce' } }, stage2: { enabled: false }, model: { head: 'dense' } }).model.head).toBe('dense');
    expect(issuesOf({ data: { imbalance: { maxPerClass: 1 } } })[0]).toMatch(/^data\.imbalance\.maxPerClass 1 with data\.imbalance\.factor 0\.01 leaves the rarest class 0\.01 images: maxPerClass must be at least 100/);
    expect(resolveConfig({ data: { imbalance: { maxPerClass: 100 } } }).data.imbalance.maxPerClass).toBe(100);
  });

  it('confines output paths: name is one segment, a relative outputDir stays in the working directory (finding 9)', () => {
    expect(issuesOf({ name: '../../x' })[0]).toMatch(/^name must be a plain name \(one path segment/);
    expect(issuesOf({ name: 'a/b' })[0]).toMatch(/^name must be a plain name/);
    expect(issuesOf({ name: '..' })[0]).toMatch(/^name must be a plain name/);
    expect(issuesOf({ outputDir: '../elsewhere' })[0]).toMatch(/^outputDir "\.\.\/elsewhere" leaves the working directory; give an absolute path/);
    expect(issuesOf({ outputDir: 'runs/../../x' })[0]).toMatch(/leaves the working directory/);
    expect(resolveConfig({ outputDir: '/tmp/anywhere' }).outputDir).toBe('/tmp/anywhere');
    expect(resolveConfig({ outputDir: 'runs/x', name: 'my-run_1.2' }).outputDir).toBe('runs/x');
  });

  it('error message of a single problem is the problem itself', () => {
    expect(() => resolveConfig({ stage1: { optimizer: { lr: -1 } } })).toThrow('stage1.optimizer.lr must be > 0, got -1');
  });
});

describe('CLI overrides', () => {
  it('parses values by the type of the key', () => {
    expect(parseOverrideValue('stage1.epochs', '3')).toBe(3);
    expect(parseOverrideValue('stage2.enabled', 'false')).toBe(false);
    expect(parseOverrideValue('stage1.schedule.milestones', '8, 9')).toEqual([8, 9]);
    expect(parseOverrideValue('stage1.drw.epoch', 'null')).toBeNull();
    expect(parseOverrideValue('data.dataset', 'fashion-mnist-lt')).toBe('fashion-mnist-lt');
    expect(() => parseOverrideValue('stage1.epochs', 'three')).toThrow('stage1.epochs must be a finite number, got "three"');
    expect(() => parseOverrideValue('stage1.epoch', '3')).toThrow(/--stage1\.epoch is not a config key/);
    expect(() => parseOverrideValue('stage1', '3')).toThrow(/--stage1 is not a config key/);
  });

  it('override a config file value, then validate the merged result', () => {
    const file = { stage1: { epochs: 200, optimizer: { lr: 0.1 } } };
    const overrides = overridesToObject([
      ['stage1.epochs', 3],
      ['stage1.optimizer.momentum', 0.5],
    ]);
    const config = resolveConfig(mergeConfig(file, overrides));
    expect(config.stage1.epochs).toBe(3);
    expect(config.stage1.optimizer).toEqual({ lr: 0.1, momentum: 0.5, weightDecay: 2e-4 });
    expect(() => resolveConfig(mergeConfig(file, overridesToObject([['stage1.optimizer.lr', -1]])))).toThrow(
      'stage1.optimizer.lr must be > 0, got -1',
    );
  });

  it('documents every key', () => {
    const lines = describeConfigKeys();
    expect(lines.some((line) => line.startsWith('--stage1.optimizer.lr <number> (default 0.1)'))).toBe(true);
    expect(lines.some((line) => line.startsWith('--stage2.sampler <none|balanced|'))).toBe(true);
    expect(lines.length).toBeGreaterThan(50);
  });
});

describe('loss options: a union keyed on name', () => {
  it('an option of another loss is an error naming the key, the loss and its options', () => {
    expect(issuesOf({ stage1: { loss: { tau: 2 } } })).toEqual(['stage1.loss.tau: not an option of gcl (options: m, s, noiseMul, weighting)']);
    // gamma is the stage-2 focal reduction's exponent: stage-1 GCL has none, stage-2 GCL does.
    expect(issuesOf({ stage1: { loss: { name: 'gcl', gamma: 1 } } })).toEqual(['stage1.loss.gamma: not an option of gcl (options: m, s, noiseMul, weighting)']);
    expect(resolveConfig({ stage2: { loss: { name: 'gcl', gamma: 2 } } }).stage2.loss.gamma).toBe(2);
    expect(issuesOf({ stage1: { loss: { name: 'ce', s: 30 } }, stage2: { enabled: false } })).toEqual(['stage1.loss.s: not an option of ce (options: weighting)']);
    expect(issuesOf({ stage1: { loss: { name: 'balanced-softmax', m: 0 } }, stage2: { enabled: false } })).toEqual([
      'stage1.loss.m: not an option of balanced-softmax (options: none)',
    ]);
    expect(issuesOf({ stage1: { loss: { name: 'hinge' } } })[0]).toMatch(/^stage1\.loss\.name must be one of "gcl", "gcl-angular", "ce", "focal", "ldam", "logit-adjusted", "balanced-softmax"/);
  });

  it('class weights on a loss that cannot take them are an error (weighting, DRW)', () => {
    expect(issuesOf({ stage1: { loss: { name: 'logit-adjusted', weighting: 'balanced' } }, stage2: { enabled: false } })).toEqual([
      'stage1.loss.weighting: not an option of logit-adjusted (options: tau)',
    ]);
    expect(issuesOf({ stage1: { epochs: 10, loss: { name: 'balanced-softmax' }, drw: { epoch: 5 } }, stage2: { enabled: false } })).toEqual([
      'stage1.drw.epoch: balanced-softmax takes no class weights, so deferred re-weighting cannot apply (set stage1.drw.epoch null, or use a loss that takes them)',
    ]);
    // The losses that take them accept both.
    const ldam = resolveConfig({ stage1: { epochs: 10, loss: { name: 'ldam', weighting: 'balanced' }, drw: { epoch: 5 } }, stage2: { enabled: false } });
    expect(ldam.stage1.loss).toEqual({ name: 'ldam', maxM: 0.5, s: 30, weighting: 'balanced' });
  });

  it('per-stage defaults come from the loss registry; null takes the default; range checks name the key', () => {
    expect(resolveConfig({ stage2: { loss: { name: 'gcl-angular' } } }).stage2.loss).toEqual({ name: 'gcl-angular', m: 0.5, s: 30, epsilon: 0.1, easyMargin: false, gamma: 1, weighting: 'none' });
    expect(resolveConfig({ stage1: { loss: { name: 'focal' } }, stage2: { enabled: false } }).stage1.loss).toEqual({ name: 'focal', gamma: 1, weighting: 'none' });
    expect(resolveConfig({ stage2: { loss: { m: null, s: null } } }).stage2.loss).toMatchObject({ m: 0.1, s: 20 });
    expect(issuesOf({ stage2: { loss: { s: 0 } } })).toEqual(['stage2.loss.s must be > 0, got 0']);
    expect(issuesOf({ stage1: { loss: { name: 'gcl-angular', m: 2 } } })).toEqual(['stage1.loss.m must be <= π/2 for gcl-angular, got 2']);
    expect(issuesOf({ stage1: { loss: { name: 'gcl', weighting: 'inverse' } } })[0]).toMatch(/^stage1\.loss\.weighting must be one of "none", "balanced", "effective-number", "class-based-effective-number"/);
  });

  it('a CLI flag for another loss\'s option parses, then fails naming the key', () => {
    expect(parseOverrideValue('stage1.loss.tau', '2')).toBe(2);
    expect(parseOverrideValue('stage1.loss.easyMargin', 'true')).toBe(true);
    expect(() => parseOverrideValue('stage1.loss.sigma', '2')).toThrow(/--stage1\.loss\.sigma is not a config key/);
    expect(() => resolveConfig(mergeConfig({}, overridesToObject([['stage1.loss.tau', 2]])))).toThrow('stage1.loss.tau: not an option of gcl (options: m, s, noiseMul, weighting)');
    const lines = describeConfigKeys();
    expect(lines).toContain('--stage1.loss.name <gcl|gcl-angular|ce|focal|ldam|logit-adjusted|balanced-softmax> (default "gcl")  loss function (name) and its options (null: the loss default for the stage)');
    expect(lines).toContain('--stage2.loss.gamma <number|null> (default 1)  [gcl] focal exponent of the stage-2 focal reduction');
    expect(lines.some((line) => line.startsWith('--stage1.loss.gamma <number|null> (default 1)  [gcl]'))).toBe(false);
  });
});
