import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  classifierLayer,
  exportStateDict,
  forwardWithFeatures,
  freezeBackbone,
  resnet20,
  resnet32,
  resnet50,
  unfreezeBackbone,
} from '../src/index.js';
import { expectRelativelyClose, readFixture } from './helpers/common.js';
import { formulaInput } from './helpers/formula.js';
import { loadFormulaWeights } from './helpers/models.js';

const training = readFixture('batchnorm_training.json');

function snapshot(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((weight) => (weight.read().dataSync() as Float32Array).slice());
}

describe('training through the backbone', () => {
  it('gradients of sum(logits·G) in training mode equal PyTorch’s (resnet32, cosine head)', async () => {
    const model = resnet32({ numClasses: 10 });
    loadFormulaWeights(model);
    const input = formulaInput('input', [4, 32, 32, 3]);
    const upstream = tf.reshape(formulaInput('upstream', [4, 10, 1, 1]), [4, 10]);
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    let logitsValues: Float32Array | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const { features, logits } = forwardWithFeatures(model, input, { training: true });
      logitsValues = logits.dataSync() as Float32Array;
      features.dispose();
      return tf.sum(tf.mul(logits, upstream)) as tf.Scalar;
    }, variables);
    expectRelativelyClose(logitsValues!, training.resnet32_cosine_gradients.logits);
    // Bring each tfjs gradient into PyTorch layout by exporting a model whose weights are the gradients.
    const gradientsByTorchName = new Map<string, Float32Array>();
    const originals = snapshot(model);
    model.trainableWeights.forEach((weight) => weight.write(grads[(weight.read() as tf.Variable).name]));
    for (const [name, tensor] of await exportStateDict(model)) {
      if (tensor.dtype === 'F32') gradientsByTorchName.set(name, tensor.values);
    }
    model.weights.forEach((weight, index) => {
      const restored = tf.tensor(originals[index], weight.shape as number[]);
      weight.write(restored);
      restored.dispose();
    });
    const expected = training.resnet32_cosine_gradients.gradients as Record<string, number[]>;
    expect(Object.keys(expected).length).toBe(7);
    for (const [name, reference] of Object.entries(expected)) {
      try {
        expectRelativelyClose(gradientsByTorchName.get(name)!, reference, 1e-3);
      } catch (error) {
        throw new Error(`gradient of ${name}: ${(error as Error).message}`);
      }
    }
    tf.dispose([input, upstream, value, ...Object.values(grads)]);
    model.dispose();
  });

  it('trainer usage: optimizer.minimize over model.trainableWeights lowers the loss and leaks no tensors', () => {
    const model = resnet20({ numClasses: 4, head: 'dense' });
    const input = formulaInput('input', [2, 32, 32, 3]);
    const labels = tf.oneHot(tf.tensor1d([0, 3], 'int32'), 4);
    const optimizer = tf.train.momentum(0.05, 0.9);
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const step = () =>
      optimizer.minimize(
        () =>
          tf.tidy(() => {
            const { logits } = forwardWithFeatures(model, input, { training: true });
            return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
          }),
        true,
        variables,
      )!;
    const losses: number[] = [];
    const first = step();
    losses.push(first.dataSync()[0]);
    first.dispose();
    const tensorsAfterWarmup = tf.memory().numTensors;
    for (let iteration = 0; iteration < 3; iteration++) {
      const loss = step();
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);
    }
    // Inference calls do not leak either.
    for (let iteration = 0; iteration < 3; iteration++) {
      const result = forwardWithFeatures(model, input);
      tf.dispose([result.features, result.logits]);
      expect(tf.memory().numTensors).toBe(tensorsAfterWarmup);
    }
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    tf.dispose([input, labels]);
    optimizer.dispose();
    model.dispose();
  });
});

describe('frozen backbone (classifier re-training)', () => {
  it('only the head trains; batch norm stays in inference mode even with training: true', () => {
    const model = resnet32({ numClasses: 10 });
    const input = formulaInput('input', [4, 32, 32, 3]);
    // Non-trivial running statistics first.
    tf.dispose(forwardWithFeatures(model, input, { training: true }));
    freezeBackbone(model);
    expect(model.trainableWeights.map((weight) => weight.originalName)).toEqual(['linear/kernel']);
    expect(classifierLayer(model).name).toBe('linear');
    const before = snapshot(model);
    const inference = forwardWithFeatures(model, input);
    const frozenTraining = forwardWithFeatures(model, input, { training: true });
    expect(Array.from(frozenTraining.features.dataSync())).toEqual(Array.from(inference.features.dataSync()));
    const optimizer = tf.train.sgd(0.5);
    const upstream = formulaInput('upstream', [4, 10, 1, 1]).reshape([4, 10]);
    optimizer.minimize(() => {
      const { features, logits } = forwardWithFeatures(model, input, { training: true });
      features.dispose();
      return tf.sum(tf.mul(logits, upstream)) as tf.Scalar;
    });
    const after = snapshot(model);
    model.weights.forEach((weight, index) => {
      const changed = after[index].some((value, position) => value !== before[index][position]);
      expect([weight.originalName, changed]).toEqual([weight.originalName, weight.originalName === 'linear/kernel']);
    });
    unfreezeBackbone(model);
    expect(model.trainableWeights).toHaveLength(1 + 31 * 2 + 31);
    const unfrozen = forwardWithFeatures(model, input, { training: true });
    expect(Array.from(unfrozen.features.dataSync())).not.toEqual(Array.from(inference.features.dataSync()));
    tf.dispose([input, upstream, inference, frozenTraining, unfrozen].flatMap((item) => (item instanceof tf.Tensor ? [item] : [item.features, item.logits])));
    optimizer.dispose();
    model.dispose();
  });
});

describe('argument validation', () => {
  it('factories name the bad option', () => {
    expect(() => resnet32({ numClasses: 0 })).toThrow(/resnet32: options\.numClasses must be a positive integer, got 0/);
    expect(() => resnet32({ numClasses: 2.5 })).toThrow(/options\.numClasses/);
    expect(() => resnet50({ numClasses: 10, head: 'linear' as never })).toThrow(/resnet50: options\.head must be 'cosine' or 'dense', got linear/);
    expect(() => resnet20({ numClasses: 10, inputShape: [32, 32] as never })).toThrow(/resnet20: options\.inputShape must be \[height, width, channels\]/);
    expect(() => resnet20(undefined as never)).toThrow(/resnet20: options must be an object/);
  });

  it('forwardWithFeatures names the bad input', () => {
    const model = resnet20({ numClasses: 3 });
    const wrongRank = tf.zeros([2, 32, 32]);
    const wrongSize = tf.zeros([1, 28, 28, 3]);
    const wrongType = tf.zeros([1, 32, 32, 3], 'int32');
    expect(() => forwardWithFeatures(model, wrongRank as never)).toThrow(/input must be a rank-4 NHWC tensor, got rank 3/);
    expect(() => forwardWithFeatures(model, wrongSize as tf.Tensor4D)).toThrow(/input shape \[1,28,28,3\] does not match the model input \[batch, 32, 32, 3\]/);
    expect(() => forwardWithFeatures(model, wrongType as tf.Tensor4D)).toThrow(/input must be float32, got int32/);
    tf.dispose([wrongRank, wrongSize, wrongType]);
    model.dispose();
  });

  it('accepts other input sizes where the architecture allows (ImageNet family at 96×80)', () => {
    const model = resnet50({ numClasses: 2, inputShape: [96, 80, 3] });
    const input = tf.zeros([1, 96, 80, 3]) as tf.Tensor4D;
    const { features, logits } = forwardWithFeatures(model, input);
    expect([features.shape, logits.shape]).toEqual([
      [1, 2048],
      [1, 2],
    ]);
    // Pooled post-ReLU activations: finite and non-negative.
    expect(Array.from(features.dataSync()).every((value) => Number.isFinite(value) && value >= 0)).toBe(true);
    tf.dispose([input, features, logits]);
    model.dispose();
  }, 60_000);
});
