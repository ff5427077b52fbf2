// A minimal ResNet-32 (CIFAR, option-A shortcuts, cosine head) as a tf.LayersModel.
// Used by the benchmark only when @longtail/backbones cannot be loaded.
import * as tf from '@tensorflow/tfjs';

/** Option-A shortcut: subsample by 2 and zero-pad channels (no parameters), as in the CIFAR ResNet paper. */
class OptionAShortcut extends tf.layers.Layer {
  static className = 'BenchOptionAShortcut';
  constructor(config) {
    super(config);
    this.outChannels = config.outChannels;
  }
  computeOutputShape(inputShape) {
    return [inputShape[0], Math.ceil(inputShape[1] / 2), Math.ceil(inputShape[2] / 2), this.outChannels];
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [batch, height, width, channels] = x.shape;
      // stridedSlice has no gradient: subsample with reshape + slice instead (height and width are even here).
      const grouped = tf.reshape(x, [batch, height / 2, 2, width / 2, 2, channels]);
      const subsampled = tf.reshape(tf.slice(grouped, [0, 0, 0, 0, 0, 0], [batch, height / 2, 1, width / 2, 1, channels]), [batch, height / 2, width / 2, channels]);
      const padding = (this.outChannels - channels) / 2;
      return tf.pad(subsampled, [[0, 0], [0, 0], [0, 0], [padding, padding]]);
    });
  }
  getConfig() {
    return { ...super.getConfig(), outChannels: this.outChannels };
  }
}
tf.serialization.registerClass(OptionAShortcut);

/** Cosine classifier: normalize(features) · normalize(W[:, j]), W of shape (in, out). */
class CosineHead extends tf.layers.Layer {
  static className = 'BenchCosineHead';
  constructor(config) {
    super(config);
    this.units = config.units;
  }
  build(inputShape) {
    this.kernel = this.addWeight('kernel', [inputShape[inputShape.length - 1], this.units], 'float32', tf.initializers.randomUniform({ minval: -1, maxval: 1 }));
    this.built = true;
  }
  computeOutputShape(inputShape) {
    return [inputShape[0], this.units];
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const features = tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12));
      const kernel = this.kernel.read();
      const weights = tf.div(kernel, tf.maximum(tf.norm(kernel, 'euclidean', 0, true), 1e-12));
      return tf.matMul(features, weights);
    });
  }
  getConfig() {
    return { ...super.getConfig(), units: this.units };
  }
}
tf.serialization.registerClass(CosineHead);

function convBatchNorm(input, filters, strides) {
  const convolved = tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(input);
  return tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }).apply(convolved);
}

/** ResNet-32 for inputSize×inputSize×3 input (default 32): 3 stages × 5 basic blocks (16, 32, 64 channels). */
export function resnet32({ numClasses = 10, inputSize = 32 } = {}) {
  const input = tf.input({ shape: [inputSize, inputSize, 3] });
  let x = tf.layers.reLU().apply(convBatchNorm(input, 16, 1));
  let channels = 16;
  for (const [stage, filters] of [16, 32, 64].entries()) {
    for (let block = 0; block < 5; block += 1) {
      const strides = stage > 0 && block === 0 ? 2 : 1;
      let residual = tf.layers.reLU().apply(convBatchNorm(x, filters, strides));
      residual = convBatchNorm(residual, filters, 1);
      const shortcut = strides !== 1 || channels !== filters ? new OptionAShortcut({ outChannels: filters }).apply(x) : x;
      x = tf.layers.reLU().apply(tf.layers.add().apply([residual, shortcut]));
      channels = filters;
    }
  }
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x);
  const logits = new CosineHead({ units: numClasses }).apply(pooled);
  return tf.model({ inputs: input, outputs: logits, name: 'resnet32_standin' });
}
