/** Deterministic pseudo-random values in [-1, 1) (xorshift32), so every rank can compute every rank's data. */
export function randomValues(size: number, seed: number, Type: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array) {
  let state = (seed * 2654435761) >>> 0 || 1;
  const values = new Type(size);
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    values[i] = state / 2147483648 - 1;
  }
  return values;
}

/** Rank r's input of test `test`. */
export function inputOf(test: number, rank: number, size: number, Type: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array) {
  return randomValues(size, test * 1000 + rank + 1, Type);
}

/**
 * The reduction computed here, independently of MPI: ranks' inputs summed in rank order, rounded to the array's
 * precision after every addition (for 2 ranks this is exactly what any correct all-reduce gives).
 */
export function expectedReduction(test: number, worldSize: number, length: number, op: 'sum' | 'mean' | 'max' | 'min', Type: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array) {
  const out = new Type(length);
  for (let rank = 0; rank < worldSize; rank++) {
    const input = inputOf(test, rank, length, Type);
    for (let i = 0; i < length; i++) {
      if (rank === 0) out[i] = input[i];
      else if (op === 'max') out[i] = Math.max(out[i], input[i]);
      else if (op === 'min') out[i] = Math.min(out[i], input[i]);
      else out[i] = out[i] + input[i];
    }
  }
  if (op === 'mean') for (let i = 0; i < length; i++) out[i] = out[i] / worldSize;
  return out;
}

/** Number of elements that differ, and the largest absolute difference. */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  let mismatches = 0;
  let maxAbs = 0;
  if (actual.length !== expected.length) return { mismatches: Math.max(actual.length, expected.length), maxAbs: Infinity };
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      mismatches++;
      const d = Math.abs(actual[i] - expected[i]);
      maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    }
  }
  return { mismatches, maxAbs };
}
