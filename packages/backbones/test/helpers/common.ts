import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';

const testDirectory = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const fixturesDirectory = path.join(testDirectory, 'fixtures');
export const repositoryRoot = path.resolve(testDirectory, '../../..');
/** `/work/shared`-style reference material, read at run time, never copied into the repository. */
export const sharedDirectory = process.env.LONGTAIL_SHARED ?? path.resolve(repositoryRoot, '../shared');
export const sharedAvailable = existsSync(path.join(sharedDirectory, 'golden'));

export function readFixture<T = any>(name: string): T {
  return JSON.parse(readFileSync(path.join(fixturesDirectory, name), 'utf8')) as T;
}

/** A gzip'd fixture (the safetensors files written by scripts/make_fixtures.py), decompressed. */
export function readGzipFixture(name: string): Uint8Array {
  return new Uint8Array(gunzipSync(readFileSync(path.join(fixturesDirectory, name))));
}

/** max |actual − expected| / max |expected|: error relative to the output's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let maximumDifference = 0;
  let maximumMagnitude = 0;
  for (let i = 0; i < expected.length; i++) {
    maximumDifference = Math.max(maximumDifference, Math.abs(actual[i] - expected[i]));
    maximumMagnitude = Math.max(maximumMagnitude, Math.abs(expected[i]));
  }
  return maximumDifference / maximumMagnitude;
}

export function expectRelativelyClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4): void {
  const error = relativeError(actual, expected);
  expect(Number.isFinite(error)).toBe(true);
  expect(error).toBeLessThanOrEqual(tolerance);
}

export function expectElementwiseClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  absolute: number,
  relative = 0,
): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const allowed = absolute + relative * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= allowed)) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (allowed ±${allowed})`);
    }
  }
}
