/**
 * Tests that catch wiring errors: every expected value here is computed in the test from the formulas of
 * GCL-METHOD.md (or read from the reference's golden file), never from the library's own weights or constants.
 */
import { describe, expect, it } from 'vitest';
import {
  ClassAwareSampler,
  balancedWeights,
  classBasedEffectiveNumberWeights,
  createSampler,
  effectiveNumberWeights,
  SeededRandom,
  WeightedClassSampler,
  type SamplerRule,
} from '../src/index.js';
import { goldenMissingMessage, hasGolden, readGolden } from './golden.js';

// ---------------------------------------------------------------------------------------------------------------
// Independent references (float64, straight from GCL-METHOD.md "Samplers and class weights").

/** The paper's β of the effective-number rule. */
const BETA = 0.9999;
/** β_a and β_b of the class-based effective-number rule. */
const BETA_A = 0.9999;
const BETA_B = 1e-5;

const referenceBalanced = (counts: number[]) => counts.map((n) => 1 / n);
const referenceEffectiveNumber = (counts: number[], beta = BETA) => counts.map((n) => (1 - beta) / (1 - Math.pow(beta, n)));
function referenceClassBased(counts: number[], betaA = BETA_A, betaB = BETA_B): number[] {
  const logMax = Math.log(Math.max(...counts));
  const delta = counts.map((n) => logMax - Math.log(n));
  const low = Math.min(...delta);
  const high = Math.max(...delta);
  return counts.map((n, j) => {
    const scaled = high > low ? (delta[j] - low) / (high - low) : 0;
    const beta = betaA + betaB * scaled;
    return (1 - beta) / (1 - Math.pow(beta, n));
  });
}

/** P(class c) when P(index) ∝ weight of its class: n_c w_c / Σ_k n_k w_k. */
function classProbabilities(counts: number[], weights: number[]): number[] {
  const mass = counts.map((n, c) => n * weights[c]);
  const total = mass.reduce((a, b) => a + b, 0);
  return mass.map((m) => m / total);
}

/** Labels with counts[c] samples of class c, spread over the index range by a fixed stride (no library RNG). */
function spreadLabels(counts: number[]): Int32Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const blocks: number[] = [];
  counts.forEach((n, c) => {
    for (let i = 0; i < n; i++) blocks.push(c);
  });
  // A stride coprime with the length permutes the indices: position (k · stride) mod total gets blocks[k].
  let stride = 7919;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  while (gcd(stride, total) !== 1) stride += 2;
  const labels = new Int32Array(total);
  blocks.forEach((c, k) => (labels[(k * stride) % total] = c));
  return labels;
}

function observedClassFrequencies(drawn: ArrayLike<number>, labels: Int32Array, numClasses: number): number[] {
  const hits = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < drawn.length; i++) hits[labels[drawn[i]]]++;
  return hits;
}

function chiSquare(observed: number[], probabilities: number[]): number {
  const draws = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((sum, o, c) => sum + (o - probabilities[c] * draws) ** 2 / (probabilities[c] * draws), 0);
}

/** Upper 10⁻⁵ point of χ²(degrees) (Wilson–Hilferty): a fixed-seed draw from the right distribution stays below. */
function chiSquareCritical(degrees: number): number {
  const z = 4.2649; // standard normal 1 − 1e-5 quantile
  const a = 2 / (9 * degrees);
  return degrees * Math.pow(1 - a + z * Math.sqrt(a), 3);
}

function drawEpochs(rule: SamplerRule, labels: Int32Array, epochs: number, options: Record<string, number> = {}) {
  const sampler = createSampler(rule, labels, { seed: 20240601, ...options });
  const all: number[] = [];
  const lengths: number[] = [];
  for (let e = 0; e < epochs; e++) {
    const epoch = sampler.sample();
    lengths.push(epoch.length);
    for (const i of epoch) all.push(i);
  }
  return { all, lengths };
}

// CIFAR-10-LT, imbalance factor 100 (exp profile), written out as in the reference's get_img_num_per_cls.
const CIFAR10_LT_100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50];
const labels = spreadLabels(CIFAR10_LT_100);
const C = CIFAR10_LT_100.length;
const N = labels.length;

describe('createSampler: per-class sampling frequencies match the formulas (many seeded epochs)', () => {
  const expected: Record<Exclude<SamplerRule, 'none'>, number[]> = {
    balanced: classProbabilities(CIFAR10_LT_100, referenceBalanced(CIFAR10_LT_100)),
    'effective-number': classProbabilities(CIFAR10_LT_100, referenceEffectiveNumber(CIFAR10_LT_100)),
    'class-based-effective-number': classProbabilities(CIFAR10_LT_100, referenceClassBased(CIFAR10_LT_100)),
    'class-aware': new Array(C).fill(1 / C),
  };
  const datasetDistribution = CIFAR10_LT_100.map((n) => n / N);

  it('the reference distributions themselves differ (so the test below can tell the rules apart)', () => {
    // balanced: uniform over classes; effective number: the head keeps ≈ 12 %, the tail ≈ 9.4 %.
    expect(expected.balanced.every((p) => Math.abs(p - 0.1) < 1e-12)).toBe(true);
    expect(expected['effective-number'][0]).toBeGreaterThan(0.115);
    expect(expected['effective-number'][C - 1]).toBeLessThan(0.095);
  });

  for (const rule of ['balanced', 'effective-number', 'class-based-effective-number'] as const) {
    it(`'${rule}': dataset-length epochs, drawn with replacement, P(class) ∝ n_c · w_c`, () => {
      const { all, lengths } = drawEpochs(rule, labels, 16);
      expect(lengths).toEqual(new Array(16).fill(N));
      const observed = observedClassFrequencies(all, labels, C);
      const statistic = chiSquare(observed, expected[rule]);
      expect(statistic, `χ² of '${rule}' against its own formula`).toBeLessThan(chiSquareCritical(C - 1));
      // The same statistic rejects every distinguishable alternative by a wide margin.
      const others: Array<[string, number[]]> = [
        ['dataset distribution', datasetDistribution],
        ['balanced', expected.balanced],
        ['effective-number', expected['effective-number']],
      ];
      for (const [name, probabilities] of others) {
        if (name === rule || (rule === 'class-based-effective-number' && name === 'effective-number')) continue;
        expect(chiSquare(observed, probabilities), `'${rule}' must not look like ${name}`).toBeGreaterThan(10 * chiSquareCritical(C - 1));
      }
      // Replacement: an epoch repeats tail samples (50 images of class 9 drawn ≈ 1170 times per epoch).
      const firstEpoch = all.slice(0, N);
      expect(new Set(firstEpoch).size).toBeLessThan(0.8 * N);
      // Within a class every sample is equally likely: the class-9 images each get ≈ hits/50.
      const tail = all.filter((i) => labels[i] === C - 1);
      const perImage = new Map<number, number>();
      for (const i of tail) perImage.set(i, (perImage.get(i) ?? 0) + 1);
      expect(perImage.size).toBe(50);
      expect(chiSquare([...perImage.values()], new Array(50).fill(1 / 50))).toBeLessThan(chiSquareCritical(49));
    });
  }

  it("'class-aware': epochs of max_j n_j · C samples, equal class frequencies", () => {
    const { all, lengths } = drawEpochs('class-aware', labels, 2);
    expect(lengths).toEqual([5000 * 10, 5000 * 10]);
    const observed = observedClassFrequencies(all, labels, C);
    // Whole class cycles: every class gets the same number of 4-sample visits, up to one partial cycle.
    expect(Math.max(...observed) - Math.min(...observed)).toBeLessThanOrEqual(4);
    expect(chiSquare(observed, datasetDistribution)).toBeGreaterThan(10 * chiSquareCritical(C - 1));
  });

  it("'none': each epoch is a permutation, so class frequencies are exactly the dataset's", () => {
    const { all, lengths } = drawEpochs('none', labels, 3);
    expect(lengths).toEqual([N, N, N]);
    for (let e = 0; e < 3; e++) expect(new Set(all.slice(e * N, (e + 1) * N)).size).toBe(N);
    expect(observedClassFrequencies(all, labels, C)).toEqual(CIFAR10_LT_100.map((n) => 3 * n));
  });

  it('passes beta / betaA / betaB through: the class-based rule with its own β_a, β_b, and the β of effective-number', () => {
    // With β_a = 0.999, β_b = 0.0009 the head (β = 0.999) and the tail (β = 0.9999) differ strongly from the
    // plain effective number, so a rule that ignored betaA/betaB (or used the other rule's weights) is rejected.
    const options = { betaA: 0.999, betaB: 0.0009 };
    const classBased = classProbabilities(CIFAR10_LT_100, referenceClassBased(CIFAR10_LT_100, options.betaA, options.betaB));
    const cb = observedClassFrequencies(drawEpochs('class-based-effective-number', labels, 8, options).all, labels, C);
    expect(chiSquare(cb, classBased)).toBeLessThan(chiSquareCritical(C - 1));
    expect(chiSquare(cb, expected['effective-number'])).toBeGreaterThan(10 * chiSquareCritical(C - 1));

    const effective999 = classProbabilities(CIFAR10_LT_100, referenceEffectiveNumber(CIFAR10_LT_100, 0.999));
    const en = observedClassFrequencies(drawEpochs('effective-number', labels, 8, { beta: 0.999 }).all, labels, C);
    expect(chiSquare(en, effective999)).toBeLessThan(chiSquareCritical(C - 1));
    expect(chiSquare(en, expected['effective-number'])).toBeGreaterThan(10 * chiSquareCritical(C - 1));
  });

  it('class-based vs plain effective number with the default β: counts large enough for the two to differ', () => {
    // 200,000 vs 20,000 images: n(1 − β) is O(1), so the tail's β = 0.99991 moves its probability 0.104 → 0.097.
    const big = [200_000, 20_000];
    const bigLabels = spreadLabels(big);
    const cbExpected = classProbabilities(big, referenceClassBased(big));
    const enExpected = classProbabilities(big, referenceEffectiveNumber(big));
    expect(enExpected[1] - cbExpected[1]).toBeGreaterThan(0.005);
    const observed = observedClassFrequencies(drawEpochs('class-based-effective-number', bigLabels, 3).all, bigLabels, 2);
    expect(chiSquare(observed, cbExpected)).toBeLessThan(chiSquareCritical(1));
    expect(chiSquare(observed, enExpected)).toBeGreaterThan(10 * chiSquareCritical(1));
    const plain = observedClassFrequencies(drawEpochs('effective-number', bigLabels, 3).all, bigLabels, 2);
    expect(chiSquare(plain, enExpected)).toBeLessThan(chiSquareCritical(1));
    expect(chiSquare(plain, cbExpected)).toBeGreaterThan(10 * chiSquareCritical(1));
  });
});

describe('createSampler against the reference weights (golden/sampler_and_imbalance.json)', () => {
  // Not describe.skipIf: a missing golden file is a skip with a message locally and a failure under CI=true.
  const rules: Array<[SamplerRule, string]> = [
    ['balanced', 'BalancedDatasetSampler'],
    ['effective-number', 'EffectNumSampler'],
    ['class-based-effective-number', 'CBEffectNumSampler'],
  ];
  for (const profileName of ['cifar10_LT_IF100', 'cifar100_LT_IF100']) {
    it(`${profileName}: each rule draws exactly what a WeightedClassSampler over the reference's per-class weights draws`, (context) => {
      if (!hasGolden) return context.skip(goldenMissingMessage);
      const profile = readGolden('sampler_and_imbalance.json').sampler_per_cls_weights[profileName];
      expect(profile, profileName).toBeDefined();
      const counts: number[] = profile.cls_num_list;
      const profileLabels = spreadLabels(counts);
      for (const [rule, reference] of rules) {
        const numSamples = 60_000;
        const fromRule = createSampler(rule, profileLabels, { seed: 77, numSamples }).sample();
        const fromReference = new WeightedClassSampler({
          labels: profileLabels,
          classWeights: profile[reference].per_cls_weights,
          numSamples,
          seed: 77,
        }).sample();
        // Identical alias tables give identical sequences; weights off by even 1e-4 relative move some coin flips.
        let differing = 0;
        for (let i = 0; i < numSamples; i++) if (fromRule[i] !== fromReference[i]) differing++;
        expect(differing, `${rule} vs ${reference}`).toBe(0);
      }
      // The reference's class-based weights really differ from its effective-number ones (≈ 0.1 % here), which is
      // what makes the exact comparison above tell 'class-based-effective-number' from 'effective-number'.
      const cb: number[] = profile.CBEffectNumSampler.per_cls_weights;
      const en: number[] = profile.EffectNumSampler.per_cls_weights;
      expect(Math.max(...cb.map((w, j) => Math.abs(w - en[j]) / en[j]))).toBeGreaterThan(1e-4);
    });
  }
});

describe('ClassAwareSampler reshuffles its class cycle and every class cycle', () => {
  // 4 classes; epoch = 8 · 4 = 32 samples = 8 visits of 4 = 2 class cycles.
  const small = spreadLabels([8, 6, 5, 3]);
  const members = [0, 1, 2, 3].map((c) => Array.from(small.keys()).filter((i) => small[i] === c));

  function visits(epochs: number, seed = 5) {
    const sampler = new ClassAwareSampler({ labels: small, seed });
    const picks: number[] = [];
    for (let e = 0; e < epochs; e++) {
      const epoch = sampler.sample();
      expect(epoch.length).toBe(8 * 4);
      picks.push(...epoch);
    }
    return picks;
  }

  it('takes 4 consecutive samples of one class per visit (default samplesPerClass)', () => {
    const picks = visits(50);
    for (let start = 0; start < picks.length; start += 4) {
      const run = picks.slice(start, start + 4).map((i) => small[i]);
      expect(new Set(run).size, `visit at ${start}`).toBe(1);
    }
  });

  it('visits classes in cycles that are permutations of all classes, reshuffled each time', () => {
    const picks = visits(100); // 800 visits = 200 class cycles
    const classOfVisit: number[] = [];
    for (let start = 0; start < picks.length; start += 4) classOfVisit.push(small[picks[start]]);
    const cycles: string[] = [];
    const firstOfCycle = [0, 0, 0, 0];
    for (let k = 0; k + 4 <= classOfVisit.length; k += 4) {
      const cycle = classOfVisit.slice(k, k + 4);
      expect([...cycle].sort()).toEqual([0, 1, 2, 3]);
      cycles.push(cycle.join(','));
      firstOfCycle[cycle[0]]++;
    }
    // 24 orders are possible; a shuffled cycle repeats its predecessor 1 time in 24.
    expect(new Set(cycles).size).toBeGreaterThanOrEqual(15);
    let repeats = 0;
    for (let k = 1; k < cycles.length; k++) if (cycles[k] === cycles[k - 1]) repeats++;
    expect(repeats).toBeLessThan(0.2 * cycles.length);
    // Every class leads a cycle about 1/4 of the time (200 cycles: 50 ± 6 each).
    for (const n of firstOfCycle) expect(n).toBeGreaterThan(25);
    // The class order also changes from one epoch to the next (each epoch is 2 cycles here).
    const epochOrders = new Set<string>();
    for (let e = 0; e < 100; e++) epochOrders.add(classOfVisit.slice(8 * e, 8 * e + 8).join(','));
    expect(epochOrders.size).toBeGreaterThan(50);
  });

  it("walks each class's samples in cycles that are permutations of the class, reshuffled each time", () => {
    const picks = visits(100);
    for (const c of [0, 1, 2, 3]) {
      const ofClass = picks.filter((i) => small[i] === c);
      const n = members[c].length;
      const cycles: string[] = [];
      const firstOfCycle = new Map<number, number>();
      for (let k = 0; k + n <= ofClass.length; k += n) {
        const cycle = ofClass.slice(k, k + n);
        expect([...cycle].sort((a, b) => a - b), `class ${c}`).toEqual(members[c]);
        cycles.push(cycle.join(','));
        firstOfCycle.set(cycle[0], (firstOfCycle.get(cycle[0]) ?? 0) + 1);
      }
      expect(cycles.length).toBeGreaterThanOrEqual(100);
      // Never stuck in dataset order: many distinct orders, and every member leads some cycle.
      const orders = [1, 2, 3, 4, 5, 6, 7, 8].slice(0, n).reduce((a, b) => a * b, 1); // n! possible orders
      expect(new Set(cycles).size, `class ${c}`).toBeGreaterThanOrEqual(Math.min(20, orders));
      expect(firstOfCycle.size, `class ${c}`).toBe(n);
      let repeats = 0;
      for (let k = 1; k < cycles.length; k++) if (cycles[k] === cycles[k - 1]) repeats++;
      expect(repeats, `class ${c}`).toBeLessThan(0.25 * cycles.length);
    }
  });
});

describe('SeededRandom.beta: mean α/(α+β) and variance αβ/((α+β)²(α+β+1)), including α < 1 (mixup)', () => {
  const cases: Array<[number, number, number]> = [
    [0.2, 0.2, 1],
    [0.5, 0.5, 2],
    [1, 1, 3],
    [2, 2, 4],
    [0.4, 1.5, 5],
    [3, 0.7, 6],
  ];
  for (const [a, b, seed] of cases) {
    it(`Beta(${a}, ${b})`, () => {
      const random = new SeededRandom(seed);
      const draws = 100_000;
      let sum = 0;
      let sumSq = 0;
      let sumCube = 0;
      for (let i = 0; i < draws; i++) {
        const x = random.beta(a, b);
        if (!(x >= 0 && x <= 1)) throw new Error(`draw ${i} is ${x}, outside [0, 1]`);
        sum += x;
        sumSq += x * x;
        sumCube += x * x * x;
      }
      const mean = sum / draws;
      const variance = sumSq / draws - mean * mean;
      const expectedMean = a / (a + b);
      const expectedVariance = (a * b) / ((a + b) ** 2 * (a + b + 1));
      // Third raw moment of Beta: Π_{k<3} (α + k) / (α + β + k).
      const expectedThird = (a * (a + 1) * (a + 2)) / ((a + b) * (a + b + 1) * (a + b + 2));
      // Values in [0, 1]: the standard error of the mean is √(var/N), and that of x² or x³ is at most √(E x²/N).
      const seMean = Math.sqrt(expectedVariance / draws);
      const seSecond = Math.sqrt((expectedVariance + expectedMean ** 2) / draws);
      expect(Math.abs(mean - expectedMean)).toBeLessThan(6 * seMean);
      expect(Math.abs(variance - expectedVariance)).toBeLessThan(6 * seSecond);
      expect(Math.abs(sumCube / draws - expectedThird)).toBeLessThan(6 * seSecond);
    });
  }
  it('Beta(0.2, 0.2) puts most of its mass near 0 and 1 (U-shaped), unlike any α ≥ 1', () => {
    const random = new SeededRandom(9);
    let outer = 0;
    for (let i = 0; i < 50_000; i++) {
      const x = random.beta(0.2, 0.2);
      if (x < 0.1 || x > 0.9) outer++;
    }
    // P(X < 0.1 or X > 0.9) for Beta(0.2, 0.2) ≈ 0.62 (numerically integrated in the test below); Beta(1, 1) gives 0.2.
    const density = (x: number) => Math.pow(x * (1 - x), -0.8);
    // ∫ over (0, 0.1) with the substitution x = t⁵ (removes the x^(−0.8) singularity), doubled by symmetry.
    const integrate = (f: (t: number) => number, low: number, high: number, steps = 20000) => {
      let s = 0;
      const h = (high - low) / steps;
      for (let k = 0; k < steps; k++) s += f(low + (k + 0.5) * h) * h;
      return s;
    };
    const tail = integrate((t) => density(t ** 5) * 5 * t ** 4, 0, Math.pow(0.1, 0.2));
    const middle = integrate(density, 0.1, 0.9);
    const pOuter = (2 * tail) / (2 * tail + middle);
    expect(pOuter).toBeGreaterThan(0.55);
    expect(Math.abs(outer / 50_000 - pOuter)).toBeLessThan(6 * Math.sqrt((pOuter * (1 - pOuter)) / 50_000));
  });
});

describe('documented defaults equal the paper literals', () => {
  const counts = CIFAR10_LT_100;
  it('effectiveNumberWeights: β = 0.9999; classBasedEffectiveNumberWeights: β_a = 0.9999, β_b = 1e-5', () => {
    expect(effectiveNumberWeights(counts)).toEqual(effectiveNumberWeights(counts, 0.9999));
    expect(classBasedEffectiveNumberWeights(counts)).toEqual(classBasedEffectiveNumberWeights(counts, { betaA: 0.9999, betaB: 1e-5 }));
    expect(classBasedEffectiveNumberWeights(counts, { betaA: 0.9999 })).toEqual(classBasedEffectiveNumberWeights(counts, { betaA: 0.9999, betaB: 1e-5 }));
    expect(classBasedEffectiveNumberWeights(counts, { betaB: 1e-5 })).toEqual(classBasedEffectiveNumberWeights(counts, { betaA: 0.9999, betaB: 1e-5 }));
    // And the values are the formulas' (float64 formula; the class-based rule keeps β in float32, ≈ 1e-6 relative).
    const rel = (a: number[], b: number[]) => Math.max(...a.map((v, j) => Math.abs(v - b[j]) / b[j]));
    expect(rel(balancedWeights(counts), referenceBalanced(counts))).toBeLessThan(1e-15);
    expect(rel(effectiveNumberWeights(counts), referenceEffectiveNumber(counts))).toBeLessThan(1e-12);
    expect(rel(classBasedEffectiveNumberWeights(counts), referenceClassBased(counts))).toBeLessThan(1e-4);
  });

  it('createSampler: beta 0.9999, betaA 0.9999, betaB 1e-5, samplesPerClass 4, numSamples = dataset length', () => {
    const same = (rule: SamplerRule, explicit: Record<string, number>) => {
      const a = createSampler(rule, labels, { seed: 3 }).sample();
      const b = createSampler(rule, labels, { seed: 3, ...explicit }).sample();
      // Compare by first differing position: a diff of two 50,000-element arrays takes vitest minutes to print.
      expect(b.length, rule).toBe(a.length);
      expect(a.findIndex((v, i) => v !== b[i]), `${rule}: first position where the default and the literal differ`).toBe(-1);
    };
    same('effective-number', { beta: 0.9999, numSamples: N });
    same('class-based-effective-number', { betaA: 0.9999, betaB: 1e-5, numSamples: N });
    same('balanced', { numSamples: N });
    same('class-aware', { samplesPerClass: 4 });
  });
});
