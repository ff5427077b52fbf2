import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type RunConfig } from '@longtail/trainer';

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchmarks = ['cifar10-lt', 'cifar100-lt', 'fashion-mnist-lt', 'imagenet-lt', 'inaturalist2018', 'places-lt'];
const fileBacked = new Set(['imagenet-lt', 'inaturalist2018', 'places-lt']);

function configFiles(benchmark: string): string[] {
  return readdirSync(path.join(examples, benchmark, 'configs')).filter((name) => name.endsWith('.json')).sort();
}

function load(benchmark: string, file: string): RunConfig {
  const raw = JSON.parse(readFileSync(path.join(examples, benchmark, 'configs', file), 'utf8'));
  // File-backed data sets need a data root; the reproduce script passes one.
  if (fileBacked.has(benchmark)) raw.data.root = '/data';
  return resolveConfig(raw);
}

describe('example configs', () => {
  it('every benchmark directory has a README and configs that the trainer accepts', () => {
    for (const benchmark of benchmarks) {
      expect(readFileSync(path.join(examples, benchmark, 'README.md'), 'utf8')).toMatch(/^# /);
      const files = configFiles(benchmark);
      expect(files.length, benchmark).toBeGreaterThan(0);
      for (const file of files) {
        const config = load(benchmark, file);
        expect(config.data.dataset, `${benchmark}/${file}`).toBe(benchmark);
      }
    }
  });

  it('file-backed benchmarks are rejected without a data root, naming the key', () => {
    const raw = JSON.parse(readFileSync(path.join(examples, 'imagenet-lt', 'configs', 'gcl-resnet50.json'), 'utf8'));
    expect(() => resolveConfig(raw)).toThrow(/data\.root is required for imagenet-lt/);
  });

  it('CIFAR-LT configs carry the paper protocol (ResNet-32, 200 + 30 epochs) at imbalance 100, 50 and 10', () => {
    for (const benchmark of ['cifar10-lt', 'cifar100-lt']) {
      expect(configFiles(benchmark)).toEqual(['ce-if10.json', 'ce-if100.json', 'ce-if50.json', 'gcl-if10.json', 'gcl-if100.json', 'gcl-if50.json', 'ldam-drw-if100.json']);
      for (const imbalance of [100, 50, 10]) {
        const gcl = load(benchmark, `gcl-if${imbalance}.json`);
        expect(gcl.data.imbalance.factor).toBeCloseTo(1 / imbalance, 10);
        expect(gcl.model.backbone).toBe('resnet32');
        expect(gcl.stage1).toMatchObject({ epochs: 200, batchSize: 64, mixup: { alpha: 1 }, optimizer: { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 } });
        expect(gcl.stage1.schedule).toEqual({ warmupEpochs: 5, milestones: [160, 180], gamma: 0.1 });
        expect(gcl.stage1.loss).toMatchObject({ name: 'gcl', m: 0, s: 30, noiseMul: 0.5 });
        expect(gcl.stage2).toMatchObject({ enabled: true, epochs: 30, sampler: 'class-based-effective-number', schedule: { type: 'cosine' } });
        expect(gcl.stage2.loss).toMatchObject({ name: 'gcl', m: 0.1, s: 20, noiseMul: 0.5, gamma: 1 });
        const ce = load(benchmark, `ce-if${imbalance}.json`);
        expect(ce.stage1.loss.name).toBe('ce');
        expect(ce.stage2.enabled).toBe(false);
        expect(ce.stage1.epochs).toBe(200);
      }
      const ldam = load(benchmark, 'ldam-drw-if100.json');
      expect(ldam.stage1.loss).toMatchObject({ name: 'ldam', maxM: 0.5, s: 30 });
      expect(ldam.stage1.drw).toEqual({ epoch: 160, weighting: 'effective-number' });
    }
  });

  it('large-scale configs: ImageNet-LT ResNet-50 / ResNeXt-50, iNaturalist ResNet-50, Places-LT ResNet-152 from ImageNet weights', () => {
    expect(load('imagenet-lt', 'gcl-resnet50.json').model.backbone).toBe('resnet50');
    expect(load('imagenet-lt', 'gcl-resnext50.json').model.backbone).toBe('resnext50_32x4d');
    expect(load('inaturalist2018', 'gcl-resnet50.json').model.backbone).toBe('resnet50');
    const places = load('places-lt', 'gcl-resnet152.json');
    expect(places.model).toMatchObject({ backbone: 'resnet152', pretrained: 'resnet152-imagenet.safetensors' });
    expect(places.stage1).toMatchObject({ epochs: 90, batchSize: 512, optimizer: { lr: 0.2, weightDecay: 5e-4 } });
    expect(places.stage1.loss.noiseMul).toBe(1);
    expect(places.stage2.loss).toMatchObject({ s: 15, noiseMul: 1, m: 0.1, gamma: 1 });
    expect(places.stage2.optimizer.lr).toBe(0.1);
    for (const [benchmark, file] of [['imagenet-lt', 'gcl-resnet50.json'], ['inaturalist2018', 'gcl-resnet50.json'], ['places-lt', 'gcl-resnet152.json']]) {
      expect(load(benchmark, file).data.inputSize).toBe(224);
    }
  });

  it('Fashion-MNIST-LT --full is the issue schedule: ResNet-32, 10 epochs compressed, batch 128, lr 0.1, 3 stage-2 epochs', () => {
    const gcl = load('fashion-mnist-lt', 'full-gcl.json');
    const ce = load('fashion-mnist-lt', 'full-ce.json');
    for (const config of [gcl, ce]) {
      expect(config.model.backbone).toBe('resnet32');
      expect(config.data.imbalance.factor).toBe(0.01);
      expect(config.stage1).toMatchObject({ epochs: 10, batchSize: 128, optimizer: { lr: 0.1 }, mixup: { alpha: 1 } });
      // 5 of 200 warm-up epochs scaled to 10; ×0.1 at 80 %, ×0.01 at 90 %.
      expect(config.stage1.schedule).toEqual({ warmupEpochs: 0.25, milestones: [8, 9], gamma: 0.1 });
      expect(config.data.trainLimit).toBeNull();
    }
    expect(gcl.stage2).toMatchObject({ enabled: true, epochs: 3, sampler: 'class-based-effective-number' });
    expect(ce.stage1.loss.name).toBe('ce');
    expect(ce.stage2.enabled).toBe(false);
  });
});

function node(script: string, args: string[]) {
  const result = spawnSync(process.execPath, [path.join(examples, 'scripts', script), ...args], { encoding: 'utf8', timeout: 110_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('reproduce and demo scripts (built trainer)', () => {
  it('reproduce lists the runs of a benchmark and rejects unknown ones', () => {
    const full = node('reproduce.mjs', ['fashion-mnist-lt', '--full', '--dry-run', '--stage1.epochs', '1']);
    expect(full.code).toBe(0);
    const lines = full.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/longtail\.js train --config \S+fashion-mnist-lt\/configs\/full-ce\.json --outputDir \S+fashion-mnist-lt-full\/ce --stage1\.epochs 1$/);
    expect(lines[1]).toMatch(/full-gcl\.json/);
    const cifar = node('reproduce.mjs', ['cifar100-lt', '--imbalance', '50', '--with-ldam', '--dry-run']);
    expect(cifar.code).toBe(2);
    expect(cifar.stderr).toMatch(/--with-ldam: the LDAM-DRW config is for imbalance 100/);
    const places = node('reproduce.mjs', ['places-lt', '--data.root', '/data/places', '--dry-run']);
    expect(places.stdout).toMatch(/--model\.pretrained \/data\/places\/resnet152-imagenet\.safetensors/);
    const unknown = node('reproduce.mjs', ['mnist-lt']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown benchmark "mnist-lt"/);
  });

  it('the demo trains CE and GCL on real Fashion-MNIST-LT (tiny budget) and prints the table with report paths', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'longtail-demo-'));
    const demo = node('demo.mjs', ['--backbone', 'tiny', '--epochs', '1', '--stage2-epochs', '1', '--train-limit', '300', '--test-limit', '200', '--out', out, '--progress', 'plain']);
    expect(demo.stderr.replace(/The kernel '\w+' for backend '\w+' is already registered\n/g, '')).toBe('');
    expect(demo.code).toBe(0);
    const table = demo.stdout.slice(demo.stdout.indexOf('method'));
    expect(table).toMatch(/^method\s+overall\s+many\s+medium\s+few\s+top-5\n/);
    expect(table).toMatch(/\nCE \(one stage\)\s+\d+\.\d\s+(\d+\.\d|n\/a)\s+(\d+\.\d|n\/a)\s+(\d+\.\d|n\/a)\s+\d+\.\d\n/);
    expect(table).toMatch(/\nGCL \(two stages\)\s+\d+\.\d/);
    expect(demo.stdout).toContain(path.join(out, 'gcl', 'report.html'));
    // The comparison: the page, and the Markdown table printed with both runs' figures from their results.
    expect(demo.stdout).toContain(path.join(out, 'compare.html'));
    const html = readFileSync(path.join(out, 'compare.html'), 'utf8');
    expect(html).toContain('GCL (two stages)');
    const markdown = readFileSync(path.join(out, 'compare.md'), 'utf8');
    expect(demo.stdout).toContain(markdown);
    const gcl = JSON.parse(readFileSync(path.join(out, 'gcl', 'results.json'), 'utf8'));
    expect(markdown).toMatch(new RegExp(`\\| GCL \\(two stages\\) \\| ${(100 * gcl.top1).toFixed(1)} \\|`));
    const results = JSON.parse(readFileSync(path.join(out, 'gcl', 'results.json'), 'utf8'));
    expect(results.stage).toBe(2);
    expect(results.numSamples).toBe(200);
    expect(results.trainCounts.reduce((a: number, b: number) => a + b, 0)).toBe(300);
  });
});
