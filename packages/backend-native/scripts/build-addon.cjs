#!/usr/bin/env node
// Builds the native addon with node-gyp during `npm install` / `npm ci`, and from `npm run build` (--if-stale).
// It ALWAYS exits 0: a machine without a compiler must still install the workspace; the JS side then
// reports the addon as unavailable and callers fall back to another backend.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const packageDirectory = path.resolve(__dirname, '..');

function findNodeGyp() {
  const candidates = [];
  // npm ships node-gyp; npm_execpath points at npm-cli.js when run from an npm script.
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const nodePrefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(nodePrefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/share/nodejs/npm/node_modules/node-gyp/bin/node-gyp.js');
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package; the candidates above cover npm's bundled copy
  }
  return candidates.find((candidate) => fs.existsSync(candidate));
}

/** Leaves build/install-result.json, so that the package can tell "never ran" (scripts skipped) from "failed". */
function record(status, reason) {
  try {
    const directory = path.join(packageDirectory, 'build');
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(path.join(directory, 'install-result.json'), `${JSON.stringify({ status, reason, node: process.version })}\n`);
  } catch {
    // a read-only install directory: the load error then reads as "did not run"
  }
}

function warn(message) {
  console.warn(`[@longtail/backend-native] WARNING: ${message}`);
  console.warn('[@longtail/backend-native] The native backend will be unavailable; selectBackend() falls back to wasm/cpu.');
}

/** True when the compiled addon exists and is newer than every source it is built from. */
function addonIsCurrent() {
  const addon = path.join(packageDirectory, 'build', 'Release', 'longtail_native.node');
  if (!fs.existsSync(addon)) return false;
  const built = fs.statSync(addon).mtimeMs;
  const nativeDirectory = path.join(packageDirectory, 'src', 'native');
  const sources = [path.join(packageDirectory, 'binding.gyp'), ...fs.readdirSync(nativeDirectory).map((name) => path.join(nativeDirectory, name))];
  return sources.every((source) => fs.statSync(source).mtimeMs <= built);
}

function main() {
  if (process.env.LONGTAIL_SKIP_NATIVE_BUILD === '1') {
    console.log('[@longtail/backend-native] LONGTAIL_SKIP_NATIVE_BUILD=1: not building the addon.');
    record('skipped', 'LONGTAIL_SKIP_NATIVE_BUILD=1');
    return;
  }
  // `npm run build` passes --if-stale: compile only when the addon is missing or older than its sources
  // (after `git clean`, or after editing the C++), so a plain build never leaves a stale or absent addon.
  if (process.argv.includes('--if-stale') && addonIsCurrent()) return;
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) {
    warn('node-gyp was not found (it is normally bundled with npm).');
    record('failed', 'node-gyp was not found');
    return;
  }
  const argumentsList = [nodeGyp, 'rebuild', '--release'];
  // Use the system Node headers when present so nothing is downloaded (offline machines).
  const headerRoots = [path.resolve(path.dirname(process.execPath), '..'), '/usr'];
  const nodeDirectory = headerRoots.find((root) => fs.existsSync(path.join(root, 'include', 'node', 'node_api.h')));
  if (nodeDirectory) argumentsList.push(`--nodedir=${nodeDirectory}`);
  const jobs = process.env.JOBS ?? '2';
  argumentsList.push(`--jobs=${jobs}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, argumentsList, { cwd: packageDirectory, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    const reason = result.error ? result.error.message : `node-gyp exit code ${result.status}`;
    warn(`building the addon failed (${reason}); is a C++ compiler (g++, make) installed?`);
    record('failed', reason);
    return;
  }
  record('built');
  console.log(`[@longtail/backend-native] native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

try {
  main();
} catch (error) {
  const reason = `unexpected error while building the addon: ${error && error.message ? error.message : String(error)}`;
  warn(reason);
  record('failed', reason);
}
process.exit(0);
