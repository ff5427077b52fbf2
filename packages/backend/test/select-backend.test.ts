import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend, summarizeAttempts } from '../src/index.js';

const failingAddon = async () => {
  throw new Error('Cannot find module build/Release/longtail_native.node (simulated failed addon load)');
};
const noGpu = async () => {
  throw new Error('no WebGPU adapter (simulated)');
};
const missingTensorflow = async () => {
  throw new Error("Cannot find package '@tensorflow/tfjs-node' imported from selectBackend (simulated)");
};

describe('selectBackend', () => {
  it('falls back to wasm with a warning line naming every reason when the addon fails to load', async () => {
    const lines: string[] = [];
    const selection = await selectBackend({
      log: (line) => lines.push(line),
      loaders: {
        '@tensorflow/tfjs-node-gpu': missingTensorflow,
        '@tensorflow/tfjs-node': missingTensorflow,
        webgpu: noGpu,
        native: failingAddon,
      },
    });
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.tried.map((attempt) => [attempt.module, attempt.ok])).toEqual([
      ['@tensorflow/tfjs-node-gpu', false],
      ['@tensorflow/tfjs-backend-webgpu', false],
      ['@tensorflow/tfjs-node', false],
      ['@longtail/backend-native', false],
      ['@tensorflow/tfjs-backend-wasm', true],
    ]);
    expect(selection.tried[3].error).toContain('simulated failed addon load');
    expect(selection.summary).toContain('webgpu unavailable: no WebGPU adapter (simulated)');
    expect(lines).toEqual([selection.summary]);
    expect(selection.summary).toMatch(/^backend: wasm \(SIMD, 1 thread, trainable kernels\)/);
    expect(selection.summary).toContain('native unavailable: Cannot find module build/Release/longtail_native.node');
    expect(selection.summary).toContain('tfjs-node unavailable: not installed');
    expect(selection.tried[2].error).toContain("Cannot find package '@tensorflow/tfjs-node'");
    expect(selection.reason).toContain('@longtail/backend-native: Cannot find module');
    // The wasm backend it chose can train: Conv2DBackpropFilter is registered.
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('falls back to cpu when wasm fails too', async () => {
    const selection = await selectBackend({
      quiet: true,
      loaders: { tensorflow: missingTensorflow, native: failingAddon, wasm: async () => Promise.reject(new Error('no wasm')) },
    });
    expect(selection.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(selection.summary).toContain('wasm unavailable: no wasm');
  });

  it("prefer 'cpu' gives cpu without trying anything else", async () => {
    const selection = await selectBackend({ prefer: 'cpu', quiet: true });
    expect(selection.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(selection.tried).toHaveLength(1);
    expect(selection.summary).toBe('backend: cpu (pure JavaScript)');
    expect(selection.preferenceFailed).toBe(false);
  });

  it('an explicitly preferred backend that fails is reported as such, via console.warn by default', async () => {
    const warnings: string[] = [];
    const originalWarn = console.warn;
    console.warn = (line: string) => warnings.push(line);
    try {
      const selection = await selectBackend({
        prefer: 'native',
        loaders: { native: failingAddon, tensorflow: missingTensorflow },
      });
      expect(selection.preferenceFailed).toBe(true);
      expect(selection.tried[0].module).toBe('@longtail/backend-native');
      expect(selection.backend).toBe('wasm');
      expect(selection.summary).toContain('preferred native unavailable: Cannot find module');
      expect(warnings).toEqual([selection.summary]);
    } finally {
      console.warn = originalWarn;
    }
  });

  it('reports the real reason the tfjs-node packages are unavailable on this machine', async () => {
    const selection = await selectBackend({ prefer: 'tensorflow', quiet: true, loaders: { native: failingAddon } });
    // tfjs-node(-gpu) cannot install here (libtensorflow download); the import failure is recorded, not thrown.
    const tensorflowAttempts = selection.tried.filter((attempt) => attempt.name === 'tensorflow');
    expect(tensorflowAttempts).toHaveLength(2);
    for (const attempt of tensorflowAttempts) {
      if (!attempt.ok) expect(attempt.error).toMatch(/tfjs-node|Cannot find|libtensorflow/);
    }
  });

  it('rejects invalid options with an error naming the option', async () => {
    await expect(selectBackend({ prefer: 'gpu' as never })).rejects.toThrow(/^prefer:/);
    await expect(selectBackend({ log: 'stdout' as never })).rejects.toThrow(/^log:/);
    await expect(selectBackend({ nativeThreads: 0 })).rejects.toThrow(/^nativeThreads:/);
    await expect(selectBackend({ dawnOptions: 'backend=vulkan' as never })).rejects.toThrow(/^dawnOptions:/);
  });

  it('summarizeAttempts names the chosen backend and each failure', () => {
    expect(
      summarizeAttempts([
        { name: 'tensorflow', module: '@tensorflow/tfjs-node', ok: false, error: 'not installed' },
        { name: 'native', module: '@longtail/backend-native', ok: true, detail: 'avx512, 2 threads' },
      ]),
    ).toBe('backend: native (avx512, 2 threads); tfjs-node unavailable: not installed');
  });

  it('summarizeAttempts shortens the long tfjs-node messages, keeping other reasons', () => {
    const binding =
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/lib/napi-v8/tfjs_binding.node. ';
    expect(
      summarizeAttempts([
        { name: 'tensorflow', module: '@tensorflow/tfjs-node-gpu', ok: false, error: "Cannot find package '@tensorflow/tfjs-node-gpu' imported from /a/b.js" },
        { name: 'tensorflow', module: '@tensorflow/tfjs-node', ok: false, error: binding },
        { name: 'native', module: '@longtail/backend-native', ok: false, error: 'addon build failed: no compiler' },
        { name: 'cpu', module: '@tensorflow/tfjs-backend-cpu', ok: true, detail: 'pure JavaScript' },
      ]),
    ).toBe(
      'backend: cpu (pure JavaScript); tfjs-node-gpu unavailable: not installed; ' +
        'tfjs-node unavailable: native binding not built (its install step downloads libtensorflow); ' +
        'native unavailable: addon build failed: no compiler',
    );
  });
});
