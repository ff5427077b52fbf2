// Puts a trained run's network into model/, the directory the page loads: `longtail export --format tfjs` into
// model/ (model.json + weight shards, with the metadata the page reads), the run's results.json beside it, and
// SHA256SUMS (sha256sum format) over all of them, which the browser test verifies.
//   npm run build --workspace @longtail/trainer       (the export needs the built trainer)
//   node examples/browser/make-model.mjs <run-directory> [--checkpoint best|last|<file>]
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const modelDirectory = path.join(path.dirname(fileURLToPath(import.meta.url)), 'model');
const [run, ...rest] = process.argv.slice(2);
if (!run || run.startsWith('--')) {
  console.error('usage: node examples/browser/make-model.mjs <run-directory> [--checkpoint best|last|<file>]');
  process.exit(2);
}
const checkpointIndex = rest.indexOf('--checkpoint');
const checkpoint = checkpointIndex >= 0 ? rest[checkpointIndex + 1] : 'best';
const resultsFile = path.resolve(run, 'results.json');
if (!existsSync(resultsFile)) {
  console.error(`make-model: ${resultsFile} does not exist: ship a finished run`);
  process.exit(2);
}

const { exportRun } = await import('@longtail/trainer');
for (const stale of ['SHA256SUMS', 'results.json']) rmSync(path.join(modelDirectory, stale), { force: true });
const exported = await exportRun({ run: path.resolve(run), format: 'tfjs', out: modelDirectory, checkpoint });
copyFileSync(resultsFile, path.join(modelDirectory, 'results.json'));
const files = [...exported.files, path.join(modelDirectory, 'results.json')];
const sums = files.map((file) => `${createHash('sha256').update(readFileSync(file)).digest('hex')}  ${path.basename(file)}`);
writeFileSync(path.join(modelDirectory, 'SHA256SUMS'), `${sums.join('\n')}\n`);

const { metadata } = exported;
const shown = (value) => (value === null || value === undefined ? 'n/a' : `${(100 * value).toFixed(1)}%`);
console.log(`exported ${path.relative(process.cwd(), exported.checkpointFile)} (sha256 ${metadata.checkpoint.sha256}) into ${path.relative(process.cwd(), modelDirectory)}/:`);
for (const line of sums) console.log(`  ${line}`);
if (metadata.results) {
  const r = metadata.results;
  console.log(`results: top-1 ${shown(r.top1)}, top-5 ${shown(r.top5)}, many ${shown(r.many)}, medium ${shown(r.medium)}, few ${shown(r.few)}, ECE ${shown(r.ece)} (${r.numSamples} test images)`);
}
