import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  TorchBatchNorm,
  forwardWithFeatures,
  loadStateDict,
  resnet20,
  resnet32,
  resnet44,
  resnet56,
  resnet110,
  type BackboneFactory,
} from '../src/index.js';
import { expectElementwiseClose, expectRelativelyClose, readFixture } from './helpers/common.js';
import { formulaInput, formulaStateDict, formulaTensor } from './helpers/formula.js';
import { expectedTorchTensors, loadFormulaWeights } from './helpers/models.js';

interface ForwardCase {
  factory: string;
  head: 'cosine' | 'dense';
  numClasses: number;
  inputShape: [number, number, number, number];
  logits: number[];
  features: number[];
}

const forward = readFixture<{ cases: ForwardCase[] }>('forward_parity.json');
const training = readFixture('batchnorm_training.json');

describe('CIFAR family', () => {
  const factories: Record<string, BackboneFactory> = { resnet20, resnet32, resnet44, resnet56, resnet110 };
  // PyTorch: sum(p.numel() for p in model.parameters()) of the reference ResNet_s (scripts/make_fixtures.py).
  it.each([
    ['resnet20', 10, 'dense', 269_722],
    ['resnet32', 10, 'dense', 464_154],
    ['resnet32', 10, 'cosine', 464_144],
    ['resnet32', 100, 'cosine', 469_904],
    ['resnet44', 10, 'dense', 658_586],
    ['resnet56', 10, 'dense', 853_018],
    ['resnet110', 10, 'dense', 1_727_962],
  ] as Array<[string, number, 'cosine' | 'dense', number]>)(
    '%s with %i classes, %s head: countParams() equals PyTorch’s %i',
    (name, numClasses, head, expected) => {
      const model = factories[name]({ numClasses, head });
      expect(model.countParams()).toBe(expected);
      expect(model.inputs[0].shape).toEqual([null, 32, 32, 3]);
      model.dispose();
    },
  );

  it.each(forward.cases.filter((testCase) => testCase.factory === 'resnet32').map((testCase) => [testCase.head, testCase] as const))(
    'resnet32 (%s head) matches PyTorch in inference mode: logits and pooled features ≤ 1e-4 relative',
    (_, testCase) => {
      const model = resnet32({ numClasses: testCase.numClasses, head: testCase.head });
      loadFormulaWeights(model);
      const input = formulaInput('input', testCase.inputShape);
      const { features, logits } = forwardWithFeatures(model, input);
      expect(logits.shape).toEqual([testCase.inputShape[0], testCase.numClasses]);
      expect(features.shape).toEqual([testCase.inputShape[0], 64]);
      expectRelativelyClose(logits.dataSync(), testCase.logits);
      expectRelativelyClose(features.dataSync(), testCase.features);
      // model.predict (the plain tfjs path) gives the same logits.
      const predicted = model.predict(input) as tf.Tensor;
      expect(Array.from(predicted.dataSync())).toEqual(Array.from(logits.dataSync()));
      tf.dispose([input, features, logits, predicted]);
      model.dispose();
    },
  );

  it('initialises like the reference: conv N(0, 2/fan_in), batch norm 1/0, dense head N(0, 2/64) + U(±1/8) bias', () => {
    const model = resnet32({ numClasses: 10, head: 'dense' });
    const standardDeviation = (tensor: tf.Tensor) =>
      tf.tidy(() => Math.sqrt(tf.moments(tensor).variance.dataSync()[0]));
    const conv = model.getLayer('layer3.4.conv2').getWeights()[0]; // 3×3×64×64, fan_in 576
    expect(standardDeviation(conv)).toBeGreaterThan(Math.sqrt(2 / 576) * 0.97);
    expect(standardDeviation(conv)).toBeLessThan(Math.sqrt(2 / 576) * 1.03);
    const stem = model.getLayer('conv1').getWeights()[0]; // fan_in 27
    expect(standardDeviation(stem)).toBeGreaterThan(Math.sqrt(2 / 27) * 0.8);
    expect(standardDeviation(stem)).toBeLessThan(Math.sqrt(2 / 27) * 1.2);
    const [gamma, beta, runningMean, runningVariance] = model.getLayer('layer2.0.bn1').getWeights();
    expect(Array.from(gamma.dataSync()).every((v) => v === 1)).toBe(true);
    expect(Array.from(beta.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(runningMean.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(runningVariance.dataSync()).every((v) => v === 1)).toBe(true);
    const [kernel, bias] = model.getLayer('linear').getWeights();
    expect(standardDeviation(kernel)).toBeGreaterThan(Math.sqrt(2 / 64) * 0.8);
    expect(standardDeviation(kernel)).toBeLessThan(Math.sqrt(2 / 64) * 1.2);
    expect(Math.max(...Array.from(bias.dataSync()).map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    model.dispose();
  });
});

describe('batch norm in training mode, against PyTorch', () => {
  it('a single BatchNorm2d step: output with batch statistics, running stats with momentum 0.1 and unbiased variance', () => {
    const layer = new TorchBatchNorm({ name: 'bn' });
    layer.build([null, 5, 5, 4]);
    const state = formulaStateDict(
      ['weight', 'bias', 'running_mean', 'running_var'].map((key) => [`bn.${key}`, [4]] as [string, number[]]),
    );
    const weights = ['weight', 'bias', 'running_mean', 'running_var'].map((key) => tf.tensor1d(state.get(`bn.${key}`)!.values as Float32Array));
    layer.setWeights(weights);
    tf.dispose(weights);
    const input = formulaInput('bn_input', [3, 5, 5, 4]);
    const output = layer.apply(input, { training: true }) as tf.Tensor;
    expectElementwiseClose(output.dataSync(), training.batchnorm.output, 1e-5, 1e-5);
    const [, , runningMean, runningVariance] = layer.getWeights();
    expectElementwiseClose(runningMean.dataSync(), training.batchnorm.running_mean, 1e-6, 1e-6);
    expectElementwiseClose(runningVariance.dataSync(), training.batchnorm.running_var, 1e-6, 1e-6);
    // Inference afterwards uses the updated running statistics: (x − μ)/√(σ² + 1e-5)·γ + β, computed independently.
    const inference = (layer.apply(input, { training: false }) as tf.Tensor).dataSync();
    const x = input.dataSync();
    const [gamma, beta] = [formulaTensor('bn.weight', [4]), formulaTensor('bn.bias', [4])];
    const expected = Array.from(x, (value, index) => {
      const channel = index % 4;
      return ((value - training.batchnorm.running_mean[channel]) / Math.sqrt(training.batchnorm.running_var[channel] + 1e-5)) * gamma[channel] + beta[channel];
    });
    expectElementwiseClose(inference, expected, 1e-5, 1e-5);
    tf.dispose([input, output]);
    for (const weight of layer.weights) weight.dispose();
  });

  it('a whole resnet32 forward in training mode: logits and all 62 running statistics', () => {
    const model = resnet32({ numClasses: 10, head: 'dense' });
    loadFormulaWeights(model);
    const input = formulaInput('input', [4, 32, 32, 3]);
    const { features, logits } = forwardWithFeatures(model, input, { training: true });
    expectRelativelyClose(logits.dataSync(), training.resnet32.logits, 1e-4);
    const running = training.resnet32.running as Record<string, number[]>;
    expect(Object.keys(running)).toHaveLength(62);
    for (const [name, expected] of Object.entries(running)) {
      const layerName = name.replace(/\.running_(mean|var)$/, '');
      const index = name.endsWith('running_mean') ? 2 : 3;
      const actual = model.getLayer(layerName).getWeights()[index].dataSync();
      try {
        expectRelativelyClose(actual, expected, 1e-4);
      } catch (error) {
        throw new Error(`${name}: ${(error as Error).message}`);
      }
    }
    tf.dispose([input, features, logits]);
    model.dispose();
  });

  it('refuses training statistics from a single value per channel (PyTorch raises too)', () => {
    const layer = new TorchBatchNorm({ name: 'single' });
    layer.build([null, 1, 1, 2]);
    const input = tf.ones([1, 1, 1, 2]);
    expect(() => layer.apply(input, { training: true })).toThrow(/more than one value per channel/);
    input.dispose();
    for (const weight of layer.weights) weight.dispose();
  });
});

describe('state dict names', () => {
  it('resnet32 expects exactly the reference state dict (conv OIHW, nn.Linear (out, in))', () => {
    const model = resnet32({ numClasses: 10, head: 'dense' });
    const expected = new Map(expectedTorchTensors(model));
    expect(expected.get('conv1.weight')).toEqual([16, 3, 3, 3]);
    expect(expected.get('layer2.0.conv1.weight')).toEqual([32, 16, 3, 3]);
    expect(expected.get('layer3.4.bn2.running_var')).toEqual([64]);
    expect(expected.get('linear.weight')).toEqual([10, 64]);
    expect(expected.get('linear.bias')).toEqual([10]);
    expect(expected.size).toBe(1 + 4 + 15 * (2 + 8) + 2);
    // A wrong-but-complete state dict is rejected before any weight changes.
    const before = model.getLayer('conv1').getWeights()[0].dataSync().slice();
    const broken = formulaStateDict([...expected]);
    broken.set('linear.weight', { shape: [64, 10], values: new Float32Array(640) });
    expect(() => loadStateDict(model, broken)).toThrow(/wrong shape \(1\): linear\.weight \(expected \[10, 64\], got \[64, 10\]\)/);
    expect(Array.from(model.getLayer('conv1').getWeights()[0].dataSync())).toEqual(Array.from(before));
    model.dispose();
  });
});
