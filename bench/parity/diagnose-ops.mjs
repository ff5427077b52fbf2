// Diagnosis helper for `npm run parity`: gradients of single ops and of a whole ResNet on one backend vs 'cpu'.
// node bench/parity/diagnose-ops.mjs [--backend native]
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import * as backbones from '@longtail/backbones';

const backend = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : 'native';
function rel(a, b) { let d = 0, m = 0; for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); } return d / (m || 1); }
async function onBackend(name, fn) { await tf.setBackend(name); await tf.ready(); return fn(); }
function rand(shape, seed, scale = 1, shift = 0) { return tf.tidy(() => tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale), shift)); }
await selectBackend({ prefer: backend, quiet: true });
const cases = {
  bnTrainingRelu: (gammaShift, betaShift) => {
    const x = rand([8, 6, 6, 16], 1), g = rand([16], 2, 0.2, gammaShift), b = rand([16], 3, 0.2, betaShift), up = rand([8, 6, 6, 16], 4);
    const f = (x, g, b) => tf.sum(tf.mul(backbones.batchNormTraining(x, g, b, 1e-5, 'relu').output, up));
    const grads = tf.grads(f)([x, g, b]);
    return grads.map((t) => t.dataSync().slice());
  },
  bnTrainingLinear: (gammaShift, betaShift) => {
    const x = rand([8, 6, 6, 16], 1), g = rand([16], 2, 0.2, gammaShift), b = rand([16], 3, 0.2, betaShift), up = rand([8, 6, 6, 16], 4);
    const f = (x, g, b) => tf.sum(tf.mul(backbones.batchNormTraining(x, g, b, 1e-5, 'linear').output, up));
    return tf.grads(f)([x, g, b]).map((t) => t.dataSync().slice());
  },
  addRelu: () => {
    const a = rand([8, 6, 6, 16], 1), c = rand([8, 6, 6, 16], 2), up = rand([8, 6, 6, 16], 4);
    return tf.grads((a, c) => tf.sum(tf.mul(backbones.addRelu(a, c), up)))([a, c]).map((t) => t.dataSync().slice());
  },
};
for (const [name, fn] of Object.entries(cases)) {
  for (const [gs, bs] of [[1, 0], [1, 0.3], [0.7, 0]]) {
    const ours = await onBackend(backend, () => fn(gs, bs));
    const cpu = await onBackend('cpu', () => fn(gs, bs));
    console.log(JSON.stringify({ op: name, gammaMean: gs, betaMean: bs, relativeDifferences: ours.map((o, i) => rel(o, cpu[i])) }));
  }
}

// Whole network: training-mode gradients of every variable at the initial weights and at perturbed ones.
async function networkGradients(name, perturb) {
  return onBackend(name, () => {
    const model = backbones.resnet20({ numClasses: 10, head: 'cosine', inputShape: [16, 16, 3], seed: 0 });
    if (perturb) {
      model.weights.forEach((w, i) => {
        if (!w.trainable) return;
        const v = w.read();
        w.write(tf.add(v, tf.mul(rand(v.shape, 100 + i), perturb.includes('all') || v.rank === 1 ? 0.05 : 0)));
      });
    }
    const x = rand([8, 16, 16, 3], 7), up = rand([8, 10], 8);
    const variables = model.trainableWeights.map((w) => w.read());
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }), up)), variables);
    const out = model.trainableWeights.map((w) => ({ name: w.name, values: grads[w.read().name].dataSync().slice() }));
    model.dispose();
    return out;
  });
}
for (const perturb of [null, 'bn', 'all']) {
  const ours = await networkGradients(backend, perturb);
  const cpu = await networkGradients('cpu', perturb);
  const diffs = ours.map((g, i) => [g.name, rel(g.values, cpu[i].values)]).sort((a, b) => b[1] - a[1]);
  console.log(JSON.stringify({ network: 'resnet20', perturb, worst: diffs.slice(0, 4) }));
}
