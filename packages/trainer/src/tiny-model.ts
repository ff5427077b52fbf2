import * as tf from '@tensorflow/tfjs';

/**
 * Cosine classifier of the tiny test model: `normalize(x) · normalize(W)` over columns, W of shape (in, out),
 * like the backbones package's `NormedLinear` (kept here so the tiny model needs no other package).
 */
class TinyCosineHead extends tf.layers.Layer {
  static className = 'LongtailTinyCosineHead';
  private kernel!: tf.LayerVariable;
  constructor(private readonly units: number) {
    super({ name: 'cosine_head' });
  }
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    this.kernel = this.addWeight('kernel', [shape[shape.length - 1] as number, this.units], 'float32', tf.initializers.glorotUniform({ seed: 7 }));
    this.built = true;
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [(inputShape as tf.Shape)[0], this.units];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const normalize = (t: tf.Tensor, axis: number) => tf.div(t, tf.maximum(tf.norm(t, 'euclidean', axis, true), 1e-12));
      return tf.matMul(normalize(x, 1) as tf.Tensor2D, normalize(this.kernel.read(), 0) as tf.Tensor2D);
    });
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units };
  }
}

/**
 * A tiny convolutional network (two 3×3 convolutions, batch norm, global average pooling, classifier head) for
 * tests and smoke runs; same interface as the backbones: one output (the logits), the head as last layer.
 */
export function tinyModel(options: { numClasses: number; head: 'cosine' | 'dense'; inputShape: [number, number, number] }): tf.LayersModel {
  const input = tf.input({ shape: options.inputShape, name: 'input' });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  const features = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const head =
    options.head === 'cosine'
      ? new TinyCosineHead(options.numClasses)
      : tf.layers.dense({ units: options.numClasses, name: 'dense_head', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
  const logits = head.apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'tiny' });
}
