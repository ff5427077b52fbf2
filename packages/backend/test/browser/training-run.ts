import * as tf from '@tensorflow/tfjs';
import { resnet32 } from '@longtail/backbones';
import { GCLLoss } from '@longtail/gcl-loss';

/** Plain arrays, so the same run can be handed to a browser page. */
export interface TrainingRun {
  /** Initial weights in `model.getWeights()` order. */
  weights: number[][];
  /** NHWC images, `labels.length` of them, `inputSize`² × 3 each. */
  images: number[];
  labels: number[];
  inputSize: number;
  steps: number;
  /** Training images per class, for GCL's cloud sizes. */
  clsNumList: number[];
}

/**
 * Losses of `steps` SGD-momentum steps of `@longtail/backbones`' ResNet-32 (cosine head) under stage-1 GCL (seeded
 * noise) on the active backend. Run by the Node test on cpu and, bundled, by browser pages on wasm and webgpu; each
 * loss is read with `await data()`, since a synchronous read throws on webgpu in Node and stalls it in browsers.
 */
export async function trainingLosses(run: TrainingRun): Promise<number[]> {
  const model = resnet32({ numClasses: run.clsNumList.length, inputShape: [run.inputSize, run.inputSize, 3] });
  model.setWeights(model.getWeights().map((weight, index) => tf.tensor(run.weights[index], weight.shape)));
  const loss = new GCLLoss({ clsNumList: run.clsNumList, seed: 0 });
  const optimizer = tf.train.momentum(0.05, 0.9);
  const images = tf.tensor4d(run.images, [run.labels.length, run.inputSize, run.inputSize, 3]);
  const labels = tf.tensor1d(run.labels, 'int32');
  const losses: number[] = [];
  for (let step = 0; step < run.steps; step += 1) {
    const value = optimizer.minimize(() => loss.call(model.apply(images, { training: true }) as tf.Tensor2D, labels), true) as tf.Scalar;
    losses.push((await value.data())[0]);
    value.dispose();
  }
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
  return losses;
}
