/**
 * The loss registry: each built-in's per-stage options and defaults are the method's (GCL-METHOD.md literals, not
 * the library's constants), its factory computes the same loss as the function it registers, and a loss registered
 * from outside is found by name.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_LOSSES,
  DEFAULT_LOSS,
  getLoss,
  gclLoss,
  logitAdjustedLoss,
  lossDefaultsFor,
  lossNames,
  lossOptionsFor,
  registerLoss,
  sampleCloudNoise,
} from '../src/index.js';

const counts = [50, 20, 8, 3];

describe('loss registry', () => {
  it('lists the seven built-ins once, GCL the default', () => {
    expect(lossNames().slice(0, 7)).toEqual(['gcl', 'gcl-angular', 'ce', 'focal', 'ldam', 'logit-adjusted', 'balanced-softmax']);
    expect(BUILTIN_LOSSES.map((spec) => spec.name)).toEqual(lossNames().slice(0, 7));
    expect(DEFAULT_LOSS).toBe('gcl');
  });

  it("has the paper's per-stage options and defaults", () => {
    const gcl = getLoss('gcl');
    expect(lossDefaultsFor(gcl, 1)).toEqual({ m: 0, s: 30, noiseMul: 0.5 });
    expect(lossDefaultsFor(gcl, 2)).toEqual({ m: 0.1, s: 20, noiseMul: 0.5, gamma: 1 });
    expect(lossDefaultsFor(getLoss('gcl-angular'), 1)).toEqual({ m: 0.5, s: 30, epsilon: 0.1, easyMargin: false });
    expect(lossDefaultsFor(getLoss('ldam'), 1)).toEqual({ maxM: 0.5, s: 30 });
    expect(lossDefaultsFor(getLoss('logit-adjusted'), 2)).toEqual({ tau: 1 });
    expect(lossDefaultsFor(getLoss('focal'), 1)).toEqual({ gamma: 1 });
    expect(Object.keys(lossOptionsFor(getLoss('balanced-softmax'), 1))).toEqual([]);
    // What each needs around it.
    expect([gcl.cloudNoise, gcl.head, gcl.classWeights]).toEqual([true, { preferred: 'cosine', required: true }, true]);
    expect(getLoss('ldam').head).toEqual({ preferred: 'cosine', required: false });
    expect(['logit-adjusted', 'balanced-softmax'].map((name) => getLoss(name).classWeights)).toEqual([false, false]);
    expect(getLoss('gcl-angular').validate?.({ m: 2 }, 1)).toEqual(['m must be <= π/2 for gcl-angular, got 2']);
    expect(() => getLoss('hinge')).toThrow(/unknown loss "hinge" \(registered: gcl, gcl-angular/);
  });

  it('create() is the registered function: stage 2 GCL is the focal form with γ, stage 1 the plain weighted mean', () => {
    const cosine = tf.tensor2d([0.6, 0.1, -0.2, 0.3, 0.2, 0.5, 0.1, -0.4], [2, 4]);
    const labels = tf.tensor1d([0, 2], 'int32');
    const noise = sampleCloudNoise([2, 4], 5);
    const weight = [0.1, 0.2, 0.3, 0.4];
    const gcl = getLoss('gcl');
    const stage2 = gcl.create({ clsNumList: counts, stage: 2, options: lossDefaultsFor(gcl, 2) })(cosine, labels, { noise, weight });
    const direct2 = gclLoss(cosine, labels, noise, { clsNumList: counts, m: 0.1, s: 20, noiseMul: 0.5, weight, focalReduction: true, gamma: 1 });
    expect(stage2.dataSync()[0]).toBeCloseTo(direct2.dataSync()[0], 6);
    const stage1 = gcl.create({ clsNumList: counts, stage: 1, options: lossDefaultsFor(gcl, 1) })(cosine, labels, { noise, weight: null });
    const direct1 = gclLoss(cosine, labels, noise, { clsNumList: counts });
    expect(stage1.dataSync()[0]).toBeCloseTo(direct1.dataSync()[0], 6);
    expect(Math.abs(stage1.dataSync()[0] - stage2.dataSync()[0])).toBeGreaterThan(1e-3);
    expect(() => gcl.create({ clsNumList: counts, stage: 1, options: lossDefaultsFor(gcl, 1) })(cosine, labels, { noise: null, weight: null })).toThrow(/gcl: this loss needs a cloud noise draw/);
    const la = getLoss('logit-adjusted').create({ clsNumList: counts, stage: 1, options: { tau: 0.5 } })(cosine, labels, { noise: null, weight: null });
    expect(la.dataSync()[0]).toBeCloseTo(logitAdjustedLoss(cosine, labels, { clsNumList: counts, tau: 0.5 }).dataSync()[0], 6);
  });

  it('logitScale is the s of the stage for the scaled losses, absent for those that take outputs as logits', () => {
    expect(getLoss('gcl').logitScale?.(lossDefaultsFor(getLoss('gcl'), 1))).toBe(30);
    expect(getLoss('gcl').logitScale?.(lossDefaultsFor(getLoss('gcl'), 2))).toBe(20);
    expect(getLoss('gcl-angular').logitScale?.({ ...lossDefaultsFor(getLoss('gcl-angular'), 1), s: 12 })).toBe(12);
    expect(getLoss('ldam').logitScale?.(lossDefaultsFor(getLoss('ldam'), 1))).toBe(30);
    for (const name of ['ce', 'focal', 'logit-adjusted', 'balanced-softmax']) expect(getLoss(name).logitScale, name).toBeUndefined();
  });

  it('a loss registered from outside is found by name; names are not taken twice', () => {
    const spec = registerLoss({
      name: 'test-mean-logit',
      description: 'mean target logit (test)',
      options: { k: { type: 'number', default: 2, stageDefaults: { 2: 3 }, description: 'factor' } },
      cloudNoise: false,
      head: { preferred: 'dense', required: false },
      classWeights: false,
      create: ({ options }) => (logits) => tf.mul(tf.mean(logits), options.k as number) as tf.Scalar,
    });
    expect(getLoss('test-mean-logit')).toBe(spec);
    expect(lossDefaultsFor(spec, 2)).toEqual({ k: 3 });
    expect(() => registerLoss({ ...spec })).toThrow(/a loss named "test-mean-logit" is already registered/);
    expect(() => registerLoss({ ...spec, name: 'Bad' })).toThrow(/spec\.name must be a lower-case name/);
    expect(() => registerLoss({ ...spec, name: 'test-weighting-option', options: { weighting: { type: 'number', default: 1, description: '' } } })).toThrow(/may not name an option "weighting"/);
    // A default outside its own bounds would make every config that omits the option invalid: refused at once.
    expect(() => registerLoss({ ...spec, name: 'test-bad-default', options: { s: { type: 'number', default: 0, exclusiveMinimum: 0, description: '' } } })).toThrow(/default 0 of option s of "test-bad-default" is outside/);
    expect(() => registerLoss({ ...spec, name: 'test-bad-stage-default', options: { s: { type: 'number', default: 1, maximum: 2, stageDefaults: { 2: 3 }, description: '' } } })).toThrow(/default 3 of option s/);
    expect(lossNames()).not.toContain('test-bad-default');
  });
});
