import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  forwardWithFeatures,
  resnet50,
  resnet101,
  resnet152,
  resnext50_32x4d,
  resnext101_32x8d,
  type BackboneFactory,
} from '../src/index.js';
import { expectRelativelyClose, readFixture } from './helpers/common.js';
import { formulaInput } from './helpers/formula.js';
import { expectedTorchTensors, loadFormulaWeights } from './helpers/models.js';

interface ForwardCase {
  factory: string;
  numClasses: number;
  head: 'dense';
  inputShape: [number, number, number, number];
  logits: number[];
  features: number[];
}

const factories: Record<string, BackboneFactory> = {
  resnet50,
  resnet101,
  resnet152,
  resnext50_32x4d,
  resnext101_32x8d,
};
// torchvision: sum(p.numel() for p in model.parameters()) with the default 1000-class fc.
const parameterCounts: Record<string, number> = {
  resnet50: 25_557_032,
  resnet101: 44_549_160,
  resnet152: 60_192_808,
  resnext50_32x4d: 25_028_904,
  resnext101_32x8d: 88_791_336,
};
/** Long synchronous cpu-backend work starves vitest's worker RPC; let it breathe between phases. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 10));

const cases = readFixture<{ cases: ForwardCase[] }>('forward_parity.json').cases.filter((testCase) => testCase.factory in factories);

describe('ImageNet family (torchvision layout)', () => {
  it('has a fixture for every factory', () => {
    expect(cases.map((testCase) => testCase.factory).sort()).toEqual(Object.keys(factories).sort());
  });

  it.each(cases.map((testCase) => [testCase.factory, testCase] as const))(
    '%s: PyTorch parameter count, and inference output equal to PyTorch’s at 64×64 (≤ 1e-4 relative)',
    async (name, testCase) => {
      const model = factories[name]({ numClasses: testCase.numClasses, head: 'dense', inputShape: [64, 64, 3] });
      expect(model.countParams()).toBe(parameterCounts[name]);
      await yieldToEventLoop();
      loadFormulaWeights(model);
      await yieldToEventLoop();
      const input = formulaInput('input', testCase.inputShape);
      const { features, logits } = forwardWithFeatures(model, input);
      await yieldToEventLoop();
      expect(features.shape).toEqual([1, 2048]);
      expectRelativelyClose(logits.dataSync(), testCase.logits);
      expectRelativelyClose(features.dataSync(), testCase.features);
      tf.dispose([input, features, logits]);
      model.dispose();
    },
    180_000,
  );

  it('defaults to 224×224×3 inputs and a cosine head; grouped convolutions have torchvision shapes', () => {
    const model = resnext50_32x4d({ numClasses: 365 });
    expect(model.inputs[0].shape).toEqual([null, 224, 224, 3]);
    expect(model.outputs[0].shape).toEqual([null, 365]);
    expect(model.getLayer('fc').getClassName()).toBe('NormedLinear');
    // cosine head: 2048×365 weights, no bias, instead of 2048×1000 + 1000
    expect(model.countParams()).toBe(parameterCounts.resnext50_32x4d - 2048 * 1000 - 1000 + 2048 * 365);
    const expected = new Map(expectedTorchTensors(model));
    expect(expected.get('layer1.0.conv2.weight')).toEqual([128, 4, 3, 3]); // 32 groups of 4 channels
    expect(expected.get('layer4.2.conv2.weight')).toEqual([1024, 32, 3, 3]);
    expect(expected.get('layer2.0.downsample.0.weight')).toEqual([512, 256, 1, 1]);
    expect(expected.get('fc.weight')).toEqual([2048, 365]); // NormedLinear keeps (in, out)
    model.dispose();
  });
});
