/**
 * Axis ticks that read as round numbers: linear steps of 1, 2, 2.5 or 5 × 10^k ("nice numbers"), and log-axis
 * ticks at powers of ten (with 2 and 5 × 10^k when the axis spans few decades). Pure functions, no DOM.
 */

/** Mantissas of a nice step, in increasing order (the step is one of these × 10^k). */
const STEP_MANTISSAS = [1, 2, 2.5, 5] as const;

/** Decimals a multiple of `mantissa × 10^exponent` needs to be written exactly. */
function stepDecimals(mantissa: number, exponent: number): number {
  return Math.min(100, Math.max(0, -exponent + (mantissa === 2.5 ? 1 : 0)));
}

/** `i · step`, rounded to the step's decimals (so 3 × 0.1 is 0.3, not 0.30000000000000004). */
function multiple(i: number, mantissa: number, exponent: number): number {
  const value = Number((i * mantissa * 10 ** exponent).toFixed(stepDecimals(mantissa, exponent)));
  return value === 0 ? 0 : value;
}

/**
 * Round tick values covering `[min, max]`: the smallest step `m × 10^k` (m in 1, 2, 2.5, 5) for which at most
 * `maxIntervals` intervals cover the range, from the largest multiple ≤ `min` to the smallest ≥ `max`. The first and
 * last ticks are the axis' domain. `niceTicks(0, 1)` is `[0, 0.2, 0.4, 0.6, 0.8, 1]`, `niceTicks(0.0128, 5.01)` is
 * `[0, 2, 4, 6]`, `niceTicks(0, 2400)` is `[0, 500, …, 2500]`. A degenerate range (`min === max`) is widened around
 * the value; non-finite bounds give `[0, 1]`.
 */
export function niceTicks(min: number, max: number, maxIntervals = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (!Number.isInteger(maxIntervals) || maxIntervals < 1) throw new RangeError(`maxIntervals must be a positive integer, got ${maxIntervals}`);
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (hi === lo) {
    const half = lo === 0 ? 1 : Math.abs(lo) / 2;
    lo -= half;
    hi += half;
    if (min >= 0 && lo < 0) lo = 0;
  }
  const raw = (hi - lo) / maxIntervals;
  let exponent = Math.floor(Math.log10(raw));
  for (;;) {
    for (const mantissa of STEP_MANTISSAS) {
      const step = mantissa * 10 ** exponent;
      if (step < raw * (1 - 1e-12)) continue;
      const first = Math.floor(lo / step + 1e-9);
      const last = Math.ceil(hi / step - 1e-9);
      if (last - first <= maxIntervals) {
        return Array.from({ length: last - first + 1 }, (_, i) => multiple(first + i, mantissa, exponent));
      }
    }
    exponent += 1;
  }
}

/**
 * Ticks of a log axis covering `[min, max]` (both > 0; smaller values are raised to 1e-12): the powers of ten from
 * the largest ≤ `min` to the smallest ≥ `max`; when `max / min` is at most 100, also 2 and 5 × 10^k, trimmed to the
 * tick at or below `min` and the one at or above `max`. `logTicks(10, 500)` is `[10, 20, 50, 100, 200, 500]`,
 * `logTicks(1, 5000)` is `[1, 10, 100, 1000, 10000]`. The first and last ticks are the axis' domain.
 */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.max(Math.min(min, max), 1e-12);
  const hi = Math.max(Math.max(min, max), lo);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [1, 10];
  const firstDecade = Math.floor(Math.log10(lo) + 1e-9);
  let lastDecade = Math.ceil(Math.log10(hi) - 1e-9);
  if (lastDecade === firstDecade) lastDecade += 1;
  const decade = (k: number, m = 1) => Number((m * 10 ** k).toPrecision(12));
  if (Math.log10(hi / lo) > 2 + 1e-9) return Array.from({ length: lastDecade - firstDecade + 1 }, (_, i) => decade(firstDecade + i));
  const all: number[] = [];
  for (let k = firstDecade; k < lastDecade; k++) all.push(decade(k), decade(k, 2), decade(k, 5));
  all.push(decade(lastDecade));
  let start = 0;
  while (start + 1 < all.length && all[start + 1] <= lo * (1 + 1e-9)) start++;
  const found = all.findIndex((t) => t >= hi * (1 - 1e-9));
  const end = Math.max(found < 0 ? all.length - 1 : found, Math.min(start + 1, all.length - 1));
  return all.slice(start, end + 1);
}

/** A tick value as text: the shortest decimal that round-trips (`0.2`, `2.5`, `1000`), never `0.200` or `2.51`. */
export function formatTick(value: number): string {
  return String(Number(value.toPrecision(12)));
}
