#!/usr/bin/env node
// Checks the conventions every publishable package must follow (DEVELOPERS.md): a README with a runnable example,
// src/ and tests, an exports map with types for import and require, a files whitelist, and a changeset mention.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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
  const docsPage = path.join(root, 'docs', `${entry}.md`);
  if (!existsSync(docsPage)) say(`docs/${entry}.md is missing`);
}

if (problems.length > 0) {
  console.error(`package conventions: ${problems.length} problem(s)\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('package conventions: all packages pass');
