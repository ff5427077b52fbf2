import * as tf from '@tensorflow/tfjs';
import { getBackbone, loadPyTorchWeights } from '@longtail/backbones';
import type { TensorRecord } from './checkpoint.js';

// The weight order of a model as built (every layer trainable): freezing layers reorders `model.weights` (tfjs lists
// trainable weights first), so checkpoints use this order, fixed the first time a model is seen.
const weightOrders = new WeakMap<tf.LayersModel, tf.LayerVariable[]>();

/**
 * The model's weights in a fixed order: `model.weights` as it was when the model was first seen (built by
 * {@link buildModel}: all layers trainable), whatever layers are frozen since.
 */
export function stableWeights(model: tf.LayersModel): tf.LayerVariable[] {
  let order = weightOrders.get(model);
  if (!order) {
    order = [...model.weights];
    weightOrders.set(model, order);
  }
  return order;
}

/**
 * Builds the configured network from `@longtail/backbones`' registry (`model.backbone`: a built-in or one
 * registered with `registerBackbone`) with the given head. With `pretrained`, PyTorch weights from a
 * `.safetensors` file are imported into the backbone (the classifier head is left at its initial values: a new head
 * for the new classes, as for Places-LT from ImageNet weights).
 */
export async function buildModel(
  backbone: string,
  options: { numClasses: number; head: 'cosine' | 'dense'; inputShape: [number, number, number]; pretrained?: string | null; seed?: number },
): Promise<tf.LayersModel> {
  const spec = getBackbone(backbone);
  if (options.pretrained && !spec.pytorchWeights) {
    throw new Error(`model.pretrained: backbone "${backbone}" has no PyTorch weights to import (use a backbone whose layers follow a PyTorch state dict)`);
  }
  const model = spec.create({ numClasses: options.numClasses, head: options.head, inputShape: options.inputShape, seed: options.seed });
  stableWeights(model);
  if (options.pretrained) {
    try {
      await loadPyTorchWeights(model, options.pretrained, { skipClassifier: true });
    } catch (error) {
      model.dispose();
      throw new Error(`model.pretrained ${options.pretrained}: ${(error as Error).message}`);
    }
  }
  return model;
}

/** All weights (trainable and batch-norm statistics) as checkpoint records, in {@link stableWeights} order. */
export async function modelWeightRecords(model: tf.LayersModel): Promise<TensorRecord[]> {
  const weights = stableWeights(model);
  // Asynchronous reads: a synchronous one throws on webgpu in Node and stalls any GPU backend.
  const values = await Promise.all(weights.map((weight) => weight.read().data()));
  return weights.map((weight, index) => ({
    name: `${index}:${weight.originalName ?? weight.name}`,
    shape: weight.shape.map((s) => s as number),
    dtype: 'float32' as const,
    data: Float32Array.from(values[index] as Float32Array),
  }));
}

/** Restores weights saved by {@link modelWeightRecords}; throws naming the first mismatching weight. */
export function restoreModelWeights(model: tf.LayersModel, records: TensorRecord[]): void {
  const weights = stableWeights(model);
  if (records.length !== weights.length) {
    throw new Error(`checkpoint has ${records.length} weights, the model has ${weights.length} (different backbone or head?)`);
  }
  weights.forEach((weight, index) => {
    const record = records[index];
    if (record.shape.join(',') !== weight.shape.join(',')) {
      throw new Error(`checkpoint weight ${record.name} has shape [${record.shape}], the model's ${weight.name} has [${weight.shape}]`);
    }
  });
  weights.forEach((weight, index) => {
    const value = tf.tensor(records[index].data, records[index].shape, 'float32');
    weight.write(value);
    value.dispose();
  });
}
