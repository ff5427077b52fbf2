/**
 * Reader and writer of the `.safetensors` format (Hugging Face): an unsigned 64-bit little-endian header length `N`,
 * `N` bytes of UTF-8 JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {…} }`, then the
 * raw little-endian tensor bytes; offsets are relative to the end of the header and must tile the data exactly.
 */

import { nodeFileModules } from './node-builtins.js';

/** Element types this reader understands. Floating types other than F64 decode to float32. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** One decoded tensor. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  /** Row-major shape, as stored (PyTorch layout for a torch state dict). */
  shape: number[];
  /** Values: Float32Array for F32/F16/BF16, Float64Array for F64, BigInt64Array for I64, typed integers otherwise. */
  values: Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}

/** A decoded file: tensors by name (file order) and the optional string metadata. */
export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Largest header we accept (the reference implementation's limit is 100 MB). */
const MAXIMUM_HEADER_BYTES = 100_000_000;

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** True on little-endian hosts (every platform Node and browsers run on in practice): typed arrays read the file's bytes as they are. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decode `count` elements of `dtype` from `bytes` (exactly their extent) into a new array of their own: one copy of
 * the bytes (two for F16 / BF16, widened to float32), never a view into the file.
 */
function decodeValues(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): SafetensorsTensor['values'] {
  if (LITTLE_ENDIAN_HOST) {
    // slice() copies into a fresh, aligned ArrayBuffer.
    switch (dtype) {
      case 'F32':
        return new Float32Array(bytes.slice().buffer, 0, count);
      case 'F64':
        return new Float64Array(bytes.slice().buffer, 0, count);
      case 'I64':
        return new BigInt64Array(bytes.slice().buffer, 0, count);
      case 'I32':
        return new Int32Array(bytes.slice().buffer, 0, count);
      case 'I16':
        return new Int16Array(bytes.slice().buffer, 0, count);
      default:
        break;
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true);
      return values;
    }
    case 'F64': {
      const values = new Float64Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getFloat64(8 * i, true);
      return values;
    }
    case 'F16': {
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = halfToFloat(view.getUint16(2 * i, true));
      return values;
    }
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const widened = new Uint32Array(count);
      for (let i = 0; i < count; i++) widened[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(widened.buffer);
    }
    case 'I64': {
      const values = new BigInt64Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getBigInt64(8 * i, true);
      return values;
    }
    case 'I32': {
      const values = new Int32Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getInt32(4 * i, true);
      return values;
    }
    case 'I16': {
      const values = new Int16Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getInt16(2 * i, true);
      return values;
    }
    case 'I8':
      return new Int8Array(bytes.slice().buffer);
    case 'U8':
    case 'BOOL':
      return bytes.slice();
  }
}

/** One header entry, validated but not yet decoded. */
interface Extent {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

/**
 * Decode a `.safetensors` byte buffer. Throws an error naming the problem (and the tensor) for a truncated file, a
 * malformed header, an unsupported dtype, a bad shape, offsets outside the data or not matching the shape, and
 * overlapping or non-contiguous data.
 *
 * The whole header is validated before any tensor is decoded: every entry's size against its shape and dtype, every
 * `[begin, end)` inside the data section, and the entries sorted by offset must tile the data section exactly (no
 * overlap, no gap, no trailing bytes). Only then is each tensor copied out once, so the memory used is bounded by the
 * file's size (twice its data for F16 / BF16, widened to float32), whatever the header claims.
 */
export function decodeSafetensors(source: Uint8Array | ArrayBuffer): SafetensorsFile {
  // A plain Uint8Array over the same memory: a Node Buffer's slice() would be a view, not the copy decoding needs.
  const bytes =
    source instanceof Uint8Array ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength) : new Uint8Array(source);
  if (bytes.byteLength < 8) {
    throw new Error(`safetensors: file too short (${bytes.byteLength} bytes), expected an 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAXIMUM_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    throw new Error(
      `safetensors: header length ${headerLength} exceeds the file (${bytes.byteLength} bytes) — truncated or not a safetensors file`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new Error(`safetensors: the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (header == null || typeof header !== 'object' || Array.isArray(header)) {
    throw new Error('safetensors: the header must be a JSON object');
  }
  const data = bytes.subarray(8 + headerLength);
  let metadata: Record<string, string> = {};
  // 1. Every entry on its own: dtype, shape, offsets, size — nothing decoded.
  const extents: Extent[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry == null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new Error('safetensors: __metadata__ must be an object of strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const described = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (described == null || typeof described !== 'object') {
      throw new Error(`safetensors: tensor '${name}' has no {dtype, shape, data_offsets} entry`);
    }
    const dtype = described.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(BYTES_PER_ELEMENT, dtype)) {
      throw new Error(
        `safetensors: tensor '${name}' has unsupported dtype ${JSON.stringify(described.dtype)} (supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`,
      );
    }
    const shape = described.shape;
    if (!Array.isArray(shape) || !shape.every((size) => Number.isSafeInteger(size) && size >= 0)) {
      throw new Error(`safetensors: tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = described.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new Error(`safetensors: tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((product, size) => product * size, 1);
    const expectedBytes = count * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expectedBytes) {
      throw new Error(
        `safetensors: tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > data.byteLength) {
      throw new Error(
        `safetensors: tensor '${name}' data_offsets [${begin}, ${end}] run past the end of the data (${data.byteLength} bytes) — truncated file`,
      );
    }
    extents.push({ name, dtype, shape: [...(shape as number[])], count, begin, end });
  }
  // 2. All entries together, sorted by offset: they must tile the data section exactly.
  const sorted = [...extents].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  let previous: Extent | null = null;
  for (const extent of sorted) {
    if (extent.begin < position) {
      throw new Error(
        `safetensors: tensor '${extent.name}' overlaps the data of tensor '${previous!.name}' (data_offsets [${extent.begin}, ${extent.end}] and [${previous!.begin}, ${previous!.end}])`,
      );
    }
    if (extent.begin > position) {
      throw new Error(`safetensors: unused bytes [${position}, ${extent.begin}) before tensor '${extent.name}'`);
    }
    position = extent.end;
    previous = extent;
  }
  if (position !== data.byteLength) {
    throw new Error(`safetensors: ${data.byteLength - position} trailing bytes after the last tensor`);
  }
  // 3. Only now decode, each byte of the data section exactly once.
  const tensors = new Map<string, SafetensorsTensor>();
  for (const extent of extents) {
    tensors.set(extent.name, {
      dtype: extent.dtype,
      shape: extent.shape,
      values: decodeValues(extent.dtype, data.subarray(extent.begin, extent.end), extent.count),
    });
  }
  return { tensors, metadata };
}

/** A tensor to write with {@link encodeSafetensors}. */
export interface SafetensorsInput {
  shape: number[];
  values: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  /** Stored dtype; default from the array type (F32, F64, I64, I32, U8). */
  dtype?: 'F32' | 'F64' | 'I64' | 'I32' | 'U8';
}

function defaultDtype(values: SafetensorsInput['values']): 'F32' | 'F64' | 'I64' | 'I32' | 'U8' {
  if (values instanceof Float32Array) return 'F32';
  if (values instanceof Float64Array) return 'F64';
  if (values instanceof BigInt64Array) return 'I64';
  if (values instanceof Int32Array) return 'I32';
  return 'U8';
}

/**
 * Encode tensors (in the iteration order given) as a `.safetensors` byte buffer, header padded with spaces to a
 * multiple of 8 bytes as the reference writer does. `values` are written little-endian with the dtype of their array.
 */
export function encodeSafetensors(
  tensors: Map<string, SafetensorsInput> | Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, tensor] of entries) {
    const dtype = tensor.dtype ?? defaultDtype(tensor.values);
    if (dtype !== defaultDtype(tensor.values)) {
      throw new Error(`encodeSafetensors: tensor '${name}' dtype ${dtype} does not match its ${tensor.values.constructor.name}`);
    }
    const count = tensor.shape.reduce((product, size) => product * size, 1);
    if (count !== tensor.values.length) {
      throw new Error(
        `encodeSafetensors: tensor '${name}' has ${tensor.values.length} values but shape [${tensor.shape.join(', ')}] needs ${count}`,
      );
    }
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.values.byteLength] };
    offset += tensor.values.byteLength;
  }
  if (metadata != null) header.__metadata__ = metadata;
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (new TextEncoder().encode(headerText).byteLength % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);
  const output = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(output.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  output.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const [, tensor] of entries) {
    const values = tensor.values;
    for (let i = 0; i < values.length; i++) {
      if (values instanceof Float32Array) view.setFloat32(position + 4 * i, values[i], true);
      else if (values instanceof Float64Array) view.setFloat64(position + 8 * i, values[i], true);
      else if (values instanceof BigInt64Array) view.setBigInt64(position + 8 * i, values[i], true);
      else if (values instanceof Int32Array) view.setInt32(position + 4 * i, values[i], true);
      else view.setUint8(position + i, values[i]);
    }
    position += values.byteLength;
  }
  return output;
}

/** Read and decode a `.safetensors` file from disk (Node only). */
export async function readSafetensorsFile(filePath: string): Promise<SafetensorsFile> {
  if (typeof filePath !== 'string' || filePath.length === 0) {
    throw new Error('readSafetensorsFile: filePath must be a non-empty path string');
  }
  const { fs } = nodeFileModules('readSafetensorsFile');
  const bytes = await fs.readFile(filePath);
  try {
    return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new Error(`${(error as Error).message} (file ${filePath})`);
  }
}
