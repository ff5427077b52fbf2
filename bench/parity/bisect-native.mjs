// Diagnosis helper: which 'native' kernel makes ResNet-20 training gradients differ from cpu's (at initial conv
// weights with perturbed batch-norm γ/β)? Swaps one native kernel at a time for the cpu one (or removes a fused one).
// node bench/parity/bisect-native.mjs
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import * as backbones from '@longtail/backbones';

function rel(a, b) { let d = 0, m = 0; for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); } return d / (m || 1); }
function rand(shape, seed, scale = 1, shift = 0) { return tf.tidy(() => tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale), shift)); }
async function gradients(name) {
  await tf.setBackend(name); await tf.ready();
  return tf.tidy(() => {
    const model = backbones.resnet20({ numClasses: 10, head: 'cosine', inputShape: [16, 16, 3], seed: 0 });
    model.weights.forEach((w, i) => { if (w.trainable && w.shape.length === 1) w.write(tf.add(w.read(), rand(w.shape, 100 + i, 0.05))); });
    const x = rand([8, 16, 16, 3], 7), up = rand([8, 10], 8);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }), up)), model.trainableWeights.map((w) => w.read()));
    const out = model.trainableWeights.map((w) => grads[w.read().name].dataSync().slice());
    model.dispose();
    return out;
  });
}
const selection = await selectBackend({ prefer: 'native', quiet: true });
await tf.setBackend('cpu'); await tf.ready();
const reference = await gradients('cpu');
const worst = (g) => Math.max(...g.map((v, i) => rel(v, reference[i])));
console.log(JSON.stringify({ swapped: null, worst: worst(await gradients('native')) }));
const kernels = tf.getKernelsForBackend('native').map((k) => k.kernelName).filter((n) => n.startsWith('Longtail') || ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', '_FusedMatMul', 'FusedBatchNorm', 'Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'Relu', 'Square', 'Sqrt', 'Rsqrt', 'Exp', 'Log', 'Step', 'Sum', 'Mean', 'AvgPool', 'AvgPoolGrad', 'PadV2', 'Max', 'Transpose'].includes(n));
for (const name of kernels) {
  const original = tf.getKernel(name, 'native');
  const cpu = tf.getKernel(name, 'cpu');
  tf.unregisterKernel(name, 'native');
  if (cpu) tf.registerKernel({ ...cpu, backendName: 'native' });
  let result;
  try { result = worst(await gradients('native')); } catch (error) { result = String(error.message).slice(0, 80); }
  console.log(JSON.stringify({ swapped: name, to: cpu ? 'cpu' : 'removed', worst: result }));
  if (cpu) tf.unregisterKernel(name, 'native');
  tf.registerKernel(original);
}
