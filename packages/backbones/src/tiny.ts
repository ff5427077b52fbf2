import * as tf from './tf.js';
import { NormedLinear } from './layers.js';
import type { BackboneFactory } from './models.js';

/**
 * A tiny convolutional network for tests and smoke runs (not a paper backbone): two 3×3 stride-2 convolutions
 * (8, 16 filters, He-normal), each followed by tfjs batch normalization (momentum 0.9, ε 1e-5) and ReLU, global
 * average pooling, and the classifier head as the last layer — {@link NormedLinear} (`cosine_head`, Glorot-uniform
 * initial kernel) or a dense layer with bias (`dense_head`). Seeded initialisers (1, 2 for the convolutions, 7 or 3
 * for the head) make it the same network on every call; `options.seed` is ignored. No PyTorch weights exist for it.
 */
export const tiny: BackboneFactory = (options) => {
  const numClasses = options?.numClasses;
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`tiny: options.numClasses must be a positive integer, got ${String(numClasses)}`);
  }
  const head = options.head ?? 'cosine';
  const input = tf.input({ shape: options.inputShape ?? [32, 32, 3], name: 'input' });
  const convolution = (filters: number, seed: number) =>
    tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed }) });
  let x = convolution(8, 1).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = convolution(16, 2).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  const features = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const classifier =
    head === 'cosine'
      ? new NormedLinear({ name: 'cosine_head', units: numClasses })
      : tf.layers.dense({ units: numClasses, name: 'dense_head', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
  const logits = classifier.apply(features) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits, name: 'tiny' });
  if (head === 'cosine') {
    const kernel = tf.tidy(() => tf.initializers.glorotUniform({ seed: 7 }).apply([16, numClasses], 'float32'));
    classifier.setWeights([kernel]);
    kernel.dispose();
  }
  return model;
};
