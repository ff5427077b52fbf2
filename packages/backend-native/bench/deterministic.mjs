// Cost of deterministic reductions: ResNet-32 training steps with setDeterministic(true) and (false) alternating
// in one process (so load on a shared machine hits both alike), plus the filter-gradient kernels alone.
// Usage: node bench/deterministic.mjs [batch=128] [pairs=6] [threads=2] [kernelRounds=5]   (after `npm run build`;
// pairs 0 = kernels only)
import * as tf from '@tensorflow/tfjs';
import { registerNativeBackend, setDeterministic } from '../dist/index.js';
import { createResNet32, syntheticBatch } from './resnet32.mjs';

const batch = Number(process.argv[2] ?? 128);
const pairs = Number(process.argv[3] ?? 6);
const threads = Number(process.argv[4] ?? 2);
const kernelRounds = Number(process.argv[5] ?? 5);
registerNativeBackend({ threads });
await tf.setBackend('native');

const cpuMs = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
};
const median = (values) => [...values].sort((p, q) => p - q)[Math.floor(values.length / 2)];
const measure = (run) => {
  const cpu = cpuMs();
  const started = performance.now();
  run();
  return { wall: performance.now() - started, cpu: cpuMs() - cpu };
};
function compare(label, run, rounds) {
  const results = { true: { wall: [], cpu: [] }, false: { wall: [], cpu: [] } };
  for (const on of [true, false]) {
    setDeterministic(on);
    run(); // warm-up
  }
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so a slow phase of the machine does not always hit the same setting.
    for (const on of round % 2 === 0 ? [true, false] : [false, true]) {
      setDeterministic(on);
      const { wall, cpu } = measure(run);
      results[on].wall.push(wall);
      results[on].cpu.push(cpu);
    }
  }
  const on = { wall: median(results.true.wall), cpu: median(results.true.cpu) };
  const off = { wall: median(results.false.wall), cpu: median(results.false.cpu) };
  console.log(JSON.stringify({
    case: label, threads, rounds,
    deterministicMs: +on.wall.toFixed(1), nondeterministicMs: +off.wall.toFixed(1), wallRatio: +(on.wall / off.wall).toFixed(3),
    deterministicCpuMs: +on.cpu.toFixed(1), nondeterministicCpuMs: +off.cpu.toFixed(1), cpuRatio: +(on.cpu / off.cpu).toFixed(3),
  }));
}

// Filter gradients of the ResNet-32 layers (direct kernels, and the 3-channel stem on im2col).
for (const [size, cin, cout, stride] of [[32, 3, 16, 1], [32, 16, 16, 1], [32, 16, 32, 2], [16, 32, 32, 1], [8, 64, 64, 1]]) {
  const x = tf.randomNormal([batch, size, size, cin], 0, 1, 'float32', 1);
  const outSize = size / stride;
  const dy = tf.randomNormal([batch, outSize, outSize, cout], 0, 1, 'float32', 2);
  const attributes = { strides: stride, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape: [3, 3, cin, cout] };
  const run = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attributes).dispose();
  compare(`Conv2DBackpropFilter ${size}x${size} ${cin}->${cout} stride ${stride}`, () => { for (let i = 0; i < 5; i++) run(); }, kernelRounds);
  tf.dispose([x, dy]);
}

if (pairs > 0) {
  const model = createResNet32();
  const { x, labels } = syntheticBatch(batch);
  compare(`ResNet-32 training step, batch ${batch}`, () => model.step(x, labels), pairs);
}
