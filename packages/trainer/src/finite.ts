import type { TensorRecord } from './checkpoint.js';

/** The first non-finite value of a set of arrays (weights, batch-norm statistics, optimiser slots), or null. */
export function findNonFinite(records: readonly TensorRecord[]): { name: string; value: number; count: number; size: number } | null {
  for (const record of records) {
    const data = record.data;
    let first = Number.NaN;
    let count = 0;
    for (let i = 0; i < data.length; i++) {
      const value = data[i];
      if (value - value !== 0) {
        if (count === 0) first = value;
        count++;
      }
    }
    if (count > 0) return { name: record.name, value: first, count, size: data.length };
  }
  return null;
}

/** Throws naming the first weight with a non-finite value. */
export function assertFinite(records: readonly TensorRecord[], where: string, what: string): void {
  const bad = findNonFinite(records);
  if (bad) {
    throw new Error(
      `${where}: the network diverged: ${what} ${bad.name} holds ${bad.value} (${bad.count} of ${bad.size} values not finite)` +
        `; nothing non-finite was checkpointed (lower the learning rate?)`,
    );
  }
}
