import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

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
  });

  it('exits 2 with a readable error for bad usage and bad config', () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: longtail <command>/],
      [['fly'], /longtail: error: unknown command "fly"/],
      [['train', '--stage1.optimizer.lr', '-1'], /longtail: error: stage1\.optimizer\.lr must be > 0, got -1/],
      [['train', '--stage1.epochz', '3'], /longtail: error: --stage1\.epochz is not a config key/],
      [['train', '--frobnicate'], /longtail: error: unknown option --frobnicate for "train"/],
      [['train', '--backend', 'gpu'], /longtail: error: --backend must be one of auto, tensorflow, native, wasm, cpu, got "gpu"/],
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

  it('exits 1 with a readable error when a run fails (data set not wired)', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-cli-'));
    const result = run(['info', '--data.dataset', 'inaturalist2018', '--data.root', directory], directory);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^longtail: error: data\.dataset "inaturalist2018" is not wired into the trainer yet/);
  });
});
