// CPU time per kernel of a ResNet-32 training step on the native backend (robust on a loaded machine).
// Usage: node bench/cpu-profile.mjs [batch=128] [steps=2]
import * as tf from '@tensorflow/tfjs';
import { getKernelCallCounts, registerNativeBackend, resetKernelCallCounts } from '../dist/index.js';
import { createResNet32, syntheticBatch } from './resnet32.mjs';

const batch = Number(process.argv[2] ?? 128);
const steps = Number(process.argv[3] ?? 2);
console.log(registerNativeBackend({ countCalls: true }).threads, 'threads');
await tf.setBackend('native');
const model = createResNet32();
const { x, labels } = syntheticBatch(batch);
model.step(x, labels);
resetKernelCallCounts();
const cpu = process.cpuUsage();
for (let s = 0; s < steps; s++) model.step(x, labels);
const used = process.cpuUsage(cpu);
const total = (used.user + used.system) / 1000 / steps;
const rows = Object.entries(getKernelCallCounts()).map(([name, c]) => [name, c.cpuMicroseconds / 1000 / steps, (c.native + c.fallback) / steps, c.fallback / steps]);
const kernels = rows.reduce((p, r) => p + r[1], 0);
console.log(`cpu per step ${total.toFixed(0)} ms; in native-backend kernels ${kernels.toFixed(0)} ms; other (cpu-only kernels, JS, GC) ${(total - kernels).toFixed(0)} ms`);
for (const [name, ms, calls, fallback] of rows.sort((p, q) => q[1] - p[1])) console.log(`${name.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms ${String(calls).padStart(5)} calls ${fallback ? `(${fallback} cpu fallback)` : ''}`);
