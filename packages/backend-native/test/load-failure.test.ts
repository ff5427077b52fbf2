import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { isNativeAvailable, loadNativeAddon, registerNativeBackend, resetNativeAddonCache } from '../src/index.js';

// Runs in its own vitest worker, so the addon of the other test files is unaffected.
describe('a missing or broken addon', () => {
  const saved = process.env.LONGTAIL_NATIVE_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.LONGTAIL_NATIVE_ADDON;
    else process.env.LONGTAIL_NATIVE_ADDON = saved;
    resetNativeAddonCache();
  });

  it('reports a missing file with its path and how to rebuild, without crashing', () => {
    process.env.LONGTAIL_NATIVE_ADDON = '/nonexistent/longtail_native.node';
    resetNativeAddonCache();
    expect(isNativeAvailable()).toBe(false);
    expect(() => registerNativeBackend()).toThrow(/\/nonexistent\/longtail_native\.node.*does not exist.*npm rebuild/s);
    expect(tf.findBackendFactory('native')).toBeFalsy();
  });

  it('reports a file that fails to load (not a shared object)', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'longtail-native-'));
    const broken = path.join(directory, 'longtail_native.node');
    writeFileSync(broken, 'not an ELF file');
    process.env.LONGTAIL_NATIVE_ADDON = broken;
    resetNativeAddonCache();
    expect(isNativeAvailable()).toBe(false);
    expect(() => loadNativeAddon()).toThrow(/cannot load the native addon/);
  });

  it('loads again once the real addon is back', () => {
    resetNativeAddonCache();
    expect(isNativeAvailable()).toBe(true);
    expect(registerNativeBackend().name).toBe('native');
  });
});
