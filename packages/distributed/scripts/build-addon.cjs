#!/usr/bin/env node
// Builds the MPI addon with node-gyp during `npm install` / `npm ci`, and from `npm run build` (--if-stale).
// It ALWAYS exits 0: a machine without MPI (or without a compiler) must still install; the package then loads and
// every MPI entry point throws an error saying how to get MPI. A single process without a launcher never needs it.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const packageDirectory = path.resolve(__dirname, '..');
const addonFile = path.join(packageDirectory, 'build', 'Release', 'longtail_mpi.node');
const installHint =
  'install MPI and rebuild: Debian/Ubuntu `apt-get install openmpi-bin libopenmpi-dev` (or `mpich libmpich-dev`), ' +
  'Fedora/RHEL `dnf install openmpi-devel` (then `module load mpi/openmpi-x86_64`), macOS `brew install open-mpi`, ' +
  'then `npm rebuild @longtail/distributed`';

function findNodeGyp() {
  const candidates = [];
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
    // not installed as a package; npm's bundled copy is among the candidates above
  }
  return candidates.find((candidate) => fs.existsSync(candidate));
}

function warn(message) {
  console.warn(`[@longtail/distributed] WARNING: ${message}`);
  console.warn('[@longtail/distributed] Multi-process training is unavailable until then; a single process (no launcher) still works.');
}

/** True when the compiled addon exists and is newer than every source it is built from. */
function addonIsCurrent() {
  if (!fs.existsSync(addonFile)) return false;
  const built = fs.statSync(addonFile).mtimeMs;
  const nativeDirectory = path.join(packageDirectory, 'src', 'native');
  const sources = [path.join(packageDirectory, 'binding.gyp'), ...fs.readdirSync(nativeDirectory).map((name) => path.join(nativeDirectory, name))];
  return sources.every((source) => fs.statSync(source).mtimeMs <= built);
}

function main() {
  if (process.env.LONGTAIL_SKIP_NATIVE_BUILD === '1') {
    console.log('[@longtail/distributed] LONGTAIL_SKIP_NATIVE_BUILD=1: not building the MPI addon.');
    return;
  }
  if (process.argv.includes('--if-stale') && addonIsCurrent()) return;
  const { findMpi } = require('./mpi-flags.cjs');
  const mpi = findMpi();
  if (!mpi) {
    warn(`no MPI development files were found (no \`mpicc\`, no pkg-config ompi/mpich); ${installHint}.`);
    return;
  }
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) {
    warn('node-gyp was not found (it is normally bundled with npm).');
    return;
  }
  const argumentsList = [nodeGyp, 'rebuild', '--release'];
  const headerRoots = [path.resolve(path.dirname(process.execPath), '..'), '/usr'];
  const nodeDirectory = headerRoots.find((root) => fs.existsSync(path.join(root, 'include', 'node', 'node_api.h')));
  if (nodeDirectory) argumentsList.push(`--nodedir=${nodeDirectory}`);
  argumentsList.push(`--jobs=${process.env.JOBS ?? '2'}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, argumentsList, { cwd: packageDirectory, stdio: 'inherit' });
  if (result.error || result.status !== 0) {
    warn(
      `building the MPI addon against ${mpi.source} failed (${result.error ? result.error.message : `node-gyp exit code ${result.status}`}); ` +
        'is a C++ compiler (g++, make) installed?',
    );
    return;
  }
  console.log(`[@longtail/distributed] MPI addon built against ${mpi.source} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

try {
  main();
} catch (error) {
  warn(`unexpected error while building the MPI addon: ${error && error.message ? error.message : String(error)}`);
}
process.exit(0);
