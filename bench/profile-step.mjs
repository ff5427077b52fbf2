#!/usr/bin/env node
// Where a ResNet-32 training step spends its time, kernel by kernel (tf.profile wall time per kernel), for the model
// and loss `npm run bench` uses. Usage: node bench/profile-step.mjs [--backend native] [--batch 128] [--steps 3]
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import { resnet32 } from '@longtail/backbones';
import { GCLLoss } from '@longtail/gcl-loss';

const options = { backend: 'native', batch: 128, steps: 3 };
for (let index = 2; index < process.argv.length; index += 2) {
  const key = process.argv[index].replace(/^--/, '');
  if (!(key in options)) throw new Error(`unknown option --${key} (known: --backend, --batch, --steps)`);
  options[key] = key === 'backend' ? process.argv[index + 1] : Number(process.argv[index + 1]);
}
if (process.env.LONGTAIL_POOL_MIB) (await import('@longtail/backend-native')).setBufferPoolLimit(Number(process.env.LONGTAIL_POOL_MIB));
const selection = await selectBackend({ prefer: options.backend, quiet: true });
if (selection.backend !== options.backend) throw new Error(`backend ${options.backend} unavailable: ${selection.summary}`);
const network = resnet32({ numClasses: 10, head: 'cosine' });
const clsNumList = Array.from({ length: 10 }, (_, index) => Math.floor(5000 * 0.01 ** (index / 9)));
const loss = new GCLLoss({ clsNumList, seed: 0 });
const images = tf.randomNormal([options.batch, 32, 32, 3], 0, 1, 'float32', 1);
const labels = tf.tensor1d(Array.from({ length: options.batch }, (_, index) => index % 10), 'int32');
const optimizer = tf.train.momentum(0.1, 0.9);
const step = () => {
  const value = optimizer.minimize(() => loss.call(network.apply(images, { training: true }), labels), true);
  value.dataSync();
  value.dispose();
};
step();
step();
const byName = new Map();
const byShape = new Map();
let wall = 0;
let cpu = 0;
for (let index = 0; index < options.steps; index += 1) {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const profile = await tf.profile(step);
  const used = process.cpuUsage(cpuBefore);
  cpu += (used.user + used.system) / 1000;
  wall += performance.now() - started;
  for (const kernel of profile.kernels) {
    const milliseconds = await kernel.kernelTimeMs;
    const entry = byName.get(kernel.name) ?? { ms: 0, calls: 0 };
    entry.ms += milliseconds;
    entry.calls += 1;
    byName.set(kernel.name, entry);
    const key = `${kernel.name} ${JSON.stringify(kernel.inputShapes)}`;
    byShape.set(key, (byShape.get(key) ?? 0) + milliseconds);
  }
}
const perStep = (value) => Number((value / options.steps).toFixed(1));
const kernels = [...byName].map(([name, entry]) => ({ name, ms: perStep(entry.ms), calls: entry.calls / options.steps })).sort((a, b) => b.ms - a.ms);
const kernelTotal = kernels.reduce((sum, entry) => sum + entry.ms, 0);
console.log(JSON.stringify({ backend: options.backend, batch: options.batch, wallMsPerStep: perStep(wall), cpuMsPerStep: perStep(cpu), kernelMsPerStep: Number(kernelTotal.toFixed(1)) }));
for (const entry of kernels) console.log(JSON.stringify(entry));
for (const [key, ms] of [...byShape].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 15))) console.log(JSON.stringify({ kernel: key, ms: perStep(ms) }));
