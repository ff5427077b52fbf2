import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import './helpers.js';

const SIZE = 64 * 1024; // above the pooling threshold

function valuesOf(tensor: tf.Tensor): unknown {
  return (tf.backend() as unknown as { data: { get(id: object): { values: unknown } } }).data.get(tensor.dataId).values;
}

describe('recycling of native output buffers', () => {
  it('reuses the array of a disposed native output for the next output of that size', async () => {
    await tf.setBackend('native');
    const x = tf.randomNormal([SIZE]);
    const first = tf.add(x, 1);
    const array = valuesOf(first);
    first.dispose();
    const second = tf.mul(x, 2);
    expect(valuesOf(second)).toBe(array);
    const expected = await runOnCpu((t) => tf.mul(t, 2), x);
    expect(Array.from(second.dataSync())).toEqual(Array.from(expected));
    tf.dispose([x, second]);
  });

  it('never recycles an array that was read out with dataSync', async () => {
    await tf.setBackend('native');
    const x = tf.randomNormal([SIZE]);
    const read = tf.add(x, 1);
    const values = read.dataSync();
    const copy = Float32Array.from(values);
    read.dispose();
    const later = [tf.mul(x, 3), tf.sub(x, 5), tf.relu(x)];
    expect(Array.from(values)).toEqual(Array.from(copy));
    tf.dispose([x, ...later]);
  });

  it('never recycles an array a cpu kernel may have returned a view of (contiguous slice)', async () => {
    await tf.setBackend('native');
    const x = tf.randomNormal([SIZE]);
    const expected = x.dataSync().slice(0, SIZE / 2).map((v) => Math.fround(v + 1));
    const parent = tf.add(x, 1); // never read: only the slice can keep it from being recycled
    const view = tf.slice(parent, [0], [SIZE / 2]); // cpu Slice: a subarray of parent's array
    parent.dispose();
    const later = [tf.mul(x, 3), tf.sub(x, 5), tf.relu(x)];
    expect(Array.from(view.dataSync())).toEqual(Array.from(expected));
    tf.dispose([x, view, ...later]);
  });
});

async function runOnCpu(compute: (t: tf.Tensor) => tf.Tensor, input: tf.Tensor): Promise<Float32Array> {
  const data = input.dataSync().slice();
  await tf.setBackend('cpu');
  const result = tf.tidy(() => compute(tf.tensor(data, input.shape)).dataSync().slice() as Float32Array);
  await tf.setBackend('native');
  return result;
}
