import type * as tf from '@tensorflow/tfjs';

export interface ResNet32 {
  variables: tf.Variable[];
  forward(x: tf.Tensor): tf.Tensor;
  loss(x: tf.Tensor, labels: tf.Tensor): tf.Scalar;
  /** One SGD-momentum step; returns the loss before the update. */
  step(x: tf.Tensor, labels: tf.Tensor): number;
  dispose(): void;
}

export function createResNet32(options?: {
  seed?: number;
  classes?: number;
  blocksPerStage?: number;
  learningRate?: number;
}): ResNet32;

export function syntheticBatch(batch: number, classes?: number, seed?: number, size?: number): { x: tf.Tensor; labels: tf.Tensor };
