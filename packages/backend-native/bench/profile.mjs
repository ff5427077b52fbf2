// Per-kernel time of a ResNet-32 training step on the native backend.
// Usage: node bench/profile.mjs [batch=128] [steps=3] [backend=native] [convolutionAlgorithm=auto|im2col]
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend, setConvolutionAlgorithm } from '../dist/index.js';
import { createResNet32, syntheticBatch } from './resnet32.mjs';

const batch = Number(process.argv[2] ?? 128);
const steps = Number(process.argv[3] ?? 3);
const backendName = process.argv[4] ?? 'native';
if (backendName === 'native') {
  console.log(registerNativeBackend());
  setConvolutionAlgorithm(process.argv[5] ?? 'auto');
}
await tf.setBackend(backendName);
const model = createResNet32();
const { x, labels } = syntheticBatch(batch);
model.step(x, labels); // warm-up
let total = 0;
const perKernel = new Map();
for (let s = 0; s < steps; s++) {
  const started = performance.now();
  const profile = await tf.profile(() => { model.step(x, labels); });
  total += performance.now() - started;
  for (const k of profile.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = perKernel.get(key) ?? { name: k.name, ms: 0, calls: 0 };
    e.ms += await k.kernelTimeMs; e.calls++;
    perKernel.set(key, e);
  }
}
const byName = new Map();
for (const e of perKernel.values()) {
  const t = byName.get(e.name) ?? { ms: 0, calls: 0 };
  t.ms += e.ms / steps; t.calls += e.calls / steps;
  byName.set(e.name, t);
}
const sum = [...byName.values()].reduce((p, q) => p + q.ms, 0);
console.log(`step ${(total / steps).toFixed(0)} ms (profiled), kernels ${sum.toFixed(0)} ms, ${(batch / (total / steps) * 1000).toFixed(1)} img/s`);
for (const [name, t] of [...byName].sort((p, q) => q[1].ms - p[1].ms).slice(0, 25)) {
  console.log(`${name.padEnd(24)} ${t.ms.toFixed(1).padStart(8)} ms ${String(t.calls).padStart(5)} calls`);
}
const top = [...perKernel.entries()].sort((p, q) => q[1].ms - p[1].ms).slice(0, 15);
for (const [key, e] of top) console.log(`${(e.ms / steps).toFixed(1).padStart(8)} ms  ${key}`);
