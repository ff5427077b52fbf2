/**
 * Tests that catch wiring errors: the focal exponent, the stage-2 reduction and every documented default, each checked
 * against an independent float64 evaluation of the formula in GCL-METHOD.md with the paper's literal values.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { crossEntropy, focalLoss, gclAngularLoss, GCLLoss, gclLoss, ldamLoss, ldamMargins, logitAdjustedLoss } from '../src/index.js';

// ---------------------------------------------------------------------------------------------------------------
// Fixed, float32-exact inputs (a small LCG, so nothing here depends on tfjs' or the library's generators).

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
function matrix(rows: number, cols: number, seed: number, low: number, high: number): number[][] {
  const next = lcg(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.fround(low + (high - low) * next())));
}

const COUNTS = [500, 200, 80, 20, 5];
const B = 8;
const C = COUNTS.length;
const COSINE = matrix(B, C, 11, -0.9, 0.9);
const NOISE = matrix(B, C, 12, -1, 1);
const LABELS = [0, 1, 2, 3, 4, 4, 2, 0];
const LOGITS = matrix(B, C, 13, -3, 3);
const WEIGHT = [0.05, 0.1, 0.2, 0.3, 0.35];

// ---------------------------------------------------------------------------------------------------------------
// Independent float64 references.

function softmaxRow(z: number[]): { logSumExp: number; probabilities: number[] } {
  const max = Math.max(...z);
  const sum = z.reduce((a, v) => a + Math.exp(v - max), 0);
  return { logSumExp: max + Math.log(sum), probabilities: z.map((v) => Math.exp(v - max) / sum) };
}

/**
 * Loss and d loss / d logits of CE over rows of logits, either PyTorch's weighted mean (focal = null) or the focal
 * reduction mean_i (1 − e^{−ℓ_i})^γ ℓ_i with ℓ_i = w_{y_i} CE_i and the factor held constant.
 */
function referenceReduction(logits: number[][], labels: number[], weight: number[] | null, focalGamma: number | null) {
  const w = (y: number) => (weight === null ? 1 : weight[y]);
  const rows = logits.map((z, i) => {
    const { logSumExp, probabilities } = softmaxRow(z);
    const ce = logSumExp - z[labels[i]];
    const d = probabilities.map((p, j) => p - (j === labels[i] ? 1 : 0));
    return { ce, d };
  });
  if (focalGamma === null) {
    const total = labels.reduce((a, y) => a + w(y), 0);
    const loss = rows.reduce((a, r, i) => a + w(labels[i]) * r.ce, 0) / total;
    const grad = rows.map((r, i) => r.d.map((g) => (w(labels[i]) * g) / total));
    return { loss, grad };
  }
  const factors = rows.map((r, i) => Math.pow(1 - Math.exp(-w(labels[i]) * r.ce), focalGamma));
  const loss = rows.reduce((a, r, i) => a + factors[i] * w(labels[i]) * r.ce, 0) / rows.length;
  const grad = rows.map((r, i) => r.d.map((g) => (factors[i] * w(labels[i]) * g) / rows.length));
  return { loss, grad };
}

interface ReferenceGclOptions {
  m: number;
  s: number;
  noiseMul: number;
  weight: number[] | null;
  focalReduction: boolean;
  gamma: number;
}

/** GCL (cosine form), GCL-METHOD.md: z = cos − noise_mul·|ε|·δ_j/max δ − m·[j = y], logits s·z. */
function referenceGcl(o: ReferenceGclOptions) {
  const logMax = Math.log(Math.max(...COUNTS));
  const delta = COUNTS.map((n) => logMax - Math.log(n));
  const maxDelta = Math.max(...delta);
  const logits = COSINE.map((row, i) =>
    row.map((c, j) => o.s * (c - (o.noiseMul * Math.abs(NOISE[i][j]) * delta[j]) / maxDelta - (j === LABELS[i] ? o.m : 0))),
  );
  const { loss, grad } = referenceReduction(logits, LABELS, o.weight, o.focalReduction ? o.gamma : null);
  return { loss, grad: grad.map((row) => row.map((g) => o.s * g)) };
}

/** Angular GCL: margin |(π/2)·ε·noise·δ_j/max δ| + m·[j = y]; cos(θ + margin) with the official fallback. */
function referenceAngular(o: { m: number; epsilon: number; s: number; focalReduction: boolean; gamma: number }): number {
  const logMax = Math.log(Math.max(...COUNTS));
  const delta = COUNTS.map((n) => logMax - Math.log(n));
  const maxDelta = Math.max(...delta);
  const logits = COSINE.map((row, i) =>
    row.map((c, j) => {
      const margin = Math.abs(((Math.PI / 2) * o.epsilon * NOISE[i][j] * delta[j]) / maxDelta) + (j === LABELS[i] ? o.m : 0);
      const phi = c > Math.cos(Math.PI - margin) ? Math.cos(Math.acos(c) + margin) : c - Math.sin(Math.PI - margin);
      return o.s * phi;
    }),
  );
  return referenceReduction(logits, LABELS, null, o.focalReduction ? o.gamma : null).loss;
}

function relative(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
}
function maxAbs(actual: ArrayLike<number>, expected: number[][]): number {
  const flat = expected.flat();
  let worst = 0;
  for (let i = 0; i < flat.length; i++) worst = Math.max(worst, Math.abs(actual[i] - flat[i]));
  return worst;
}

/** Value and gradient of a loss of one B×C input, as plain numbers; no tensors left behind. */
function evaluate(input: number[][], loss: (x: tf.Tensor2D) => tf.Scalar): { value: number; grad: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor2d(input);
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => loss(t as tf.Tensor2D))(x);
    return { value: value.dataSync()[0], grad: grad.dataSync() as Float32Array };
  });
}

const labels = () => tf.tensor1d(LABELS, 'int32');
const noise = () => tf.tensor2d(NOISE);

// ---------------------------------------------------------------------------------------------------------------

describe('focal exponent: (1 − p)^γ, not (1 − p)·γ', () => {
  it('the inputs give per-sample losses where the two forms differ (ℓ between 0.05 and 8)', () => {
    const ce = LOGITS.map((z, i) => softmaxRow(z).logSumExp - z[LABELS[i]]);
    expect(Math.min(...ce)).toBeGreaterThan(0.05);
    expect(Math.max(...ce)).toBeLessThan(8);
  });

  for (const gamma of [0.5, 1, 2, 3]) {
    for (const weight of [null, WEIGHT]) {
      it(`focalLoss γ = ${gamma}${weight ? ', weighted' : ''}: loss and gradient equal the float64 formula`, () => {
        const expected = referenceReduction(LOGITS, LABELS, weight, gamma);
        const { value, grad } = evaluate(LOGITS, (x) => tf.tidy(() => focalLoss(x, labels(), { gamma, weight })));
        expect(relative(value, expected.loss)).toBeLessThan(2e-5);
        expect(maxAbs(grad, expected.grad)).toBeLessThan(1e-5);
        if (gamma !== 1) {
          // The multiplicative mutant (1 − p)·γ would be this far off: make sure the tolerance can see it.
          const ce = LOGITS.map((z, i) => (weight ? weight[LABELS[i]] : 1) * (softmaxRow(z).logSumExp - z[LABELS[i]]));
          const mutant = ce.reduce((a, l) => a + (1 - Math.exp(-l)) * gamma * l, 0) / B;
          expect(relative(mutant, expected.loss)).toBeGreaterThan(1e-2);
        }
      });
    }
  }

  for (const gamma of [0.5, 1, 2, 3]) {
    it(`gclLoss stage 2 (focalReduction, m 0.1, s 20, noise_mul 0.5, EffectNum-style weights) γ = ${gamma}`, () => {
      const o = { m: 0.1, s: 20, noiseMul: 0.5, weight: WEIGHT, focalReduction: true, gamma };
      const expected = referenceGcl(o);
      const { value, grad } = evaluate(COSINE, (x) => tf.tidy(() => gclLoss(x, labels(), noise(), { clsNumList: COUNTS, ...o })));
      expect(relative(value, expected.loss)).toBeLessThan(2e-5);
      expect(maxAbs(grad, expected.grad)).toBeLessThan(1e-4);
      // Unweighted: ℓ_i is the plain CE_i.
      const unweighted = { ...o, weight: null };
      const expectedUnweighted = referenceGcl(unweighted);
      const direct = evaluate(COSINE, (x) => tf.tidy(() => gclLoss(x, labels(), noise(), { clsNumList: COUNTS, ...unweighted })));
      expect(relative(direct.value, expectedUnweighted.loss)).toBeLessThan(2e-5);
    });

    it(`gclAngularLoss stage 2 (focalReduction) γ = ${gamma}`, () => {
      const o = { m: 0.5, epsilon: 0.1, s: 30, focalReduction: true, gamma };
      const expected = referenceAngular(o);
      const value = tf.tidy(() => gclAngularLoss(tf.tensor2d(COSINE), labels(), noise(), { clsNumList: COUNTS, ...o }).dataSync()[0]);
      expect(relative(value, expected)).toBeLessThan(5e-5);
    });
  }
});

describe('documented defaults are the paper literals (default call = literal call = float64 formula)', () => {
  it('gclLoss: m = 0, s = 30, noise_mul = 0.5, weight null, focalReduction false (stage 1)', () => {
    const literal = { m: 0, s: 30, noiseMul: 0.5, weight: null, focalReduction: false, gamma: 0 };
    const expected = referenceGcl(literal);
    const byDefault = evaluate(COSINE, (x) => tf.tidy(() => gclLoss(x, labels(), noise(), { clsNumList: COUNTS })));
    const byLiteral = evaluate(COSINE, (x) => tf.tidy(() => gclLoss(x, labels(), noise(), { clsNumList: COUNTS, ...literal })));
    expect(byDefault.value).toBe(byLiteral.value);
    expect(relative(byDefault.value, expected.loss)).toBeLessThan(2e-5);
    expect(maxAbs(byDefault.grad, expected.grad)).toBeLessThan(1e-4);
    // Each default matters for these inputs: changing any one of them moves the loss.
    for (const changed of [{ m: 0.1 }, { s: 20 }, { noiseMul: 1 }]) {
      expect(relative(referenceGcl({ ...literal, ...changed }).loss, expected.loss), JSON.stringify(changed)).toBeGreaterThan(1e-3);
    }
    // focalReduction only shows with weights or γ: by default a weighted call is PyTorch's weighted mean, not the focal form.
    const weighted = { ...literal, weight: WEIGHT, gamma: 2 };
    const expectedWeighted = referenceGcl(weighted).loss;
    const value = tf.tidy(() =>
      gclLoss(tf.tensor2d(COSINE), labels(), noise(), { clsNumList: COUNTS, weight: WEIGHT, gamma: 2 }).dataSync()[0],
    );
    expect(relative(value, expectedWeighted)).toBeLessThan(2e-5);
    expect(relative(referenceGcl({ ...weighted, focalReduction: true }).loss, expectedWeighted)).toBeGreaterThan(1e-2);
  });

  it('gclLoss with focalReduction: the focal exponent defaults to 0 (documented; the paper passes γ = 1 explicitly)', () => {
    const literal = { m: 0.1, s: 20, noiseMul: 0.5, weight: WEIGHT, focalReduction: true, gamma: 0 };
    const expected = referenceGcl(literal);
    const { gamma: _gamma, ...withoutGamma } = literal;
    const value = tf.tidy(() => gclLoss(tf.tensor2d(COSINE), labels(), noise(), { clsNumList: COUNTS, ...withoutGamma }).dataSync()[0]);
    expect(relative(value, expected.loss)).toBeLessThan(2e-5);
    expect(relative(referenceGcl({ ...literal, gamma: 1 }).loss, expected.loss)).toBeGreaterThan(1e-2);
  });

  it('GCLLoss (draws its own noise) resolves the same defaults as gclLoss', () => {
    // The seeded stream's first draw is sampleCloudNoise(shape, seed); compare the class with the function on it.
    const cosine = tf.tensor2d(COSINE);
    const y = labels();
    const own = new GCLLoss({ clsNumList: COUNTS, seed: 4 });
    const literal = new GCLLoss({ clsNumList: COUNTS, seed: 4, m: 0, s: 30, noiseMul: 0.5, focalReduction: false, gamma: 0, weight: null });
    const a = own.call(cosine, y);
    const b = literal.call(cosine, y);
    expect(a.dataSync()[0]).toBe(b.dataSync()[0]);
    tf.dispose([cosine, y, a, b]);
  });

  it('gclAngularLoss: m = 0.5, epsilon = 0.1, s = 30, easyMargin false', () => {
    const literal = { m: 0.5, epsilon: 0.1, s: 30, focalReduction: false, gamma: 0 };
    const expected = referenceAngular(literal);
    const run = (extra: object) =>
      tf.tidy(() => gclAngularLoss(tf.tensor2d(COSINE), labels(), noise(), { clsNumList: COUNTS, ...extra }).dataSync()[0]);
    const byDefault = run({});
    expect(byDefault).toBe(run({ ...literal, easyMargin: false, weight: null }));
    expect(relative(byDefault, expected)).toBeLessThan(5e-5);
    for (const changed of [{ m: 0.3 }, { epsilon: 0.2 }, { s: 20 }]) {
      expect(relative(referenceAngular({ ...literal, ...changed }), expected), JSON.stringify(changed)).toBeGreaterThan(1e-3);
    }
  });

  it('ldamLoss: max_m = 0.5, s = 30; margins m_j = 0.5 · n_j^(−1/4) / max_k n_k^(−1/4)', () => {
    const margins = COUNTS.map((n) => Math.pow(n, -0.25) / Math.pow(Math.min(...COUNTS), -0.25)).map((r) => 0.5 * r);
    expect(Math.max(...ldamMargins(COUNTS).map((m, j) => Math.abs(m - margins[j])))).toBeLessThan(1e-12);
    expect(margins[C - 1]).toBeCloseTo(0.5, 12);
    const logits = COSINE.map((row, i) => row.map((c, j) => 30 * (c - (j === LABELS[i] ? margins[j] : 0))));
    const expected = referenceReduction(logits, LABELS, null, null);
    const byDefault = evaluate(COSINE, (x) => tf.tidy(() => ldamLoss(x, labels(), { clsNumList: COUNTS })));
    const byLiteral = evaluate(COSINE, (x) => tf.tidy(() => ldamLoss(x, labels(), { clsNumList: COUNTS, maxM: 0.5, s: 30, weight: null })));
    expect(byDefault.value).toBe(byLiteral.value);
    expect(relative(byDefault.value, expected.loss)).toBeLessThan(2e-5);
    expect(maxAbs(byDefault.grad, expected.grad.map((row) => row.map((g) => 30 * g)))).toBeLessThan(1e-4);
  });

  it('focalLoss: γ = 1', () => {
    const expected = referenceReduction(LOGITS, LABELS, null, 1);
    const byDefault = evaluate(LOGITS, (x) => tf.tidy(() => focalLoss(x, labels())));
    const byLiteral = evaluate(LOGITS, (x) => tf.tidy(() => focalLoss(x, labels(), { gamma: 1, weight: null })));
    expect(byDefault.value).toBe(byLiteral.value);
    expect(relative(byDefault.value, expected.loss)).toBeLessThan(2e-5);
    expect(relative(referenceReduction(LOGITS, LABELS, null, 2).loss, expected.loss)).toBeGreaterThan(1e-2);
  });

  it('logitAdjustedLoss: τ = 1; crossEntropy: unweighted mean', () => {
    const total = COUNTS.reduce((a, b) => a + b, 0);
    const shifted = LOGITS.map((row) => row.map((v, j) => v + Math.log(COUNTS[j] / total)));
    const expected = referenceReduction(shifted, LABELS, null, null).loss;
    const run = (options: object) => tf.tidy(() => logitAdjustedLoss(tf.tensor2d(LOGITS), labels(), { clsNumList: COUNTS, ...options }).dataSync()[0]);
    expect(run({})).toBe(run({ tau: 1 }));
    expect(relative(run({}), expected)).toBeLessThan(2e-5);
    const ce = tf.tidy(() => crossEntropy(tf.tensor2d(LOGITS), labels()).dataSync()[0]);
    expect(relative(ce, referenceReduction(LOGITS, LABELS, null, null).loss)).toBeLessThan(2e-5);
  });
});
