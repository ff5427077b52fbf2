// Images/s of a ResNet-32 training step.
// Usage: node bench/step.mjs [batch=128] [steps=5] [backend=native] [convolutionAlgorithm=auto|im2col]
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend, setConvolutionAlgorithm } from '../dist/index.js';
import { createResNet32, syntheticBatch } from './resnet32.mjs';

const batch = Number(process.argv[2] ?? 128);
const steps = Number(process.argv[3] ?? 5);
const backendName = process.argv[4] ?? 'native';
if (backendName === 'native') {
  registerNativeBackend();
  setConvolutionAlgorithm(process.argv[5] ?? 'auto');
}
await tf.setBackend(backendName);
const model = createResNet32();
const { x, labels } = syntheticBatch(batch);
model.step(x, labels);
const times = [];
for (let s = 0; s < steps; s++) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const faults = process.resourceUsage().minorPageFault;
  const loss = model.step(x, labels);
  times.push(performance.now() - started);
  const used = process.cpuUsage(cpu);
  console.log(`step ${s}: ${times[s].toFixed(0)} ms (cpu ${((used.user + used.system) / 1000).toFixed(0)} ms, sys ${(used.system / 1000).toFixed(0)} ms, ${process.resourceUsage().minorPageFault - faults} page faults) loss ${loss.toFixed(4)} tensors ${tf.memory().numTensors} rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
}
times.sort((p, q) => p - q);
const median = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ backend: backendName, convolutionAlgorithm: process.argv[5] ?? 'auto', batch, medianMs: Math.round(median), imagesPerSecond: +(batch / median * 1000).toFixed(1) }));
