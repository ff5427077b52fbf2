/**
 * The closed-form deterministic weights and inputs of scripts/make_fixtures.py, bit for bit: a 32-bit FNV-1a hash of
 * the tensor name, the lowbias32 integer hash of the flat index modulo 1009, u = hash / 2³², then a per-role affine
 * map computed in float64 and rounded to float32 exactly as numpy's astype(float32).
 */
import * as tf from '@tensorflow/tfjs';
import type { TorchTensor } from '../../src/index.js';

const PERIOD = 1009;

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function uniformTable(name: string): Float64Array {
  const seed = fnv1a32(name);
  const table = new Float64Array(PERIOD);
  for (let j = 0; j < PERIOD; j++) table[j] = mix32((seed ^ mix32(j)) >>> 0) / 4294967296;
  return table;
}

/** The torch-layout tensor `name` of `shape` (roles by name suffix and rank, as formula_tensor in Python). */
export function formulaTensor(name: string, shape: number[]): Float32Array {
  const count = shape.reduce((product, size) => product * size, 1);
  const table = uniformTable(name);
  let map: (u: number) => number;
  if (name.endsWith('running_mean')) map = (u) => 0.1 * (2 * u - 1);
  else if (name.endsWith('running_var')) map = (u) => 0.5 + u;
  else if (shape.length === 1 && name.endsWith('weight')) map = (u) => 0.5 + 0.5 * u;
  else if (shape.length === 1) map = (u) => 0.1 * (2 * u - 1);
  else if (shape.length === 4) {
    const scale = Math.sqrt(6 / (shape[1] * shape[2] * shape[3]));
    map = (u) => scale * (2 * u - 1);
  } else if (shape.length === 2) {
    const scale = Math.sqrt(3 / shape[1]);
    map = (u) => scale * (2 * u - 1);
  } else map = (u) => 2 * u - 1;
  const mapped = new Float32Array(PERIOD);
  for (let j = 0; j < PERIOD; j++) mapped[j] = map(table[j]);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = mapped[i % PERIOD];
  return values;
}

/** NHWC input 2u − 1 (formula_input_nhwc in Python). */
export function formulaInput(name: string, shape: number[]): tf.Tensor4D {
  const count = shape.reduce((product, size) => product * size, 1);
  const table = uniformTable(name);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = 2 * table[i % PERIOD] - 1;
  return tf.tensor4d(values, shape as [number, number, number, number]);
}

/** A full formula state dict for the given (name → torch shape) list. */
export function formulaStateDict(slots: Iterable<[string, number[]]>): Map<string, TorchTensor> {
  const result = new Map<string, TorchTensor>();
  for (const [name, shape] of slots) result.set(name, { shape, values: formulaTensor(name, shape) });
  return result;
}
