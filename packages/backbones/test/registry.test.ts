import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  backboneNames,
  backbones,
  BUILTIN_BACKBONES,
  classifierLayer,
  DEFAULT_BACKBONE,
  forwardWithFeatures,
  freezeBackbone,
  getBackbone,
  registerBackbone,
  resnet32,
  tiny,
} from '../src/index.js';

describe('backbone registry', () => {
  it('holds every factory of `backbones` and tiny, so a new factory cannot be left unreachable', () => {
    expect(backboneNames().slice(0, 11)).toEqual(['tiny', ...Object.keys(backbones)]);
    expect(Object.keys(backbones)).toHaveLength(10);
    expect(getBackbone('resnet32').create).toBe(resnet32);
    expect(getBackbone('resnet32').pytorchWeights).toBe(true);
    expect(getBackbone('tiny')).toMatchObject({ create: tiny, pytorchWeights: false });
    expect(BUILTIN_BACKBONES.every((spec) => spec.description.length > 0)).toBe(true);
    expect(DEFAULT_BACKBONE).toBe('resnet32');
    expect(() => getBackbone('vgg16')).toThrow(/unknown backbone "vgg16" \(registered: tiny, resnet20/);
  });

  it('a backbone registered from outside is found by name; names are not taken twice', () => {
    const spec = registerBackbone({ name: 'test-tiny-alias', description: 'tiny again', create: tiny, pytorchWeights: false });
    expect(getBackbone('test-tiny-alias')).toBe(spec);
    expect(backboneNames()).toContain('test-tiny-alias');
    expect(() => registerBackbone(spec)).toThrow(/a backbone named "test-tiny-alias" is already registered/);
    expect(() => registerBackbone({ ...spec, name: 'has space' })).toThrow(/spec\.name must be/);
  });
});

describe('tiny', () => {
  it('is a cosine classifier on pooled features: logits are the cosines of features and the Glorot(7) kernel columns', () => {
    const model = tiny({ numClasses: 5, head: 'cosine', inputShape: [8, 8, 3] });
    expect(classifierLayer(model).name).toBe('cosine_head');
    const kernel = classifierLayer(model).getWeights()[0];
    expect(kernel.shape).toEqual([16, 5]);
    const glorot = tf.initializers.glorotUniform({ seed: 7 }).apply([16, 5], 'float32');
    expect(Array.from(kernel.dataSync())).toEqual(Array.from(glorot.dataSync()));
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.37)), [2, 8, 8, 3]);
    const { features, logits } = forwardWithFeatures(model, x);
    const f = features.arraySync() as number[][];
    const w = kernel.arraySync() as number[][];
    const got = logits.arraySync() as number[][];
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 5; j++) {
        let dot = 0;
        let nf = 0;
        let nw = 0;
        for (let k = 0; k < 16; k++) {
          dot += f[i][k] * w[k][j];
          nf += f[i][k] ** 2;
          nw += w[k][j] ** 2;
        }
        expect(got[i][j]).toBeCloseTo(dot / Math.sqrt(nf * nw), 5);
      }
    }
    // Freezing leaves only the head trainable.
    freezeBackbone(model);
    expect(model.trainableWeights.map((v) => v.shape)).toEqual([[16, 5]]);
    tf.dispose([x, features, logits, glorot]);
    model.dispose();
  });

  it('has a dense head with bias on request, and refuses a bad class count', () => {
    const model = tiny({ numClasses: 3, head: 'dense', inputShape: [8, 8, 3] });
    expect(classifierLayer(model).name).toBe('dense_head');
    expect(classifierLayer(model).getWeights().map((t) => t.shape)).toEqual([[16, 3], [3]]);
    model.dispose();
    expect(() => tiny({ numClasses: 0 })).toThrow(/tiny: options\.numClasses must be a positive integer/);
  });
});
