import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { createResNet32, syntheticBatch } from '../bench/resnet32.mjs';
import { compareBackends } from './helpers.js';

describe('training on the native backend', () => {
  it('gradients of a small conv + batch-norm + relu net equal the cpu backend (1e-4)', () => {
    const error = compareBackends([[4, 10, 10, 3], [3, 3, 3, 8], [3, 3, 8, 16], [16], [16], [16, 5]], (x, w1, w2, gamma, beta, dense) => {
      const loss = (a: tf.Tensor, f1: tf.Tensor, f2: tf.Tensor, g: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => {
        let h: tf.Tensor = tf.relu(tf.conv2d(a as tf.Tensor4D, f1 as tf.Tensor4D, 1, 'same'));
        h = tf.conv2d(h as tf.Tensor4D, f2 as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]);
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        h = tf.relu(tf.batchNorm(h, mean, variance, b, g, 1e-5));
        const logits = tf.matMul(tf.mean(h, [1, 2]), d);
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5), logits);
      };
      return [loss(x, w1, w2, gamma, beta, dense), ...tf.grads(loss)([x, w1, w2, gamma, beta, dense])];
    });
    expect(error).toBeLessThanOrEqual(1e-4);
  });

  it('five ResNet training steps from identical weights give the same losses as cpu (1e-3)', async () => {
    // ResNet-32's code with one block per stage (ResNet-8), batch 2 of 16x16 images: the pure-JS cpu
    // reference would take hours on the full network.
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const model = createResNet32({ blocksPerStage: 1, seed: 11 });
      const { x, labels } = syntheticBatch(2, 10, 7, 16);
      const losses = Array.from({ length: 5 }, () => model.step(x, labels));
      model.dispose();
      x.dispose();
      labels.dispose();
      return losses;
    };
    const cpu = await run('cpu');
    const native = await run('native');
    for (let i = 0; i < 5; i++) expect(Math.abs(native[i] - cpu[i]), `step ${i}`).toBeLessThanOrEqual(1e-3);
    expect(cpu[4]).not.toBe(cpu[0]); // the steps train
  }, 180_000);

  it('no leak: tensor count and RSS stay flat over 200 steps', async () => {
    await tf.setBackend('native');
    const model = createResNet32({ blocksPerStage: 1, seed: 3 });
    const { x, labels } = syntheticBatch(16);
    for (let i = 0; i < 20; i++) model.step(x, labels); // warm-up: optimizer slots, allocator pools
    const tensors = tf.memory().numTensors;
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    for (let i = 0; i < 200; i++) {
      model.step(x, labels);
      if (i % 20 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    const rssAfter = process.memoryUsage().rss;
    expect(tf.memory().numTensors).toBe(tensors);
    // A leak of one activation per step would add 200 x 1 MiB; allow GC timing noise well below that.
    expect((rssAfter - rssBefore) / 2 ** 20).toBeLessThan(64);
    model.dispose();
    x.dispose();
    labels.dispose();
  }, 180_000);
});
