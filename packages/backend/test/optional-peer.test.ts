import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { summarizeAttempts } from '../src/index.js';
import { explainMissingPeer } from '../src/optional-peer.js';

describe('optional backends that are not installed', () => {
  it('say how to install a missing tfjs package at the version of the installed tfjs-core', () => {
    const original = new Error("Cannot find package '@tensorflow/tfjs-backend-wasm' imported from /app/node_modules/@longtail/backend/dist/index.js");
    const explained = explainMissingPeer('@tensorflow/tfjs-backend-wasm', 'the tfjs WebAssembly backend', original) as Error;
    expect(explained).not.toBe(original);
    expect(explained.message).toMatch(/^Cannot find package '@tensorflow\/tfjs-backend-wasm' \(the tfjs WebAssembly backend/);
    expect(explained.message).toContain(`npm install @tensorflow/tfjs-backend-wasm@${tf.version_core}`);
    expect(explained.cause).toBe(original);
    // selectBackend keeps the first 200 characters of a reason: the command must be among them.
    expect(explained.message.indexOf('npm install')).toBeLessThan(200 - 40);
    const plain = explainMissingPeer('webgpu', "Dawn's Node bindings", new Error("Cannot find package 'webgpu' imported from /x.js")) as Error;
    expect(plain.message).toContain('npm install webgpu');
    expect(plain.message).not.toContain('webgpu@');
  });

  it('leave other errors alone: a dependency of the package missing, or a package that fails to load', () => {
    const transitive = new Error("Cannot find package 'long' imported from /app/node_modules/@tensorflow/tfjs-node/dist/index.js");
    expect(explainMissingPeer('@tensorflow/tfjs-node', 'the TensorFlow C++ backend', transitive)).toBe(transitive);
    const broken = new Error('The Node.js native addon module (tfjs_binding.node) can not be found');
    expect(explainMissingPeer('@tensorflow/tfjs-node', 'the TensorFlow C++ backend', broken)).toBe(broken);
  });

  it('the summary line shortens them to "not installed", and a skipped native install script to its fix', () => {
    const missing = explainMissingPeer('@tensorflow/tfjs-node', 'the TensorFlow C++ backend', new Error("Cannot find package '@tensorflow/tfjs-node' imported from /x.js")) as Error;
    const skipped =
      '@longtail/backend-native: cannot load the native addon: install script of @longtail/backend-native did not run; build the addon with: npm rebuild @longtail/backend-native (npm';
    const failed = '@longtail/backend-native: cannot load the native addon: building it at install time failed (node-gyp exit code 1); install a C++';
    expect(
      summarizeAttempts([
        { name: 'tensorflow', module: '@tensorflow/tfjs-node', ok: false, error: missing.message },
        { name: 'native', module: '@longtail/backend-native', ok: false, error: skipped },
        { name: 'native', module: '@longtail/backend-native', ok: false, error: failed },
        { name: 'cpu', module: '@tensorflow/tfjs-backend-cpu', ok: true, detail: 'pure JavaScript' },
      ]),
    ).toBe(
      'backend: cpu (pure JavaScript); tfjs-node unavailable: not installed; ' +
        'native unavailable: addon not built: the package manager skipped its install script (npm rebuild @longtail/backend-native); ' +
        'native unavailable: addon build failed at install (needs g++ and make; then npm rebuild @longtail/backend-native)',
    );
  });
});
