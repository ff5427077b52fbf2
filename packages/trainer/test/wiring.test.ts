/**
 * Wiring of the training pipeline against the method (GCL-METHOD.md), each expectation computed here
 * independently (float64, literals of the method page), not from the library's own constants:
 * PyTorch SGD, the learning rate of every step, DRW, the stage-2 sampler / loss / frozen backbone, mixup with
 * independent GCL noise per term, and an evaluation that changes no weight.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { sampleCloudNoise, gclLoss } from '@longtail/gcl-loss';
import { SeededRandom } from '@longtail/samplers';
import { forwardWithFeatures, tiny as tinyModel } from '@longtail/backbones';
import {
  TorchSgd,
  evaluateModel,
  loadCheckpoint,
  loadTrainingData,
  makeLoss,
  modelWeightRecords,
  readMetrics,
  readStep,
  resolveConfig,
  restoreModelWeights,
  train,
  trainStep,
  type StepRecord,
  type TensorRecord,
  type TrainingData,
} from '../src/index.js';

// What the pipeline hands its collaborators: the batches each stage/epoch sees and the options each GCL call gets.
const seen = vi.hoisted(() => ({
  stage: 0,
  epoch: -1,
  batches: [] as Array<{ stage: number; epoch: number; labels: number[] }>,
  gclCalls: [] as Array<{ stage: number; epoch: number; lossStage: number; m?: number; s?: number; noiseMul?: number; gamma?: number; weight: number[] | null }>,
}));

vi.mock('@longtail/datasets', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@longtail/datasets')>();
  return {
    ...actual,
    batches: async function* (source: Parameters<typeof actual.batches>[0], options: Parameters<typeof actual.batches>[1]) {
      // Training batches carry `epoch: stage * 100000 + epoch`; evaluation batches none.
      const tag = options.epoch;
      for await (const batch of actual.batches(source, options)) {
        if (tag !== undefined) {
          seen.stage = Math.floor(tag / 100_000);
          seen.epoch = tag % 100_000;
          seen.batches.push({ stage: seen.stage, epoch: seen.epoch, labels: Array.from(batch.labels) });
        }
        yield batch;
      }
    },
  };
});

// The trainer builds its losses through the registry: record what it asks the GCL entry for (stage, options) and what
// each call gets (class weights). That the entry computes the method's stage-1 / stage-2 form is tested below and in
// @longtail/gcl-loss.
vi.mock('@longtail/gcl-loss', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@longtail/gcl-loss')>();
  return {
    ...actual,
    getLoss: (name: string) => {
      const spec = actual.getLoss(name);
      if (name !== 'gcl') return spec;
      return {
        ...spec,
        create: (context: Parameters<typeof spec.create>[0]) => {
          const fn = spec.create(context);
          return (...args: Parameters<typeof fn>) => {
            const o = context.options as Record<string, number | undefined>;
            const weight = args[2].weight;
            seen.gclCalls.push({ stage: seen.stage, epoch: seen.epoch, lossStage: context.stage, m: o.m, s: o.s, noiseMul: o.noiseMul, gamma: o.gamma, weight: weight ? [...weight] : null });
            return fn(...args);
          };
        },
      };
    },
  };
});

const sink = { write: () => true, isTTY: false };
const relClose = (actual: number, expected: number, tol = 1e-12) => Math.abs(actual - expected) <= tol * Math.max(Math.abs(expected), 1e-300);

function baseConfig(outputDir: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'wiring',
    outputDir,
    backend: 'cpu',
    progress: 'none',
    seed: 3,
    data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 } },
    model: { backbone: 'tiny' },
    evaluation: { batchSize: 200 },
    ...overrides,
  };
}

function countsOf(labels: ArrayLike<number>, classes: number): number[] {
  const out = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) out[labels[i]]++;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Float64 reference of the GCL loss (cosine form), straight from the method page.
function gclReference(
  cos: ArrayLike<number>,
  labels: ArrayLike<number>,
  noise: ArrayLike<number>,
  counts: number[],
  o: { m: number; s: number; noiseMul: number; weight: number[] | null; stage2: boolean; gamma: number },
): number {
  const C = counts.length;
  const B = labels.length;
  const logMax = Math.log(Math.max(...counts));
  const delta = counts.map((n) => logMax - Math.log(n));
  const maxDelta = Math.max(...delta);
  const per: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < B; i++) {
    const z: number[] = [];
    for (let j = 0; j < C; j++) {
      let v = cos[i * C + j] - (o.noiseMul * Math.abs(noise[i * C + j]) * delta[j]) / maxDelta;
      if (j === labels[i]) v -= o.m;
      z.push(o.s * v);
    }
    const top = Math.max(...z);
    const lse = top + Math.log(z.reduce((acc, v) => acc + Math.exp(v - top), 0));
    per.push(lse - z[labels[i]]);
    w.push(o.weight ? o.weight[labels[i]] : 1);
  }
  if (!o.stage2) {
    // PyTorch's weighted mean Σ w_y ℓ_i / Σ w_y.
    return per.reduce((acc, l, i) => acc + w[i] * l, 0) / w.reduce((a, b) => a + b, 0);
  }
  // Stage 2: ℓ_i = w_y CE_i, loss = mean (1 − e^{−ℓ_i})^γ ℓ_i.
  return per.reduce((acc, l, i) => {
    const li = w[i] * l;
    return acc + Math.pow(1 - Math.exp(-li), o.gamma) * li;
  }, 0) / B;
}

// ---------------------------------------------------------------------------------------------------------------
describe('TorchSgd is PyTorch SGD (dampening 0, no Nesterov): v = μv + g + wd·w, w −= lr·v', () => {
  const w0 = [1.5, -2.0, 0.25, 3.0];
  const u0 = [[0.5, -0.75], [1.25, 2.0]];
  const grads = [
    { a: [0.4, -0.3, 1.2, -0.8], b: [0.1, 0.2, -0.3, 0.4] },
    { a: [-0.6, 0.9, 0.05, 0.7], b: [-0.5, 0.25, 0.6, -0.1] },
    { a: [0.2, 0.2, -1.0, 0.3], b: [0.3, -0.7, 0.15, 0.9] },
  ];
  const lrs = [0.1, 0.05, 0.2];

  /** Float64 PyTorch SGD, three steps. */
  function expected(momentum: number, wd: number): { a: number[]; b: number[] } {
    const params = { a: [...w0], b: u0.flat() };
    const buffers: { a: number[] | null; b: number[] | null } = { a: null, b: null };
    grads.forEach((g, step) => {
      for (const key of ['a', 'b'] as const) {
        const d = g[key].map((gi, i) => gi + wd * params[key][i]);
        let direction = d;
        if (momentum !== 0) {
          // First step: buf = d_p; later buf = μ·buf + d_p.
          buffers[key] = buffers[key] === null ? d : buffers[key]!.map((v, i) => momentum * v + d[i]);
          direction = buffers[key]!;
        }
        params[key] = params[key].map((p, i) => p - lrs[step] * direction[i]);
      }
    });
    return params;
  }

  function run(momentum: number, wd: number): { a: number[]; b: number[] } {
    const a = tf.variable(tf.tensor1d(w0), true, `sgd_a_${momentum}_${wd}`);
    const b = tf.variable(tf.tensor2d(u0), true, `sgd_b_${momentum}_${wd}`);
    const optimizer = new TorchSgd([a, b], { momentum, weightDecay: wd });
    grads.forEach((g, step) => {
      const map = { [a.name]: tf.tensor1d(g.a), [b.name]: tf.tensor2d(g.b, [2, 2]) };
      optimizer.step(map, lrs[step]);
      Object.values(map).forEach((t) => t.dispose());
    });
    const out = { a: Array.from(a.dataSync()), b: Array.from(b.dataSync()) };
    optimizer.dispose();
    a.dispose();
    b.dispose();
    return out;
  }

  const TOL = 1e-6;
  const maxDiff = (x: { a: number[]; b: number[] }, y: { a: number[]; b: number[] }) =>
    Math.max(...x.a.map((v, i) => Math.abs(v - y.a[i])), ...x.b.map((v, i) => Math.abs(v - y.b[i])));

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [momentum, wd, label] of [
    [0.9, 2e-4, 'momentum 0.9, weight decay 2e-4 (the protocol)'],
    [0.9, 0, 'weight decay 0'],
    [0, 2e-4, 'momentum 0'],
    [0.9, 0.05, 'large weight decay'],
  ] as const) {
    it(`${label}: 3 steps with changing lr match float64 PyTorch`, () => {
      const want = expected(momentum, wd);
      // The variants are far apart compared with the tolerance, so a dropped term cannot pass.
      if (wd > 0) expect(maxDiff(want, expected(momentum, 0))).toBeGreaterThan(20 * TOL);
      if (momentum > 0) expect(maxDiff(want, expected(0, wd))).toBeGreaterThan(20 * TOL);
      const got = run(momentum, wd);
      expect(maxDiff(got, want)).toBeLessThan(TOL);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
describe('a tiny two-stage run: learning rates, DRW, the stage-2 sampler and loss, the frozen backbone', () => {
  it(
    'follows the protocol step by step',
    async () => {
      await tf.setBackend('cpu');
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-wiring-'));
      const config = resolveConfig(
        baseConfig(path.join(root, 'a'), {
          stage1: {
            epochs: 5,
            batchSize: 64,
            optimizer: { lr: 0.05 },
            schedule: { warmupEpochs: 2, milestones: [3, 4] },
            drw: { epoch: 3, weighting: 'effective-number' },
            sampler: 'none',
          },
          stage2: { epochs: 3, batchSize: 64, sampler: 'balanced' },
        }),
      );
      const data = await loadTrainingData(config);
      const N = data.train.length;
      const C = data.numClasses;
      const counts = countsOf(data.train.labels, C);
      seen.batches.length = 0;
      seen.gclCalls.length = 0;
      const summary = await train(config, { data, stream: sink });
      expect(summary.stopped).toBe(false);
      const steps = readMetrics(path.join(summary.outputDir, 'metrics.jsonl')).filter((m): m is StepRecord => m.type === 'step');

      // --- learning rate of every step -------------------------------------------------------------------------
      const S1 = Math.ceil(N / 64); // sampler 'none': a permutation of the N images per epoch
      const stage1 = steps.filter((s) => s.stage === 1);
      expect(stage1.length).toBe(5 * S1);
      for (const s of stage1) {
        // Integer warm-up: per epoch, lr·(1 + e)/W for e < W (official code); ×0.1 from 3, ×0.01 from 4.
        const want = s.epoch < 2 ? (0.05 * (1 + s.epoch)) / 2 : s.epoch < 3 ? 0.05 : s.epoch < 4 ? 0.05 * 0.1 : 0.05 * 0.01;
        expect(relClose(s.lr, want), `stage 1 epoch ${s.epoch} step ${s.step}: lr ${s.lr}, want ${want}`).toBe(true);
      }
      const stage2 = steps.filter((s) => s.stage === 2);
      expect(stage2.length).toBe(3 * Math.ceil(N / 64)); // weighted sampler: dataset-length draws
      for (const s of stage2) {
        // Method: effective classifier lr 0.001 · (1 + cos(π e / E)), E = 3 (the default stage-2 lr).
        const want = 0.001 * (1 + Math.cos((Math.PI * s.epoch) / 3));
        expect(relClose(s.lr, want), `stage 2 epoch ${s.epoch}: lr ${s.lr}, want ${want}`).toBe(true);
      }

      // --- DRW: class weights from stage1.drw.epoch on (epoch ≥ 3), not one epoch late ------------------------
      const beta = 0.9999;
      const eff = counts.map((n) => (1 - beta) / (1 - Math.pow(beta, n)));
      const effNorm = eff.map((w) => w / eff.reduce((a, b) => a + b, 0));
      const stage1Calls = seen.gclCalls.filter((c) => c.stage === 1);
      // Mixup (α = 1 by default): two loss terms per step.
      expect(stage1Calls.length).toBe(2 * 5 * S1);
      for (const call of stage1Calls) {
        if (call.epoch < 3) expect(call.weight, `stage 1 epoch ${call.epoch}`).toBeNull();
        else {
          expect(call.weight, `stage 1 epoch ${call.epoch}`).not.toBeNull();
          call.weight!.forEach((w, j) => expect(relClose(w, effNorm[j], 1e-9), `epoch ${call.epoch} class ${j}: ${w} vs ${effNorm[j]}`).toBe(true));
        }
        // Stage-1 GCL: m 0, s 30, noise_mul 0.5, built as the stage-1 form (plain weighted-mean cross-entropy: no γ).
        expect([call.m, call.s, call.noiseMul, call.gamma, call.lossStage]).toEqual([0, 30, 0.5, undefined, 1]);
      }

      // --- stage-2 loss: focalReduction (focal reduction), m 0.1, s 20, γ 1, noise_mul 0.5; no DRW weights ---------
      const stage2Calls = seen.gclCalls.filter((c) => c.stage === 2);
      expect(stage2Calls.length).toBe(2 * stage2.length);
      for (const call of stage2Calls) {
        expect({ m: call.m, s: call.s, noiseMul: call.noiseMul, gamma: call.gamma, lossStage: call.lossStage, weight: call.weight }).toEqual({
          m: config.stage2.loss.m,
          s: 20,
          noiseMul: 0.5,
          gamma: 1,
          lossStage: 2,
          weight: null,
        });
      }
      expect(config.stage2.loss.m).toBe(0.1);

      // --- samplers: stage 1 'none' sees each image once per epoch; stage 2 'balanced' P(c) ∝ n_c · (1/n_c) ---
      for (let epoch = 0; epoch < 5; epoch++) {
        const labels = seen.batches.filter((b) => b.stage === 1 && b.epoch === epoch).flatMap((b) => b.labels);
        expect(countsOf(labels, C), `stage 1 epoch ${epoch}`).toEqual(counts);
      }
      const stage2Labels = seen.batches.filter((b) => b.stage === 2).flatMap((b) => b.labels);
      expect(stage2Labels.length).toBe(3 * N);
      const mass = counts.map((n) => n * (1 / n));
      const expectedP = mass.map((m) => m / mass.reduce((a, b) => a + b, 0));
      const observed = countsOf(stage2Labels, C).map((n) => n / stage2Labels.length);
      const trainP = counts.map((n) => n / N);
      const tv = (p: number[], q: number[]) => 0.5 * p.reduce((acc, v, i) => acc + Math.abs(v - q[i]), 0);
      // The configured rule is far from the training distribution (what the stage-1 sampler would give).
      expect(tv(expectedP, trainP)).toBeGreaterThan(0.25);
      expect(tv(observed, expectedP), `stage-2 class frequencies ${observed.map((p) => p.toFixed(3))}`).toBeLessThan(0.1);

      // --- stage 2 trains only the classifier; the backbone (BN statistics included) is frozen, in eval mode ----
      const ckpt = path.join(summary.outputDir, 'checkpoints');
      const before = (await loadCheckpoint(path.join(ckpt, 'stage1-best.ckpt'))).tensors.model as TensorRecord[];
      const after = (await loadCheckpoint(path.join(ckpt, 'stage2-last.ckpt'))).tensors.model as TensorRecord[];
      expect(after.map((r) => r.name)).toEqual(before.map((r) => r.name));
      const isHead = (name: string) => name.includes('cosine_head');
      expect(before.filter((r) => isHead(r.name)).length).toBe(1);
      expect(before.filter((r) => /moving_(mean|variance)/.test(r.name)).length).toBe(4);
      before.forEach((record, i) => {
        const same = Buffer.compare(Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength), Buffer.from(after[i].data.buffer, after[i].data.byteOffset, after[i].data.byteLength)) === 0;
        expect(same, `${record.name} ${isHead(record.name) ? 'must change' : 'must stay bit-identical'} in stage 2`).toBe(!isHead(record.name));
      });
    },
    120_000,
  );

  it(
    'a fractional warm-up ramps per step',
    async () => {
      await tf.setBackend('cpu');
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-wiring-'));
      const config = resolveConfig(
        baseConfig(path.join(root, 'b'), {
          stage1: { epochs: 2, batchSize: 64, optimizer: { lr: 0.08 }, schedule: { warmupEpochs: 1.5, milestones: [] }, sampler: 'none' },
          stage2: { enabled: false },
        }),
      );
      const data = await loadTrainingData(config);
      const S = Math.ceil(data.train.length / 64);
      const summary = await train(config, { data, stream: sink });
      const steps = readMetrics(path.join(summary.outputDir, 'metrics.jsonl')).filter((m): m is StepRecord => m.type === 'step');
      expect(steps.length).toBe(2 * S);
      for (const s of steps) {
        const t = s.epoch + (s.step + 1) / S;
        const want = t <= 1.5 ? (0.08 * t) / 1.5 : 0.08;
        expect(relClose(s.lr, want), `epoch ${s.epoch} step ${s.step}: lr ${s.lr}, want ${want}`).toBe(true);
      }
    },
    60_000,
  );
});

// ---------------------------------------------------------------------------------------------------------------
describe('the stage-2 loss of makeLoss is the method\'s stage-2 GCL (focal reduction, margin m)', () => {
  it('equals the float64 formula and gclLoss with focalReduction, m, γ; differs from the stage-1 form', () => {
    const config = resolveConfig(baseConfig('/tmp/unused-wiring', {}));
    const counts = [60, 30, 15, 8, 4];
    const B = 6;
    const C = counts.length;
    const random = new SeededRandom(11);
    const labels = [0, 1, 2, 3, 4, 2];
    // Moderately confident cosines (target ~0.5): per-sample losses of order 1, where the focal factor matters.
    const cos = Array.from({ length: B * C }, (_, k) => (k % C === labels[Math.floor(k / C)] ? random.uniform(0.3, 0.7) : random.uniform(-0.3, 0.3)));
    const noise = Array.from({ length: B * C }, () => Math.max(-1, Math.min(1, random.normal(0, 1 / 3))));
    const raw = counts.map((n) => 1 / n);
    const weight = raw.map((w) => (w / raw.reduce((a, b) => a + b, 0)) * C);
    const cosT = tf.tensor2d(cos, [B, C]);
    const labelsT = tf.tensor1d(labels, 'int32');
    const noiseT = tf.tensor2d(noise, [B, C]);
    for (const w of [null, weight]) {
      const fn = makeLoss(config.stage2.loss, counts, 2).fn;
      const got = fn(cosT, labelsT, noiseT, w);
      const value = got.dataSync()[0];
      got.dispose();
      const want = gclReference(cos, labels, noise, counts, { m: 0.1, s: 20, noiseMul: 0.5, weight: w, stage2: true, gamma: 1 });
      expect(Math.abs(value - want), `weight ${w ? 'set' : 'null'}: ${value} vs ${want}`).toBeLessThan(1e-4 * Math.max(1, want));
      const direct = gclLoss(cosT, labelsT, noiseT, { clsNumList: counts, m: 0.1, s: 20, noiseMul: 0.5, weight: w, focalReduction: true, gamma: 1 });
      expect(Math.abs(direct.dataSync()[0] - value)).toBeLessThan(1e-6 * Math.max(1, want));
      direct.dispose();
      // The test tells the variants apart: no margin, or no focal reduction, give other values.
      const noMargin = gclReference(cos, labels, noise, counts, { m: 0, s: 20, noiseMul: 0.5, weight: w, stage2: true, gamma: 1 });
      const noFocal = gclReference(cos, labels, noise, counts, { m: 0.1, s: 20, noiseMul: 0.5, weight: w, stage2: false, gamma: 1 });
      expect(Math.abs(noMargin - want)).toBeGreaterThan(1e-2 * want);
      expect(Math.abs(noFocal - want)).toBeGreaterThan(1e-2 * want);
    }
    // Stage 1 (same options object) is the weighted-mean cross-entropy, not the focal form.
    const stage1 = makeLoss({ ...config.stage2.loss }, counts, 1).fn(cosT, labelsT, noiseT, null);
    const want1 = gclReference(cos, labels, noise, counts, { m: 0.1, s: 20, noiseMul: 0.5, weight: null, stage2: false, gamma: 1 });
    expect(Math.abs(stage1.dataSync()[0] - want1)).toBeLessThan(1e-4 * Math.max(1, want1));
    stage1.dispose();
    tf.dispose([cosT, labelsT, noiseT]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
class RecordingRandom extends SeededRandom {
  lambdas: number[] = [];
  permutations: Int32Array[] = [];
  override beta(alpha: number, betaParam: number = alpha): number {
    const value = super.beta(alpha, betaParam);
    this.lambdas.push(value);
    return value;
  }
  override permutation(n: number): Int32Array {
    const p = super.permutation(n);
    this.permutations.push(Int32Array.from(p));
    return p;
  }
}

describe('the mixup step: λ L(y_a, ε₁) + (1 − λ) L(y_b, ε₂) with independent noise', () => {
  let data: TrainingData;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    data = await loadTrainingData(resolveConfig(baseConfig('/tmp/unused-wiring')));
  });

  it('returns the loss the test computes from the same model output on the mixed input', async () => {
    const config = resolveConfig(baseConfig('/tmp/unused-wiring'));
    const C = data.numClasses;
    const counts = countsOf(data.train.labels, C);
    const model = tinyModel({ numClasses: C, head: 'cosine', inputShape: data.inputShape });
    const B = 16;
    const [h, w, ch] = data.inputShape;
    const gen = new SeededRandom(5);
    const images = Float32Array.from({ length: B * h * w * ch }, () => gen.normal(0, 1));
    const labels = Int32Array.from({ length: B }, (_, i) => (i * 7 + 3) % C);
    const batch = { images, labels, shape: [B, h, w, ch] as [number, number, number, number] };

    // Seed chosen so that λ is well inside (0, 1): both terms matter.
    const random = new RecordingRandom(2);
    const draws: Float32Array[] = [];
    const noise = {
      next(shape: [number, number]) {
        expect(shape).toEqual([B, C]);
        const t = sampleCloudNoise(shape, 1000 + draws.length);
        draws.push(Float32Array.from(t.dataSync()));
        return t;
      },
    };
    const before = await modelWeightRecords(model);
    const trainable = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const optimizer = new TorchSgd(trainable, { momentum: 0.9, weightDecay: 2e-4 });
    const loss = makeLoss(config.stage1.loss, counts, 1);
    const pending = trainStep({ model, batch, training: true, alpha: 1, random, noise, loss: loss.fn, weight: null, variables: trainable, optimizer, lr: 0.05 });
    expect(pending.lambda).toBe(random.lambdas[0]);
    const { lossValue } = await readStep(pending);
    optimizer.dispose();

    expect(random.lambdas.length).toBe(1);
    expect(random.permutations.length).toBe(1);
    const lambda = random.lambdas[0];
    const perm = random.permutations[0];
    expect(lambda).toBeGreaterThan(0.15);
    expect(lambda).toBeLessThan(0.85);
    expect(draws.length).toBe(2);
    const labelsB = Array.from(perm, (p) => labels[p]);
    expect(labelsB.filter((l, i) => l !== labels[i]).length).toBeGreaterThan(B / 2);

    // The same network as in the step (weights restored), on the mixed input computed here.
    restoreModelWeights(model, before);
    const per = h * w * ch;
    const mixed = new Float32Array(images.length);
    for (let i = 0; i < B; i++) for (let k = 0; k < per; k++) mixed[i * per + k] = lambda * images[i * per + k] + (1 - lambda) * images[perm[i] * per + k];
    const cos = tf.tidy(() => forwardWithFeatures(model, tf.tensor4d(mixed, batch.shape), { training: true }).logits).dataSync();
    const L = (y: ArrayLike<number>, eps: Float32Array) => gclReference(cos, y, eps, counts, { m: 0, s: 30, noiseMul: 0.5, weight: null, stage2: false, gamma: 0 });
    const want = lambda * L(labels, draws[0]) + (1 - lambda) * L(labelsB, draws[1]);
    const TOL = 1e-3;
    // Mutants the test must tell apart: one shared draw, or y_a in both terms.
    expect(Math.abs(lambda * L(labels, draws[0]) + (1 - lambda) * L(labelsB, draws[0]) - want)).toBeGreaterThan(10 * TOL);
    expect(Math.abs(lambda * L(labels, draws[0]) + (1 - lambda) * L(labels, draws[1]) - want)).toBeGreaterThan(10 * TOL);
    expect(Math.abs(lossValue - want), `loss ${lossValue}, want ${want}`).toBeLessThan(TOL);
    model.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('evaluation changes no weight', () => {
  it('leaves every weight and batch-norm statistic bit-identical', async () => {
    await tf.setBackend('cpu');
    const config = resolveConfig(baseConfig('/tmp/unused-wiring'));
    const data = await loadTrainingData(config);
    const counts = countsOf(data.train.labels, data.numClasses);
    const model = tinyModel({ numClasses: data.numClasses, head: 'cosine', inputShape: data.inputShape });
    // Non-trivial running statistics (far from what a batch of test images gives).
    const gen = new SeededRandom(9);
    const values = model.weights.map((weight) => {
      const size = weight.shape.reduce((a, b) => (a as number) * (b as number), 1) as number;
      const name = weight.originalName ?? weight.name;
      const fill = /moving_mean/.test(name) ? () => gen.normal(0.7, 0.5) : /moving_variance/.test(name) ? () => gen.uniform(0.3, 3) : null;
      const current = weight.read().dataSync();
      return tf.tensor(fill ? Float32Array.from({ length: size }, fill) : Float32Array.from(current), weight.shape as number[]);
    });
    model.setWeights(values);
    tf.dispose(values);
    const before = await modelWeightRecords(model);
    expect(before.filter((r) => /moving_(mean|variance)/.test(r.name)).length).toBe(4);
    const result = await evaluateModel(model, data, counts, config);
    expect(result.numSamples).toBe(data.test.length);
    const after = await modelWeightRecords(model);
    expect(after.length).toBe(before.length);
    before.forEach((record, i) => {
      const a = Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength);
      const b = Buffer.from(after[i].data.buffer, after[i].data.byteOffset, after[i].data.byteLength);
      expect(Buffer.compare(a, b), `${record.name} changed by evaluation`).toBe(0);
    });
    model.dispose();
  });
});
