import * as tf from './tf.js';

/** Result of {@link forwardWithFeatures} (a plain object: `tf.dispose(result)` frees both tensors). */
export type FeaturesAndLogits = {
  /** Backbone output after global average pooling, `[batch, featureDimension]` (64 for the CIFAR family, 2048 otherwise). */
  features: tf.Tensor2D;
  /** Classifier output, `[batch, numClasses]` (cosines for the cosine head, unscaled). */
  logits: tf.Tensor2D;
};

/** Options of {@link forwardWithFeatures}. */
export interface ForwardOptions {
  /**
   * Training mode: batch norm normalises with batch statistics and updates its running averages (PyTorch's
   * `model.train()`), except in layers frozen by {@link freezeBackbone}. Default false (inference, `model.eval()`).
   */
  training?: boolean;
}

/**
 * The classifier head of a model built by this package: the layer producing the model's (single) output. Its input is
 * the pooled feature vector.
 */
export function classifierLayer(model: tf.LayersModel): tf.layers.Layer {
  if (model == null || !Array.isArray(model.outputs) || model.outputs.length !== 1) {
    throw new Error('classifierLayer: model must be a tf.LayersModel with exactly one output (the logits)');
  }
  return model.outputs[0].sourceLayer as tf.layers.Layer;
}

// Two-output views (features, logits) sharing the original layers and weights, built once per model.
const featureViews = new WeakMap<tf.LayersModel, tf.LayersModel>();

function featureView(model: tf.LayersModel): tf.LayersModel {
  let view = featureViews.get(model);
  if (view == null) {
    const head = classifierLayer(model);
    const featureTensor = head.input;
    if (Array.isArray(featureTensor)) {
      throw new Error(`forwardWithFeatures: the classifier '${head.name}' must have a single input`);
    }
    view = tf.model({ inputs: model.inputs, outputs: [featureTensor, model.outputs[0]], name: `${model.name}_features` });
    featureViews.set(model, view);
  }
  return view;
}

/**
 * One forward pass returning both the pooled features and the logits (the trainer's call).
 * `input` is NHWC float32 `[batch, height, width, channels]` matching the model's input shape.
 * With `training: true` gradients flow as usual (call it inside `optimizer.minimize`) and unfrozen batch norms update
 * their running statistics. The caller owns (and disposes) both returned tensors.
 */
export function forwardWithFeatures(
  model: tf.LayersModel,
  input: tf.Tensor4D,
  options: ForwardOptions = {},
): FeaturesAndLogits {
  if (!(input instanceof tf.Tensor) || input.rank !== 4) {
    throw new Error(
      `forwardWithFeatures: input must be a rank-4 NHWC tensor, got ${input instanceof tf.Tensor ? `rank ${input.rank}` : typeof input}`,
    );
  }
  if (input.dtype !== 'float32') throw new Error(`forwardWithFeatures: input must be float32, got ${input.dtype}`);
  const expected = model.inputs[0].shape.slice(1);
  const actual = input.shape.slice(1);
  if (expected.some((size, axis) => size != null && size !== actual[axis])) {
    throw new Error(
      `forwardWithFeatures: input shape [${input.shape}] does not match the model input [batch, ${expected.join(', ')}]`,
    );
  }
  const [features, logits] = featureView(model).apply(input, { training: options.training === true }) as tf.Tensor[];
  return { features: features as tf.Tensor2D, logits: logits as tf.Tensor2D };
}

/**
 * Frozen-backbone mode for classifier re-training (GCL stage 2): every layer except the classifier head becomes
 * non-trainable, so `model.trainableWeights` holds only the head's weights, and batch norm stays in inference mode
 * (running statistics used and left untouched) even when called with `training: true`. Saved models keep the flag.
 */
export function freezeBackbone(model: tf.LayersModel): void {
  const head = classifierLayer(model);
  for (const layer of model.layers) layer.trainable = layer === head;
  head.trainable = true;
}

/** Undo {@link freezeBackbone}: every layer trainable again (batch norm follows the `training` flag). */
export function unfreezeBackbone(model: tf.LayersModel): void {
  classifierLayer(model);
  for (const layer of model.layers) layer.trainable = true;
}
