// A ResNet-32 (CIFAR, option-A shortcuts) training step written with the ops the @longtail/backbones
// layers use (conv2d with numeric padding, moments + batchNorm, relu, avgPool/pad shortcut, mean pool,
// dense, softmax cross-entropy, SGD momentum). Used by the profile/benchmark scripts and the tests.
import * as tf from '@tensorflow/tfjs';

function seededUniform(shape, scale, seed) {
  let state = (seed * 2654435761) >>> 0 || 1;
  const size = shape.reduce((p, q) => p * q, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    values[i] = (state / 2147483648 - 1) * scale;
  }
  return tf.tensor(values, shape);
}

/** Creates the parameters (deterministic for a seed) and returns { variables, loss(x, labels), step(x, labels) }. */
export function createResNet32({ seed = 1, classes = 10, blocksPerStage = 5, learningRate = 0.1 } = {}) {
  const variables = [];
  let counter = seed;
  const variable = (shape, scale) => {
    const v = tf.variable(seededUniform(shape, scale, counter++));
    variables.push(v);
    return v;
  };
  const conv = (cin, cout) => variable([3, 3, cin, cout], Math.sqrt(6 / (9 * cin)));
  const bn = (c) => ({ gamma: variable([c], 0).assign(tf.ones([c])) ?? null, beta: variable([c], 0) });
  const fixBn = (c) => {
    const gamma = tf.variable(tf.ones([c]));
    const beta = tf.variable(tf.zeros([c]));
    variables.push(gamma, beta);
    return { gamma, beta };
  };
  const stem = { w: conv(3, 16), bn: fixBn(16) };
  const stages = [];
  let channels = 16;
  for (const [planes, stride] of [[16, 1], [32, 2], [64, 2]]) {
    const blocks = [];
    for (let b = 0; b < blocksPerStage; b++) {
      const s = b === 0 ? stride : 1;
      blocks.push({ w1: conv(channels, planes), bn1: fixBn(planes), w2: conv(planes, planes), bn2: fixBn(planes), stride: s, inC: channels, outC: planes });
      channels = planes;
    }
    stages.push(blocks);
  }
  const dense = { w: variable([64, classes], Math.sqrt(6 / 64)), b: tf.variable(tf.zeros([classes])) };
  variables.push(dense.b);
  void bn;

  const batchNorm = (x, p) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, p.beta, p.gamma, 1e-5);
  };
  const convolve = (x, w, stride) => tf.conv2d(x, w, stride, 1, 'NHWC', 1, 'floor');
  const forward = (x) => {
    let out = tf.relu(batchNorm(convolve(x, stem.w, 1), stem.bn));
    for (const blocks of stages) {
      for (const block of blocks) {
        let y = tf.relu(batchNorm(convolve(out, block.w1, block.stride), block.bn1));
        y = batchNorm(convolve(y, block.w2, 1), block.bn2);
        let shortcut = out;
        if (block.stride !== 1 || block.inC !== block.outC) {
          const pad = (block.outC - block.inC) / 2;
          shortcut = tf.pad(tf.avgPool(out, 1, 2, 'valid'), [[0, 0], [0, 0], [0, 0], [pad, pad]]);
        }
        out = tf.relu(tf.add(y, shortcut));
      }
    }
    const features = tf.mean(out, [1, 2]);
    return tf.add(tf.matMul(features, dense.w), dense.b);
  };
  const optimizer = tf.train.momentum(learningRate, 0.9);
  const loss = (x, labels) => tf.losses.softmaxCrossEntropy(labels, forward(x));
  const step = (x, labels) => {
    const value = optimizer.minimize(() => loss(x, labels), true, variables);
    const result = value.dataSync()[0];
    value.dispose();
    return result;
  };
  const dispose = () => {
    for (const v of variables) v.dispose();
    optimizer.dispose();
  };
  return { variables, forward, loss, step, dispose };
}

export function syntheticBatch(batch, classes = 10, seed = 7, size = 32) {
  const x = seededUniform([batch, size, size, 3], 1, seed);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 7 + seed) % classes), 'int32'), classes).toFloat();
  return { x, labels };
}
