import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

// A gradient that another package wrapped before the native backend was registered (as @longtail/backend's wasm
// path wraps Mean, Sum and FusedBatchNorm) must keep running on every other backend.
const previousRelu = tf.getGradient(tf.Relu)!;
let previousCalls = 0;
tf.registerGradient({
  ...previousRelu,
  gradFunc: (dy, saved, attrs) => {
    previousCalls += 1;
    return previousRelu.gradFunc(dy, saved, attrs);
  },
});

const { registerNativeBackend, getKernelCallCounts, resetKernelCallCounts } = await import('../src/index.js');
registerNativeBackend({ countCalls: true });

function reluGradient(backend: string): number[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor1d([-2, -0.5, 0.5, 2, 3]);
    const dy = tf.tensor1d([1, 2, 3, 4, 5]);
    return Array.from(tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.relu(input), dy)))(x).dataSync());
  });
}

describe('native gradient overrides wrap the previously registered gradients', () => {
  it('off the native backend the previous gradient runs (and gives the right values)', () => {
    previousCalls = 0;
    expect(reluGradient('cpu')).toEqual([0, 0, 3, 4, 5]);
    expect(previousCalls).toBe(1);
  });

  it('on the native backend the fused kernel runs instead, with the same values', () => {
    previousCalls = 0;
    resetKernelCallCounts();
    expect(reluGradient('native')).toEqual([0, 0, 3, 4, 5]);
    expect(previousCalls).toBe(0);
    expect(getKernelCallCounts().LongtailReluGrad?.native).toBe(1);
  });
});
