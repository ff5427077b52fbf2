// Bundles the page's script (app.ts) with TensorFlow.js (core, layers, the cpu and webgl backends) and
// @longtail/backbones' custom layers into dist/app.js, one ES module that needs nothing from the network.
//   node examples/browser/build.mjs            (also `npm run build` in examples/, and `turbo run build`)
// @longtail/backbones must be built first (turbo does it: examples depends on @longtail/trainer, which depends on it).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const browserDirectory = path.dirname(fileURLToPath(import.meta.url));
export const bundleFile = path.join(browserDirectory, 'dist', 'app.js');

/** Writes dist/app.js (minified, with a source map); resolves to the bundle's path and size. */
export async function buildPage({ minify = true } = {}) {
  mkdirSync(path.dirname(bundleFile), { recursive: true });
  const result = await build({
    entryPoints: [path.join(browserDirectory, 'app.ts')],
    outfile: bundleFile,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify,
    sourcemap: true,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
    // A constant, so that no bundled package consults Node's `process` in the browser.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const bytes = result.metafile.outputs[path.relative(process.cwd(), bundleFile).split(path.sep).join('/')]?.bytes;
  return { file: bundleFile, bytes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { file, bytes } = await buildPage();
  console.log(`wrote ${path.relative(process.cwd(), file)}${bytes ? ` (${(bytes / 1024).toFixed(0)} KiB)` : ''}`);
}
