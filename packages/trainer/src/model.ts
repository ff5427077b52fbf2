import * as tf from '@tensorflow/tfjs';
import type { BackboneName, LossName, RunConfig } from './config';
import type { TensorRecord } from './checkpoint';
import { tinyModel } from './tiny-model';
import { backbones, loadPyTorchWeights } from '@longtail/backbones';

/** Head chosen by `model.head: 'auto'`: the cosine classifier for GCL and LDAM (as the official code), dense otherwise. */
export function resolveHead(head: RunConfig['model']['head'], loss: LossName): 'cosine' | 'dense' {
  if (head !== 'auto') return head;
  return loss === 'gcl' || loss === 'gcl-angular' || loss === 'ldam' ? 'cosine' : 'dense';
}

/**
 * Builds the configured network: `tiny` (this package's test network) or a `@longtail/backbones` factory
 * (`resnet32`, `resnet50`, …) with the given head. With `pretrained`, PyTorch weights from a `.safetensors` file are
 * imported into the backbone (the classifier head is left at its initial values: a new head for the new classes, as
 * for Places-LT from ImageNet weights).
 */
export async function buildModel(
  backbone: BackboneName,
  options: { numClasses: number; head: 'cosine' | 'dense'; inputShape: [number, number, number]; pretrained?: string | null; seed?: number },
): Promise<tf.LayersModel> {
  if (backbone === 'tiny') {
    if (options.pretrained) throw new Error('model.pretrained needs a backbone from @longtail/backbones, not "tiny"');
    return tinyModel(options);
  }
  const factory = backbones[backbone];
  const model = factory({ numClasses: options.numClasses, head: options.head, inputShape: options.inputShape, seed: options.seed });
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

/** The classifier layer: the layer producing the model's single output. */
export function headLayer(model: tf.LayersModel): tf.layers.Layer {
  return model.outputs[0].sourceLayer as tf.layers.Layer;
}

const views = new WeakMap<tf.LayersModel, tf.LayersModel>();

/** Features (the head's input) and logits in one pass. */
export function featuresAndLogits(model: tf.LayersModel, input: tf.Tensor4D, training: boolean): { features: tf.Tensor2D; logits: tf.Tensor2D } {
  let view = views.get(model);
  if (!view) {
    const head = headLayer(model);
    view = tf.model({ inputs: model.inputs, outputs: [head.input as tf.SymbolicTensor, model.outputs[0]] });
    views.set(model, view);
  }
  const [features, logits] = view.apply(input, { training }) as tf.Tensor[];
  return { features: features as tf.Tensor2D, logits: logits as tf.Tensor2D };
}

/** All weights (trainable and batch-norm statistics) as checkpoint records, in `model.weights` order. */
export async function modelWeightRecords(model: tf.LayersModel): Promise<TensorRecord[]> {
  // Asynchronous reads: a synchronous one throws on webgpu in Node and stalls any GPU backend.
  const values = await Promise.all(model.weights.map((weight) => weight.read().data()));
  return model.weights.map((weight, index) => ({
    name: `${index}:${weight.originalName ?? weight.name}`,
    shape: weight.shape.map((s) => s as number),
    dtype: 'float32' as const,
    data: Float32Array.from(values[index] as Float32Array),
  }));
}

/** Restores weights saved by {@link modelWeightRecords}; throws naming the first mismatching weight. */
export function restoreModelWeights(model: tf.LayersModel, records: TensorRecord[]): void {
  const weights = model.weights;
  if (records.length !== weights.length) {
    throw new Error(`checkpoint has ${records.length} weights, the model has ${weights.length} (different backbone or head?)`);
  }
  weights.forEach((weight, index) => {
    const record = records[index];
    if (record.shape.join(',') !== weight.shape.join(',')) {
      throw new Error(`checkpoint weight ${record.name} has shape [${record.shape}], the model's ${weight.name} has [${weight.shape}]`);
    }
  });
  const tensors = records.map((record) => tf.tensor(record.data, record.shape, 'float32'));
  model.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
}
