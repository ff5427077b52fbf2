import * as tf from '@tensorflow/tfjs';
import { forwardWithFeatures } from '@longtail/backbones';
import type { SeededRandom } from '@longtail/samplers';
import { GRADIENT_BUCKET_ELEMENTS, type BatchShard, type Replicas } from './data-parallel.js';
import type { StepLoss } from './losses.js';
import type { TorchSgd } from './optimizer.js';

/** What {@link trainStep} needs: the network, one batch, mixup, the loss and its inputs, the optimiser and lr. */
export interface StepInput {
  model: tf.LayersModel;
  batch: { images: Float32Array; labels: Int32Array; shape: [number, number, number, number] };
  training: boolean;
  alpha: number;
  random: SeededRandom;
  noise: { next(shape: [number, number]): tf.Tensor2D } | null;
  loss: StepLoss;
  weight: number[] | null;
  variables: tf.Variable[];
  optimizer: TorchSgd;
  lr: number;
  /**
   * Data-parallel runs: this rank's rows of the (global) batch. Mixup's λ and permutation and the noise are drawn
   * for the whole batch, as one process draws them, and a row's mixup partner may lie in another rank's slice.
   * Default: the whole batch.
   */
  shard?: BatchShard;
}

/** What {@link trainStep} leaves on the device: the step's loss and predictions, read later by {@link readStep}. */
export interface PendingStep {
  /** The (mixup-weighted) loss of the step. */
  loss: tf.Scalar;
  /** argmax of the logits, one class per image. */
  predicted: tf.Tensor1D;
  /** Mixup's λ (1 without mixup). */
  lambda: number;
  labelsA: Int32Array;
  labelsB: Int32Array;
}

/**
 * One SGD step with mixup (`λ L(y_a) + (1 − λ) L(y_b)`, λ ~ Beta(α, α), a random permutation pairs the batch;
 * GCL draws independent noise for each term as the official criterion is called twice).
 *
 * Reads nothing back: the batch is uploaded once, and the loss and predictions stay on the device as a
 * {@link PendingStep} until {@link readStep} awaits them, so that a GPU backend runs steps back to back instead of
 * waiting for each one to finish (the caller disposes the step through `readStep`).
 */
export function trainStep(input: StepInput): PendingStep {
  const { optimizer, lr } = input;
  return tf.tidy(() => {
    const step = stepGradients(input);
    if (step.grads === null) throw new Error('trainStep: the batch has no images');
    optimizer.step(step.grads, lr);
    return { loss: step.value as tf.Scalar, predicted: step.predicted as tf.Tensor1D, lambda: step.lambda, labelsA: step.labelsA, labelsB: step.labelsB };
  });
}

/**
 * The step's draws (mixup λ and permutation, noise: always for the whole batch) and, for the shard's rows, the loss,
 * predictions and gradients. Call inside a tidy. An empty shard draws and computes nothing else (`grads` null).
 */
function stepGradients(input: StepInput) {
  const { model, batch, training, alpha, random, noise, loss, weight, variables } = input;
  const size = batch.labels.length;
  const { start, end } = input.shard ?? { start: 0, end: size };
  const rows = end - start;
  const whole = start === 0 && end === size;
  const lambda = alpha > 0 ? random.beta(alpha, alpha) : 1;
  const permutation = alpha > 0 ? random.permutation(size) : null;
  const partners = permutation ? (whole ? permutation : Int32Array.from({ length: rows }, (_, i) => permutation[start + i])) : null;
  const labelsA = whole ? batch.labels : batch.labels.slice(start, end);
  const labelsB = partners ? Int32Array.from(partners, (p) => batch.labels[p]) : labelsA;
  const classes = model.outputs[0].shape[1] as number;
  const rowsOf = (drawn: tf.Tensor2D | null) => (drawn && !whole ? tf.slice(drawn, [start, 0], [rows, classes]) : drawn);
  const noiseA = rowsOf(noise ? noise.next([size, classes]) : null);
  const noiseB = rowsOf(noise && permutation ? noise.next([size, classes]) : null);
  if (rows === 0) return { value: null, grads: null, predicted: null, lambda, labelsA, labelsB };
  const all = tf.tensor4d(batch.images, batch.shape);
  const x = whole ? all : (tf.slice(all, [start, 0, 0, 0], [rows, -1, -1, -1]) as tf.Tensor4D);
  const mixed = partners ? (tf.add(tf.mul(x, lambda), tf.mul(tf.gather(all, tf.tensor1d(partners, 'int32')), 1 - lambda)) as tf.Tensor4D) : x;
  const ya = tf.tensor1d(labelsA, 'int32');
  const yb = tf.tensor1d(labelsB, 'int32');
  let predicted: tf.Tensor1D | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const { logits } = forwardWithFeatures(model, mixed, { training });
    predicted = tf.keep(tf.argMax(logits, 1) as tf.Tensor1D);
    const first = loss(logits, ya, noiseA, weight);
    if (!permutation) return first;
    return tf.add(tf.mul(first, lambda), tf.mul(loss(logits, yb, noiseB, weight), 1 - lambda)) as tf.Scalar;
  }, variables);
  return { value: value as tf.Scalar | null, grads: grads as tf.NamedTensorMap | null, predicted: predicted as tf.Tensor1D | null, lambda, labelsA, labelsB };
}

/**
 * One data-parallel SGD step: this rank's gradient of the mean loss over its shard, weighted by its share of the
 * batch, is flattened into buckets of whole variables ({@link GRADIENT_BUCKET_ELEMENTS} floats), summed over the
 * ranks (all buckets in flight at once), and applied; every rank applies the same sum, so the weights stay identical.
 * The loss and accuracy travel in the last bucket and come back as the global batch's. A variable without a gradient
 * gets zeros (on every rank alike). An empty shard contributes zeros.
 */
export async function trainStepParallel(input: StepInput & { shard: BatchShard }, replicas: Replicas): Promise<{ lossValue: number; accuracy: number }> {
  const { variables, optimizer, lr, shard } = input;
  let step!: ReturnType<typeof stepGradients>;
  // The step's loss, predictions and gradients outlive the tidy (kept by returning them); the rest is disposed.
  const kept = tf.tidy(() => {
    step = stepGradients(input);
    return [step.value, step.predicted, ...Object.values(step.grads ?? {})].filter((t): t is tf.Tensor => t !== null);
  });
  try {
    const sizes = variables.map((variable) => variable.size);
    const reads = await Promise.all([
      ...variables.map((variable) => step.grads?.[variable.name]?.data() ?? Promise.resolve(null)),
      step.value ? step.value.data() : Promise.resolve(null),
      step.predicted ? step.predicted.data() : Promise.resolve(null),
    ]);
    const predicted = reads[variables.length + 1];
    let accuracy = 0;
    if (predicted) {
      let hitsA = 0;
      let hitsB = 0;
      for (let i = 0; i < predicted.length; i++) {
        if (predicted[i] === step.labelsA[i]) hitsA++;
        if (predicted[i] === step.labelsB[i]) hitsB++;
      }
      accuracy = (step.lambda * hitsA + (1 - step.lambda) * hitsB) / predicted.length;
    }
    const lossValue = reads[variables.length]?.[0] ?? 0;
    // Buckets of whole variables; the last one also carries the weighted loss and accuracy.
    const layout: Array<{ bucket: number; offset: number }> = [];
    const bucketSizes: number[] = [0];
    sizes.forEach((size) => {
      const current = bucketSizes.length - 1;
      if (bucketSizes[current] > 0 && bucketSizes[current] + size > GRADIENT_BUCKET_ELEMENTS) bucketSizes.push(0);
      layout.push({ bucket: bucketSizes.length - 1, offset: bucketSizes[bucketSizes.length - 1] });
      bucketSizes[bucketSizes.length - 1] += size;
    });
    bucketSizes[bucketSizes.length - 1] += 2;
    const buckets = bucketSizes.map((size) => new Float32Array(size));
    const w = shard.weight;
    variables.forEach((_, index) => {
      const values = reads[index] as Float32Array | null;
      if (!values) return;
      const target = buckets[layout[index].bucket];
      const offset = layout[index].offset;
      for (let i = 0; i < values.length; i++) target[offset + i] = values[i] * w;
    });
    const last = buckets[buckets.length - 1];
    last[last.length - 2] = lossValue * w;
    last[last.length - 1] = accuracy * w;
    await replicas.sumBuckets(buckets);
    tf.tidy(() => {
      const gradients: tf.NamedTensorMap = {};
      variables.forEach((variable, index) => {
        const { bucket, offset } = layout[index];
        gradients[variable.name] = tf.tensor(buckets[bucket].subarray(offset, offset + sizes[index]), variable.shape, 'float32');
      });
      optimizer.step(gradients, lr);
    });
    return { lossValue: last[last.length - 2], accuracy: last[last.length - 1] };
  } finally {
    tf.dispose(kept);
  }
}

/** Awaits a {@link trainStep}'s loss and predictions (an asynchronous read), disposes them, and scores the step. */
export async function readStep(step: PendingStep): Promise<{ lossValue: number; accuracy: number }> {
  try {
    const [lossValues, predicted] = await Promise.all([step.loss.data(), step.predicted.data()]);
    let hitsA = 0;
    let hitsB = 0;
    for (let i = 0; i < predicted.length; i++) {
      if (predicted[i] === step.labelsA[i]) hitsA++;
      if (predicted[i] === step.labelsB[i]) hitsB++;
    }
    const size = step.labelsA.length;
    return { lossValue: lossValues[0], accuracy: (step.lambda * hitsA + (1 - step.lambda) * hitsB) / size };
  } finally {
    step.loss.dispose();
    step.predicted.dispose();
  }
}
