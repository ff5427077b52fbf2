/**
 * The thread pool while the cores are shared: with CPU-bound processes beside it (so that pool threads are
 * descheduled mid-task and wake late, after their job is over), thousands of back-to-back parallel jobs of every
 * size — convolutions (forward and both gradients), batch norm, element-wise ops — give bit for bit what one thread
 * gives (deterministic reductions), with 2 and with 4 threads (more threads than cores).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNumThreads, registerNativeBackend, setDeterministic, setNumThreads } from '../src/index.js';
import { randomTensor } from './helpers.js';

let competitors: ChildProcess[] = [];
let threadsBefore = 1;

beforeAll(async () => {
  registerNativeBackend();
  await tf.setBackend('native');
  setDeterministic(true);
  threadsBefore = getNumThreads();
  competitors = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
});

afterAll(() => {
  for (const child of competitors) child.kill('SIGKILL');
  setNumThreads(threadsBefore);
});

/** A mixed workload: small and large convolutions with their gradients, batch norm moments, element-wise ops. */
function workload(): Float32Array[] {
  const outputs: Float32Array[] = [];
  for (const [batch, size, channels] of [
    [1, 4, 3],
    [2, 8, 16],
    [16, 16, 16],
    [8, 8, 32],
  ] as const) {
    const x = randomTensor([batch, size, size, channels], batch * 7 + size);
    const filter = randomTensor([3, 3, channels, channels], channels);
    const [y, dx, dw] = tf.tidy(() => {
      const f = (input: tf.Tensor4D, w: tf.Tensor4D) => tf.sum(tf.square(tf.relu(tf.conv2d(input, w, 1, 'same'))));
      const grads = tf.grads((input: tf.Tensor, w: tf.Tensor) => f(input as tf.Tensor4D, w as tf.Tensor4D))([x, filter]);
      const moments = tf.moments(x, [0, 1, 2]);
      return [tf.add(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same'), tf.sum(moments.variance)), grads[0], grads[1]];
    });
    for (const t of [y, dx, dw]) outputs.push(t.dataSync() as Float32Array);
    tf.dispose([x, filter, y, dx, dw]);
  }
  return outputs;
}

describe('native thread pool with the cores shared', () => {
  it('back-to-back jobs give the one-thread results exactly, at 2 and 4 threads, under two competing processes', () => {
    setNumThreads(1);
    const reference = workload();
    for (const threads of [2, 4]) {
      setNumThreads(threads);
      for (let round = 0; round < 40; round++) {
        const outputs = workload();
        outputs.forEach((values, index) => {
          const expected = reference[index];
          let differing = 0;
          for (let i = 0; i < values.length; i++) if (!Object.is(values[i], expected[i])) differing++;
          expect(differing, `${threads} threads, round ${round}, output ${index}`).toBe(0);
        });
      }
    }
  }, 120_000);
});
