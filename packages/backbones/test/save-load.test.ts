import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackboneModel, freezeBackbone, forwardWithFeatures, loadModel, resnet32, resnet110, resnext50_32x4d, saveModel } from '../src/index.js';
import { formulaInput } from './helpers/formula.js';

const temporaryDirectory = mkdtempSync(path.join(tmpdir(), 'backbones-save-'));
afterAll(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

function bits(tensor: tf.Tensor): number[] {
  return Array.from(new Uint32Array((tensor.dataSync() as Float32Array).slice().buffer));
}

describe('save and load in the TensorFlow.js layers format', () => {
  it('resnet32 (cosine head): model.json + shard, loaded model gives bit-identical outputs, keeps PyTorch countParams', async () => {
    const model = resnet32({ numClasses: 10 });
    // Make the running statistics non-trivial so their round trip is tested too.
    const warmup = formulaInput('warmup', [4, 32, 32, 3]);
    tf.dispose(forwardWithFeatures(model, warmup, { training: true }));
    const directory = path.join(temporaryDirectory, 'resnet32');
    await saveModel(model, directory);
    expect(readdirSync(directory).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    const modelJson = JSON.parse(readFileSync(path.join(directory, 'model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.modelTopology.class_name).toBe('BackboneModel');
    expect(modelJson.weightsManifest[0].paths).toEqual(['group1-shard1of1.bin']);
    const loaded = await loadModel(directory);
    expect(loaded).toBeInstanceOf(BackboneModel);
    expect(loaded.countParams()).toBe(464_144);
    const input = formulaInput('input', [2, 32, 32, 3]);
    const [before, after] = [model.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
    expect(bits(after)).toEqual(bits(before));
    const [trainingBefore, trainingAfter] = [
      forwardWithFeatures(model, input, { training: true }),
      forwardWithFeatures(loaded, input, { training: true }),
    ];
    expect(bits(trainingAfter.logits)).toEqual(bits(trainingBefore.logits));
    tf.dispose([warmup, input, before, after, trainingBefore, trainingAfter]);
    model.dispose();
    loaded.dispose();
  });

  it('the saved files load with plain tf.loadLayersModel through an in-memory IO handler', async () => {
    const model = resnext50_32x4d({ numClasses: 5, head: 'dense', inputShape: [32, 32, 3] });
    const directory = path.join(temporaryDirectory, 'resnext50');
    await saveModel(model, directory);
    const modelJson = JSON.parse(readFileSync(path.join(directory, 'model.json'), 'utf8'));
    const shards: string[] = modelJson.weightsManifest[0].paths;
    expect(shards.length).toBeGreaterThan(20); // ~92 MiB in 4 MiB shards, as the tfjs converter writes them
    const weightData = shards.map((shard) => {
      const bytes = readFileSync(path.join(directory, shard));
      expect(bytes.byteLength).toBeLessThanOrEqual(4 * 1024 * 1024);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    });
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: tf.io.CompositeArrayBuffer.join(weightData),
      }),
    );
    const input = formulaInput('input', [1, 32, 32, 3]);
    const [before, after] = [model.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
    expect(bits(after)).toEqual(bits(before));
    tf.dispose([input, before, after]);
    model.dispose();
    loaded.dispose();
  }, 120_000);

  it('importing registers the layer classes, and package.json declares that side effect for every entry file', () => {
    const classNames = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const name of ['TorchConv2D', 'TorchBatchNorm', 'AddRelu', 'OptionAShortcut', 'NormedLinear', 'BackboneModel']) {
      expect(classNames[name], name).toBeDefined();
    }
    // With "sideEffects": false a bundler may drop a bare `import '@longtail/backbones'`, and tf.loadLayersModel
    // would then fail on the unknown classes.
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const entries = [manifest.exports['.'].import.default, manifest.exports['.'].require.default];
    expect(manifest.sideEffects).toEqual(expect.arrayContaining(entries));
  });

  it('a frozen backbone stays frozen after loading; multi-shard resnet110 round trip', async () => {
    const model = resnet110({ numClasses: 100 });
    freezeBackbone(model);
    const directory = path.join(temporaryDirectory, 'resnet110');
    await saveModel(model, directory);
    expect(readdirSync(directory).filter((name) => name.endsWith('.bin'))).toHaveLength(2); // 7.2 MB
    const loaded = await loadModel(directory);
    expect(loaded.trainableWeights.map((weight) => weight.originalName)).toEqual(['linear/kernel']);
    const input = formulaInput('input', [2, 32, 32, 3]);
    const [before, after] = [model.predict(input) as tf.Tensor, loaded.predict(input) as tf.Tensor];
    expect(bits(after)).toEqual(bits(before));
    tf.dispose([input, before, after]);
    model.dispose();
    loaded.dispose();
  });

  it('reports a missing directory clearly', async () => {
    await expect(loadModel(path.join(temporaryDirectory, 'nothing-here'))).rejects.toThrow(/cannot read .*nothing-here.*model\.json/);
  });
});
