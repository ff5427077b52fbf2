#!/usr/bin/env node
// The packages as a user gets them from npm. Packs every publishable package, installs the tarballs into fresh
// projects outside the repository, and checks what a user would hit first:
//   - publint and `attw` (are-the-types-wrong: node10, node16 ESM/CJS, bundler) on every tarball;
//   - consumer A (a new project, tfjs pulled in as a peer): ESM and CJS imports of every package, TypeScript with
//     node16 and bundler resolution, a GCL loss value against an independent float64 computation, `npx longtail
//     --help`, a short `longtail train` on the native addon built by its install script, exactly one copy of every
//     @tensorflow package, and the size of a browser bundle of gcl-loss + samplers on tfjs-core alone;
//   - consumer B (a project that already has an older tfjs 4.x, the lower bound of the peer ranges, installed with
//     --ignore-scripts as pnpm ≥ 10 does by default): the same one-copy check at that version, imports, the loss value,
//     the native backend's message that the install script was skipped, `longtail train` of a ResNet on the native
//     backend (consumer A's addon) and on cpu, and the wasm backend's trainable kernels against cpu gradients.
// Needs the packages built (`npx turbo run build`) and the npm registry. Usage: node scripts/consumer-test.mjs [--keep]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The older tfjs 4.x consumer B starts from: the lower bound of the packages' peer ranges (`^4.x.0`). */
const OLDER_TFJS = '4.0.0';
/** The bound on the browser bundle of gcl-loss + samplers + tfjs-core (the umbrella import made it ~970 kB). */
const BUNDLE_LIMIT_BYTES = 450_000;
const keep = process.argv.includes('--keep');
const started = Date.now();
const failures = [];

function log(message) {
  console.log(`[consumer-test ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: options.timeout ?? 300_000,
    ...options,
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...options.env },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}\n${output}`);
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', output };
}

function check(name, condition, detail = '') {
  if (condition) log(`ok   ${name}`);
  else {
    log(`FAIL ${name}${detail ? `\n${detail}` : ''}`);
    failures.push(name);
  }
}

function mustRun(name, command, args, options) {
  const result = run(command, args, options);
  check(name, result.status === 0, result.output.slice(-4000));
  return result;
}

// --- pack -----------------------------------------------------------------------------------------------------

const packages = readdirSync(path.join(root, 'packages'))
  .map((entry) => path.join(root, 'packages', entry))
  .filter((directory) => existsSync(path.join(directory, 'package.json')))
  .map((directory) => ({ directory, manifest: JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => manifest.private !== true);
for (const { directory, manifest } of packages) {
  if (!existsSync(path.join(directory, 'dist'))) throw new Error(`${manifest.name} is not built: run npx turbo run build first`);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'longtail-consumer-'));
if (path.relative(root, work).split(path.sep)[0] !== '..') throw new Error(`${work} is inside the repository`);
const tarballDirectory = path.join(work, 'tarballs');
mkdirSync(tarballDirectory);
const tarballs = [];
for (const { directory, manifest } of packages) {
  const packed = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballDirectory], { cwd: directory });
  if (packed.status !== 0) throw new Error(`npm pack failed for ${manifest.name}\n${packed.output}`);
  const [report] = JSON.parse(packed.stdout);
  const files = new Set(report.files.map((file) => file.path));
  check(`${manifest.name}: tarball has LICENSE and README.md`, files.has('LICENSE') && files.has('README.md'));
  tarballs.push({ name: manifest.name, file: path.join(tarballDirectory, report.filename) });
}
log(`packed ${tarballs.length} packages into ${tarballDirectory}`);

// One build per package: no source module emitted into two ESM files (two tsup builds into one dist/ each wrote
// their own chunks of the shared modules; one build shares them through chunks).
for (const { directory, manifest } of packages) {
  const dist = path.join(directory, 'dist');
  const duplicated = [];
  for (const extension of ['.js.map']) {
    const owners = new Map();
    for (const file of readdirSync(dist).filter((name) => name.endsWith(extension))) {
      for (const source of JSON.parse(readFileSync(path.join(dist, file), 'utf8')).sources ?? []) {
        owners.set(source, [...(owners.get(source) ?? []), file]);
      }
    }
    for (const [source, files] of owners) if (files.length > 1) duplicated.push(`${source} in ${files.join(', ')}`);
  }
  check(`${manifest.name}: no module bundled twice in dist/`, duplicated.length === 0, duplicated.join('\n'));
}

// --- publint and attw on every tarball ------------------------------------------------------------------------

const bin = (name) => path.join(root, 'node_modules', '.bin', name);
for (const { name, file } of tarballs) {
  const directory = packages.find(({ manifest }) => manifest.name === name).directory;
  mustRun(`${name}: publint --strict`, bin('publint'), ['--strict', directory]);
  // attw on the tarball npm pack made (what `attw --pack` does): every entry point under node10, node16 (ESM and
  // CJS) and bundler resolution.
  mustRun(`${name}: attw`, bin('attw'), [file, '--format', 'table-flipped']);
}

// --- helpers for the consumers --------------------------------------------------------------------------------

function makeProject(name, extra = {}) {
  const directory = path.join(work, name);
  mkdirSync(directory);
  writeFileSync(
    path.join(directory, 'package.json'),
    `${JSON.stringify({ name, version: '1.0.0', private: true, allowScripts: { '@longtail/backend-native': true, sharp: true }, ...extra }, null, 2)}\n`,
  );
  return directory;
}

/** Every installed copy of the @tensorflow packages, by name: `npm query` lists nodes by location. */
function tensorflowCopies(directory) {
  const query = run('npm', ['query', '[name^=@tensorflow/]'], { cwd: directory });
  if (query.status !== 0) throw new Error(`npm query failed\n${query.output}`);
  const copies = new Map();
  for (const node of JSON.parse(query.stdout)) {
    copies.set(node.name, [...(copies.get(node.name) ?? []), `${node.version} at ${node.location}`]);
  }
  return copies;
}

function checkOneCopy(label, directory, expectedCoreVersion) {
  const copies = tensorflowCopies(directory);
  const duplicated = [...copies].filter(([, where]) => where.length > 1);
  check(`${label}: exactly one copy of every @tensorflow package`, duplicated.length === 0, JSON.stringify(duplicated, null, 2));
  const core = copies.get('@tensorflow/tfjs-core') ?? [];
  check(`${label}: @tensorflow/tfjs-core ${expectedCoreVersion}`, core.length === 1 && core[0].startsWith(`${expectedCoreVersion} `), core.join(', '));
  const ls = run('npm', ['ls', '@tensorflow/tfjs-core', '--all', '--parseable'], { cwd: directory });
  const locations = new Set(ls.stdout.split('\n').filter(Boolean));
  check(`${label}: npm ls @tensorflow/tfjs-core shows one copy and no problems`, ls.status === 0 && locations.size === 1, ls.output);
}

// The GCL loss (cosine form, stage-1 defaults m 0, s 30, noiseMul 0.5) in float64, written from the formula in
// docs/gcl-loss.md: z = cos − noiseMul·|ε|·δ_j/max δ, δ_j = log max n − log n_j; mean cross-entropy of s·z.
const lossCase = {
  clsNumList: [500, 120, 30, 8],
  cosine: [
    [0.9, -0.2, 0.1, 0.05],
    [0.1, 0.3, -0.4, 0.2],
    [-0.3, 0.2, 0.6, -0.1],
  ],
  noise: [
    [0.2, -0.5, 0.9, -0.1],
    [-0.3, 0.4, 0.05, 0.7],
    [0.6, -0.8, 0.3, 0.25],
  ],
  labels: [0, 1, 3],
};
function referenceGclLoss({ clsNumList, cosine, noise, labels }) {
  const maxCount = Math.max(...clsNumList);
  const delta = clsNumList.map((count) => Math.log(maxCount) - Math.log(count));
  const maxDelta = Math.max(...delta);
  let total = 0;
  cosine.forEach((row, i) => {
    const logits = row.map((c, j) => 30 * (c - 0.5 * Math.abs(noise[i][j]) * (delta[j] / maxDelta)));
    const top = Math.max(...logits);
    const logSumExp = top + Math.log(logits.reduce((sum, value) => sum + Math.exp(value - top), 0));
    total += logSumExp - logits[labels[i]];
  });
  return total / cosine.length;
}
const expectedLoss = referenceGclLoss(lossCase);

const lossProgram = (importLines) => `${importLines}
const c = ${JSON.stringify(lossCase)};
const value = gclLoss(tf.tensor2d(c.cosine), tf.tensor1d(c.labels, 'int32'), tf.tensor2d(c.noise), { clsNumList: c.clsNumList }).dataSync()[0];
console.log(JSON.stringify({ loss: value, tfjsCore: tf.version_core, backend: tf.getBackend() }));
`;

function checkLoss(label, directory, file) {
  const result = run(process.execPath, [file], { cwd: directory });
  let parsed;
  try {
    parsed = JSON.parse(result.stdout.trim().split('\n').at(-1));
  } catch {
    parsed = undefined;
  }
  const ok = result.status === 0 && parsed !== undefined && Math.abs(parsed.loss - expectedLoss) <= 1e-4 * Math.abs(expectedLoss);
  check(`${label}: GCL loss ${parsed?.loss} = float64 reference ${expectedLoss.toFixed(6)} (tfjs-core ${parsed?.tfjsCore})`, ok, result.output);
  return parsed;
}

const allNames = tarballs.map(({ name }) => name);

// ESM: every package and subpath export, with a use of each.
const esmProgram = `
${allNames.map((name, index) => `import * as p${index} from '${name}';`).join('\n')}
import { loadCheckpoint } from '@longtail/trainer/checkpoint';
import * as tf from '@tensorflow/tfjs';
const modules = { ${allNames.map((name, index) => `'${name}': p${index}`).join(', ')} };
for (const [name, module] of Object.entries(modules)) if (Object.keys(module).length === 0) throw new Error(name + ' exports nothing');
if (typeof loadCheckpoint !== 'function') throw new Error('@longtail/trainer/checkpoint: no loadCheckpoint');
const { resnet32 } = await import('@longtail/backbones');
const model = resnet32({ numClasses: 10 });
const out = model.predict(tf.zeros([1, 32, 32, 3]));
if (out.shape.join() !== '1,10') throw new Error('resnet32 output shape ' + out.shape);
const { balancedWeights } = await import('@longtail/samplers');
console.log(JSON.stringify({ weights: Array.from(balancedWeights([10, 1])), backend: tf.getBackend() }));
`;

const cjsProgram = `
${allNames.map((name) => `require('${name}');`).join('\n')}
const { loadCheckpoint } = require('@longtail/trainer/checkpoint');
if (typeof loadCheckpoint !== 'function') throw new Error('@longtail/trainer/checkpoint: no loadCheckpoint (CJS)');
`;

const tsProgram = `
import * as tf from '@tensorflow/tfjs-core';
import { gclLoss, GCLLoss } from '@longtail/gcl-loss';
import { createSampler } from '@longtail/samplers';
import { resnet32 } from '@longtail/backbones';
import { selectBackend, type BackendSelection } from '@longtail/backend';
import { isNativeAvailable } from '@longtail/backend-native';
import { resolveConfig } from '@longtail/trainer';
import { loadCheckpoint } from '@longtail/trainer/checkpoint';
${allNames.filter((name) => !['@longtail/gcl-loss', '@longtail/samplers', '@longtail/backbones', '@longtail/backend', '@longtail/backend-native', '@longtail/trainer'].includes(name)).map((name, index) => `import * as other${index} from '${name}';\nvoid other${index};`).join('\n')}
const loss: tf.Scalar = gclLoss(tf.zeros([2, 3]), tf.tensor1d([0, 1], 'int32'), tf.zeros([2, 3]), { clsNumList: [3, 2, 1] });
// Wrong uses must not compile: these fail if a package's types resolved to \`any\`.
// @ts-expect-error clsNumList is a number[]
new GCLLoss({ clsNumList: 'many' });
// @ts-expect-error no such backend
const pending: Promise<BackendSelection> = selectBackend({ prefer: 'tpu' });
// @ts-expect-error numClasses is a number
resnet32({ numClasses: '10' });
const model = resnet32({ numClasses: 10 });
const variables: tf.Variable[] = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
// @ts-expect-error a LayersModel has no such member (this fails when the model's type resolved to any)
void model.noSuchMember;
void variables;
// @ts-expect-error isNativeAvailable takes no argument and returns a boolean
const native: string = isNativeAvailable(1);
// @ts-expect-error loadCheckpoint needs a path
void loadCheckpoint();
void createSampler;
void resolveConfig;
void loss;
void pending;
void native;
export {};
`;

function checkTypeScript(label, directory) {
  const typescript = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [mode, compilerOptions, file] of [
    ['node16', { module: 'node16', moduleResolution: 'node16' }, 'check-node16.mts'],
    ['node16 CJS', { module: 'node16', moduleResolution: 'node16' }, 'check-node16.cts'],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, 'check-bundler.ts'],
  ]) {
    const source = file.endsWith('.cts') ? tsProgram.replace(/^import \{ loadCheckpoint \}.*$/m, "import { loadCheckpoint } from '@longtail/trainer/checkpoint';") : tsProgram;
    writeFileSync(path.join(directory, file), source);
    const config = `tsconfig.${mode.replace(' ', '-')}.json`;
    writeFileSync(
      path.join(directory, config),
      JSON.stringify({
        compilerOptions: { target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['es2022', 'dom'], ...compilerOptions },
        files: [file],
      }),
    );
    mustRun(`${label}: TypeScript (${mode} resolution) type-checks, and wrong uses fail`, process.execPath, [typescript, '-p', config], { cwd: directory });
  }
}

function checkCli(label, directory, backend, { env = {}, backbone = 'tiny', help = true } = {}) {
  if (help) {
    const usage = run('npx', ['--no-install', 'longtail', '--help'], { cwd: directory });
    check(`${label}: npx longtail --help`, usage.status === 0 && /train/.test(usage.stdout), usage.output);
  }
  const runDirectory = path.join(directory, 'runs', `${backbone}-${backend}`);
  const started = Date.now();
  const train = run(
    'npx',
    ['--no-install', 'longtail', 'train', '--data.dataset', 'synthetic', '--data.inputSize', '8', '--model.backbone', backbone, '--stage1.epochs', '2', '--stage2.epochs', '1',
      '--stage1.schedule.milestones', '1', '--stage1.schedule.warmupEpochs', '0', '--backend', backend, '--outputDir', runDirectory],
    { cwd: directory, env, timeout: 240_000 },
  );
  const results = path.join(runDirectory, 'results.json');
  check(
    `${label}: longtail train (synthetic, ${backbone}, --backend ${backend}) in ${((Date.now() - started) / 1000).toFixed(1)} s writes results.json`,
    train.status === 0 && existsSync(results) && new RegExp(`backend: ${backend}\\b`).test(train.output),
    train.output.slice(-4000),
  );
}

// --- consumer A: a new project ----------------------------------------------------------------------------------

const projectA = makeProject('consumer-a');
let timer = Date.now();
mustRun('consumer A: npm install of every tarball (tfjs as a peer, the native addon compiled at install)', 'npm', ['install', ...tarballs.map(({ file }) => file)], {
  cwd: projectA,
  timeout: 600_000,
});
log(`consumer A: installed in ${((Date.now() - timer) / 1000).toFixed(0)} s`);
mustRun('consumer A: npm install -D typescript @types/node', 'npm', ['install', '-D', 'typescript@~5.9.3', '@types/node@^20.19.0', 'esbuild@^0.27.7'], { cwd: projectA });
checkOneCopy('consumer A', projectA, JSON.parse(readFileSync(path.join(projectA, 'node_modules', '@tensorflow', 'tfjs', 'package.json'), 'utf8')).version);

writeFileSync(path.join(projectA, 'imports.mjs'), esmProgram);
mustRun('consumer A: ESM import of every package (and @longtail/trainer/checkpoint), resnet32 forward', process.execPath, ['imports.mjs'], { cwd: projectA });
writeFileSync(path.join(projectA, 'imports.cjs'), cjsProgram);
mustRun('consumer A: CJS require of every package (and @longtail/trainer/checkpoint)', process.execPath, ['imports.cjs'], { cwd: projectA });
// tfjs-core alone plus the cpu backend: what a browser or a lean Node app imports, and no gradients needed.
writeFileSync(path.join(projectA, 'loss.mjs'), lossProgram("import * as tf from '@tensorflow/tfjs-core';\nimport '@tensorflow/tfjs-backend-cpu';\nimport { gclLoss } from '@longtail/gcl-loss';"));
checkLoss('consumer A (ESM, tfjs-core)', projectA, 'loss.mjs');
writeFileSync(path.join(projectA, 'loss.cjs'), lossProgram("const tf = require('@tensorflow/tfjs');\nconst { gclLoss } = require('@longtail/gcl-loss');"));
checkLoss('consumer A (CJS, tfjs)', projectA, 'loss.cjs');
checkTypeScript('consumer A', projectA);
checkCli('consumer A', projectA, 'native');
const builtAddon = path.join(projectA, 'node_modules', '@longtail', 'backend-native', 'build', 'Release', 'longtail_native.node');

// The browser bundle: gcl-loss + samplers on tfjs-core alone (no layers, converter, data or webgl).
writeFileSync(
  path.join(projectA, 'bundle-entry.js'),
  `import * as tf from '@tensorflow/tfjs-core';
import { GCLLoss } from '@longtail/gcl-loss';
import { classBasedEffectiveNumberWeights, createSampler } from '@longtail/samplers';
const clsNumList = [50, 20, 5];
const loss = new GCLLoss({ clsNumList, seed: 0 });
globalThis.longtail = { tf, loss, weights: classBasedEffectiveNumberWeights, createSampler };
`,
);
const esbuild = await import(path.join(projectA, 'node_modules', 'esbuild', 'lib', 'main.js'));
const bundle = await esbuild.build({
  absWorkingDir: projectA,
  entryPoints: ['bundle-entry.js'],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  metafile: true,
  logLevel: 'silent',
});
const bundleBytes = bundle.outputFiles[0].contents.length;
const gzipBytes = gzipSync(bundle.outputFiles[0].contents).length;
const bundledPackages = new Set(Object.keys(bundle.metafile.inputs).map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1]).filter(Boolean));
check(
  `browser bundle of gcl-loss + samplers + tfjs-core: ${(bundleBytes / 1000).toFixed(0)} kB minified, ${(gzipBytes / 1000).toFixed(0)} kB gzip ` +
    `(limit ${BUNDLE_LIMIT_BYTES / 1000} kB; packages: ${[...bundledPackages].sort().join(', ')})`,
  bundleBytes <= BUNDLE_LIMIT_BYTES && ![...bundledPackages].some((name) => /tfjs-(layers|converter|data|backend-webgl)|^@tensorflow\/tfjs$/.test(name)),
);

// --- consumer B: a project that already has an older tfjs 4.x ----------------------------------------------------

const projectB = makeProject('consumer-b');
mustRun(`consumer B: npm install @tensorflow/tfjs@${OLDER_TFJS}`, 'npm', ['install', `@tensorflow/tfjs@${OLDER_TFJS}`], { cwd: projectB });
timer = Date.now();
mustRun('consumer B: npm install --ignore-scripts of every tarball', 'npm', ['install', '--ignore-scripts', ...tarballs.map(({ file }) => file)], { cwd: projectB, timeout: 600_000 });
log(`consumer B: installed in ${((Date.now() - timer) / 1000).toFixed(0)} s`);
checkOneCopy('consumer B', projectB, OLDER_TFJS);
writeFileSync(path.join(projectB, 'imports.mjs'), esmProgram);
mustRun(`consumer B: ESM import of every package on tfjs ${OLDER_TFJS}, resnet32 forward`, process.execPath, ['imports.mjs'], { cwd: projectB });
writeFileSync(path.join(projectB, 'loss.mjs'), lossProgram("import * as tf from '@tensorflow/tfjs';\nimport { gclLoss } from '@longtail/gcl-loss';"));
checkLoss(`consumer B (tfjs ${OLDER_TFJS})`, projectB, 'loss.mjs');
writeFileSync(
  path.join(projectB, 'native.mjs'),
  `import '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
const selection = await selectBackend({ quiet: true });
console.log(JSON.stringify(selection));
`,
);
const selection = run(process.execPath, ['native.mjs'], { cwd: projectB });
const native = (() => {
  try {
    return JSON.parse(selection.stdout.trim().split('\n').at(-1)).tried.find((attempt) => attempt.name === 'native');
  } catch {
    return undefined;
  }
})();
check(
  'consumer B: with install scripts skipped, the native backend says so and how to build it',
  native?.ok === false && /install script of @longtail\/backend-native did not run/.test(native.error ?? '') && /npm rebuild @longtail\/backend-native/.test(native.error ?? ''),
  selection.output,
);
// The addon itself does not depend on the tfjs version: consumer A's build, on this project's older tfjs.
checkCli('consumer B', projectB, 'native', { env: { LONGTAIL_NATIVE_ADDON: builtAddon }, backbone: 'resnet20' });
checkCli('consumer B', projectB, 'cpu', { help: false });
// The wasm backend (not a declared peer: installed at the project's version) and its trainable kernels.
mustRun(`consumer B: npm install @tensorflow/tfjs-backend-wasm@${OLDER_TFJS}`, 'npm', ['install', '--ignore-scripts', `@tensorflow/tfjs-backend-wasm@${OLDER_TFJS}`], { cwd: projectB });
checkOneCopy('consumer B with tfjs-backend-wasm', projectB, OLDER_TFJS);
writeFileSync(
  path.join(projectB, 'wasm.mjs'),
  `import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
const f = (input, weights) => tf.sum(tf.square(tf.conv2d(input, weights, 2, 'same')));
const xValues = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1).arraySync();
const filterValues = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2).arraySync();
const gradients = () => tf.grads(f)([tf.tensor(xValues), tf.tensor(filterValues)]).map((t) => t.dataSync());
const cpu = gradients();
const selection = await selectBackend({ prefer: 'wasm', quiet: true });
const wasm = gradients();
let worst = 0;
cpu.forEach((values, i) => values.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - wasm[i][j]) / (1 + Math.abs(v))); }));
console.log(JSON.stringify({ backend: selection.backend, worst, filterKernel: tf.getKernel('Conv2DBackpropFilter', 'wasm') != null }));
`,
);
const wasm = run(process.execPath, ['wasm.mjs'], { cwd: projectB });
const wasmResult = (() => {
  try {
    return JSON.parse(wasm.stdout.trim().split('\n').at(-1));
  } catch {
    return undefined;
  }
})();
check(
  `consumer B: wasm conv2d gradients on tfjs ${OLDER_TFJS} = cpu (worst relative difference ${wasmResult?.worst})`,
  wasm.status === 0 && wasmResult?.backend === 'wasm' && wasmResult.filterKernel && wasmResult.worst < 1e-4,
  wasm.output,
);

// --- done -------------------------------------------------------------------------------------------------------

const seconds = ((Date.now() - started) / 1000).toFixed(0);
if (!keep) rmSync(work, { recursive: true, force: true });
else log(`kept ${work}`);
if (failures.length > 0) {
  console.error(`consumer test: ${failures.length} check(s) failed in ${seconds} s:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
log(`consumer test: all checks passed in ${seconds} s`);
