/** Throws unless `counts` is a non-empty list of positive finite integers; returns it as a number array. */
export function checkCounts(counts: unknown, name = 'counts'): number[] {
  if (!Array.isArray(counts) && !ArrayBuffer.isView(counts)) {
    throw new TypeError(`${name} must be an array of per-class image counts, got ${typeof counts}`);
  }
  const list = Array.from(counts as ArrayLike<unknown>);
  if (list.length === 0) throw new RangeError(`${name} must not be empty`);
  list.forEach((n, j) => {
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
      throw new RangeError(`${name}[${j}] must be a positive finite integer, got ${String(n)}`);
    }
  });
  return list as number[];
}

/** Throws unless `labels` is an array of non-negative integer class indices; returns it as an Int32Array. */
export function checkLabels(labels: unknown, name = 'labels'): Int32Array {
  if (!Array.isArray(labels) && !ArrayBuffer.isView(labels)) {
    throw new TypeError(`${name} must be an array or typed array of class indices, got ${typeof labels}`);
  }
  const list = labels as ArrayLike<number>;
  if (list.length === 0) throw new RangeError(`${name} must not be empty`);
  const out = labels instanceof Int32Array ? labels : new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const y = list[i];
    if (typeof y !== 'number' || !Number.isInteger(y) || y < 0 || y > 0x7fffffff) {
      throw new RangeError(`${name}[${i}] must be a non-negative integer class index, got ${String(y)}`);
    }
    out[i] = y;
  }
  return out;
}

export function checkSeed(seed: unknown, name = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new TypeError(`${name} must be a finite number, got ${String(seed)}`);
  }
  return seed;
}

export function checkPositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function checkBeta(value: unknown, name: string, allowOne = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (allowOne ? value > 1 : value >= 1)) {
    throw new RangeError(`${name} must be in [0, 1${allowOne ? ']' : ')'}, got ${String(value)}`);
  }
  return value;
}

export function rejectUnknownOptions(options: object, known: readonly string[], name = 'options'): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${name} must be an object`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`${name}.${key} is not a known option (known: ${known.join(', ')})`);
  }
}
