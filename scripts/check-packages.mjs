#!/usr/bin/env node
// Checks the conventions every publishable package must follow (docs/contributing.md, "Package manifests"): a README
// with a runnable example and absolute links, src/ and tests, an exports map with types for import and require (and
// typesVersions for subpaths, for node10 resolution), a files whitelist, the LICENSE, repository/homepage/bugs, the
// repository's engines.node, tfjs only as peer dependencies (imported as declared), internal ranges that are not "*",
// and a changeset mention.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rootManifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const license = readFileSync(path.join(root, 'LICENSE'), 'utf8');
const REPOSITORY = 'https://github.com/longtail-js/longtail';
const dependencyFields = ['dependencies', 'optionalDependencies', 'peerDependencies', 'devDependencies'];

/** Source files of a package (tests excluded), for the import rule. */
function sourceFiles(directory) {
  return readdirSync(directory, { recursive: true })
    .map(String)
    .filter((file) => /\.[cm]?[jt]s$/.test(file) && !/\.test\.[cm]?[jt]s$/.test(file))
    .map((file) => path.join(directory, file));
}
const problems = [];
const changesets = readdirSync(path.join(root, '.changeset'))
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .map((f) => readFileSync(path.join(root, '.changeset', f), 'utf8'))
  .join('\n');
const changelogOrChangeset = (dir, name) =>
  existsSync(path.join(dir, 'CHANGELOG.md')) || changesets.includes(`"${name}"`);

for (const entry of readdirSync(path.join(root, 'packages'))) {
  const dir = path.join(root, 'packages', entry);
  const manifestPath = path.join(dir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const name = manifest.name ?? entry;
  const say = (message) => problems.push(`${name}: ${message}`);
  if (!name.startsWith('@longtail/')) say('name must be in the @longtail scope');
  const readme = existsSync(path.join(dir, 'README.md')) ? readFileSync(path.join(dir, 'README.md'), 'utf8') : '';
  if (!readme) say('README.md is missing');
  else if (!/```(js|ts|javascript|typescript|sh)\n/.test(readme)) say('README.md has no code example');
  if (!existsSync(path.join(dir, 'src'))) say('src/ is missing');
  const hasTests =
    existsSync(path.join(dir, 'test')) ||
    readdirSync(path.join(dir, 'src'), { recursive: true }).some((f) => /\.test\.[cm]?[jt]s$/.test(String(f)));
  if (!hasTests) say('no tests (test/ or *.test.ts beside the code)');
  const dot = manifest.exports?.['.'];
  if (!dot) say('exports map has no "." entry');
  else {
    if (!dot.import?.types || !dot.import?.default) say('exports["."].import needs types and default');
    if (!dot.require?.types || !dot.require?.default) say('exports["."].require needs types and default');
  }
  if (!Array.isArray(manifest.files) || !manifest.files.includes('dist')) say('files whitelist must include dist');
  if (!('sideEffects' in manifest)) say('sideEffects must be declared (false where true)');
  for (const script of ['build', 'test', 'typecheck']) if (!manifest.scripts?.[script]) say(`scripts.${script} is missing`);
  if (!changelogOrChangeset(dir, name)) say('no changeset mentions it (run `npx changeset`)');
  if (manifest.private === true) continue;

  // Metadata the registry page and tools read.
  if (!existsSync(path.join(dir, 'LICENSE')) || readFileSync(path.join(dir, 'LICENSE'), 'utf8') !== license) {
    say('LICENSE must be a copy of the repository LICENSE (cp LICENSE packages/<name>/)');
  }
  if (!manifest.files?.includes('LICENSE')) say('files whitelist must include LICENSE');
  if (manifest.license !== rootManifest.license) say(`license must be ${rootManifest.license}`);
  const repository = manifest.repository ?? {};
  if (repository.type !== 'git' || repository.url !== `git+${REPOSITORY}.git` || repository.directory !== `packages/${entry}`) {
    say(`repository must be { "type": "git", "url": "git+${REPOSITORY}.git", "directory": "packages/${entry}" }`);
  }
  if (manifest.homepage !== `${REPOSITORY}/tree/main/packages/${entry}#readme`) say(`homepage must be ${REPOSITORY}/tree/main/packages/${entry}#readme`);
  if (manifest.bugs?.url !== `${REPOSITORY}/issues`) say(`bugs.url must be ${REPOSITORY}/issues`);
  if (manifest.engines?.node !== rootManifest.engines.node) say(`engines.node must be "${rootManifest.engines.node}" (the repository's)`);
  // The registry shows the README without the repository around it: links must be absolute.
  for (const [, target] of readme.matchAll(/\]\((?!https?:|#|mailto:)([^)\s]+)\)/g)) say(`README.md links to ${target}: use an absolute URL (${REPOSITORY}/blob/main/…)`);
  // Subpath exports need typesVersions for TypeScript's node10 resolution.
  for (const subpath of Object.keys(manifest.exports ?? {})) {
    if (subpath === '.' || subpath === './package.json') continue;
    const key = subpath.slice(2);
    if (!manifest.typesVersions?.['*']?.[key]) say(`exports["${subpath}"] needs typesVersions["*"]["${key}"] (node10 resolution)`);
  }

  // Dependencies: tfjs packages are peers (one copy, the application's), exact versions only in devDependencies;
  // internal ranges are ^0.x or exact, never "*" (changesets keeps "*" as it is).
  for (const field of dependencyFields) {
    for (const [dependency, range] of Object.entries(manifest[field] ?? {})) {
      if (dependency.startsWith('@longtail/') && !/^\^?\d+\.\d+\.\d+$/.test(range)) say(`${field}.${dependency} is "${range}": use ^0.x.y (or exact)`);
      if (dependency.startsWith('@tensorflow/') && (field === 'dependencies' || field === 'optionalDependencies')) {
        say(`${field}.${dependency}: tfjs packages must be peerDependencies (with the version in devDependencies)`);
      }
      if (dependency.startsWith('@tensorflow/') && field === 'peerDependencies' && !/^\^4\.\d+\.\d+$/.test(range)) {
        say(`peerDependencies.${dependency} is "${range}": use ^4.x.0 as wide as the consumer test proves`);
      }
    }
  }
  // A package imports (statically, not as a type) only the @tensorflow packages it declares as peers: libraries
  // import @tensorflow/tfjs-core (+ -layers), not the @tensorflow/tfjs umbrella, unless they declare it.
  const peers = new Set(Object.keys(manifest.peerDependencies ?? {}));
  if (existsSync(path.join(dir, 'src'))) {
    for (const file of sourceFiles(path.join(dir, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/^\s*import\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"](@tensorflow\/[^'"/]+)(?:\/[^'"]*)?['"]/gm)) {
        if (!peers.has(specifier)) say(`${path.relative(root, file)} imports ${specifier}, which is not a peer dependency`);
      }
    }
  }

  // One relative-import style across the packages: with the extension of the emitted file ('./x.js'), which both
  // bundler and node16 resolution accept.
  for (const top of ['src', 'test']) {
    if (!existsSync(path.join(dir, top))) continue;
    for (const file of sourceFiles(path.join(dir, top))) {
      const text = readFileSync(file, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:\sfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm)) {
        if (!/\.(?:[cm]?js|json|node)$/.test(specifier)) say(`${path.relative(root, file)} imports '${specifier}': write '${specifier}.js' (one relative-import style)`);
      }
    }
  }

  const docsPage = path.join(root, 'docs', `${entry}.md`);
  if (!existsSync(docsPage)) say(`docs/${entry}.md is missing`);
}

if (problems.length > 0) {
  console.error(`package conventions: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('package conventions: all packages pass');
