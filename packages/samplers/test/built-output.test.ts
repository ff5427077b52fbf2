import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = existsSync(path.join(packageDir, 'dist/index.js'));

// The package as a user gets it: resolved by name through its exports map, ESM and CommonJS.
describe.skipIf(!built)('built package (run `npm run build` first)', () => {
  const exportsList = ['balancedWeights', 'effectiveNumberWeights', 'classBasedEffectiveNumberWeights', 'normalizeWeights', 'WeightedClassSampler', 'ClassAwareSampler', 'ShuffleSampler', 'createSampler', 'classCounts', 'SeededRandom'];

  it('imports as ESM through the exports map', async () => {
    const mod = await import('@longtail/samplers');
    for (const name of exportsList) expect(typeof (mod as Record<string, unknown>)[name]).toBe('function');
    expect(mod.balancedWeights([4, 2])).toEqual([0.25, 0.5]);
  });

  it('requires as CommonJS through the exports map, with type declarations beside it', () => {
    const require = createRequire(path.join(packageDir, 'package.json'));
    const mod = require('@longtail/samplers');
    for (const name of exportsList) expect(typeof mod[name]).toBe('function');
    const manifest = require('@longtail/samplers/package.json');
    expect(existsSync(path.join(packageDir, manifest.exports['.'].import.types))).toBe(true);
    expect(existsSync(path.join(packageDir, manifest.exports['.'].require.types))).toBe(true);
  });
});
