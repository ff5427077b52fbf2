import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// What `npm publish` would ship, per package (`npm pack --dry-run`): every file the manifest points at (exports,
// main, module, types, bin), every file a run-time script needs, and for the native pack everything node-gyp needs
// to compile the addon on the user's machine. A `files` whitelist that forgets one of them installs without error
// and fails only later on a user's machine (for the addon: silently, as a fallback to wasm).

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const packageNames = readdirSync(path.join(repositoryRoot, 'packages'));

const packed = new Map<string, Set<string>>();
function packedFiles(directory: string): Set<string> {
  const known = packed.get(directory);
  if (known) return known;
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: directory, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`npm pack --dry-run failed in ${directory}: ${run.stderr}`);
  const [report] = JSON.parse(run.stdout) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set(report.files.map((file) => file.path));
  packed.set(directory, files);
  return files;
}

/** Every string in the manifest's exports / main / module / types / bin that names a file. */
function manifestTargets(manifest: Record<string, unknown>): string[] {
  const targets: string[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  for (const key of ['exports', 'main', 'module', 'types', 'bin']) visit(manifest[key]);
  return targets.filter((target) => target !== './package.json').map((target) => path.posix.normalize(target));
}

describe.each(packageNames)('@longtail/%s as packed for npm', (name) => {
  const directory = path.join(repositoryRoot, 'packages', name);
  const manifest = JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as Record<string, unknown>;

  it('contains every file its manifest points at, and its README', () => {
    const files = packedFiles(directory);
    const missing = [...manifestTargets(manifest), 'README.md', 'package.json'].filter((target) => !files.has(target));
    expect(missing).toEqual([]);
  });

  it('contains the scripts its lifecycle scripts run, and what they read', () => {
    const files = packedFiles(directory);
    const scripts = (manifest.scripts ?? {}) as Record<string, string>;
    const needed: string[] = [];
    // Lifecycle scripts run on the user's machine at install time.
    for (const hook of ['preinstall', 'install', 'postinstall']) {
      for (const [, file] of (scripts[hook] ?? '').matchAll(/node\s+(\S+\.c?m?js)/g)) needed.push(path.posix.normalize(file));
    }
    if (files.has('binding.gyp') || name === 'backend-native') {
      // node-gyp compiles the listed sources, and they include the rest of src/native.
      const gyp = readFileSync(path.join(directory, 'binding.gyp'), 'utf8');
      for (const [, source] of gyp.matchAll(/"(src\/[^"]+\.(?:cc|cpp|c))"/g)) needed.push(source);
      for (const file of readdirSync(path.join(directory, 'src', 'native'))) needed.push(`src/native/${file}`);
    }
    if (name === 'backend-native') {
      // The native pack is built at install time: its build script and the addon sources must be found above.
      expect(needed).toEqual(expect.arrayContaining(['scripts/build-addon.cjs', 'src/native/addon.cc', 'src/native/kernels.inl']));
    }
    expect(needed.filter((file) => !files.has(file))).toEqual([]);
  });
});
