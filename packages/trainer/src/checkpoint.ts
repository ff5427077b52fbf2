/**
 * Checkpoint files: one self-validating binary file per checkpoint, written atomically.
 *
 * Layout: the magic `LONGTAIL-CKPT\n`, a little-endian uint32 format version, a uint32 header length, the header as
 * UTF-8 JSON (metadata, tensor table, payload length and SHA-256), then the payload (tensor data back to back).
 * A write goes to a temporary file in the same directory, is fsync'ed, renamed over the target and the directory
 * fsync'ed, so a reader sees either the old complete file or the new complete file, never a mix, whenever the
 * writing process dies. This module has no TensorFlow.js dependency (`@longtail/trainer/checkpoint`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';

const MAGIC = Buffer.from('LONGTAIL-CKPT\n', 'latin1');
export const CHECKPOINT_FORMAT_VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 8;

export type CheckpointDtype = 'float32' | 'int32';

/** One named array (a weight, an optimiser slot). */
export interface TensorRecord {
  name: string;
  shape: number[];
  dtype: CheckpointDtype;
  data: Float32Array | Int32Array;
}

/** A checkpoint: JSON-serialisable metadata plus groups of named arrays (e.g. `model`, `optimizer`). */
export interface Checkpoint<Meta = Record<string, unknown>> {
  meta: Meta;
  tensors: Record<string, TensorRecord[]>;
  /** Set on a loaded checkpoint: the SHA-256 of its payload (the tensors), as verified. */
  payloadSha256?: string;
}

interface TensorEntry {
  group: string;
  name: string;
  shape: number[];
  dtype: CheckpointDtype;
  offset: number;
  byteLength: number;
}

interface Header {
  format: 'longtail-checkpoint';
  version: number;
  createdAt: string;
  payloadBytes: number;
  payloadSha256: string;
  tensors: TensorEntry[];
  meta: unknown;
}

/** A checkpoint file that is missing, truncated, corrupt or of an unknown format; the message names the file. */
export class CheckpointError extends Error {
  constructor(
    readonly filePath: string,
    reason: string,
  ) {
    super(`checkpoint ${filePath}: ${reason}`);
    this.name = 'CheckpointError';
  }
}

function elementCount(shape: number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function validateRecord(group: string, record: TensorRecord): void {
  const where = `tensors.${group}[${JSON.stringify(record.name)}]`;
  if (typeof record.name !== 'string' || record.name.length === 0) throw new TypeError(`${where}.name must be a non-empty string`);
  if (!Array.isArray(record.shape) || !record.shape.every((size) => Number.isInteger(size) && size >= 0)) {
    throw new TypeError(`${where}.shape must be an array of non-negative integers`);
  }
  const expected = record.dtype === 'float32' ? Float32Array : record.dtype === 'int32' ? Int32Array : undefined;
  if (!expected) throw new TypeError(`${where}.dtype must be "float32" or "int32", got ${String(record.dtype)}`);
  if (!(record.data instanceof expected)) throw new TypeError(`${where}.data must be a ${expected.name} for dtype ${record.dtype}`);
  if (record.data.length !== elementCount(record.shape)) {
    throw new RangeError(`${where}.data has ${record.data.length} values, shape [${record.shape}] needs ${elementCount(record.shape)}`);
  }
}

/**
 * Writes `checkpoint` to `filePath` atomically: temporary file in the same directory, fsync, rename, directory
 * fsync. Concurrent readers and a crash at any moment see either the previous file or the complete new one.
 * A failed write throws a `FileWriteError` naming the file (ENOSPC, EROFS, …).
 * @returns the payload's SHA-256 (hex), as recorded in the header.
 */
export async function saveCheckpoint(filePath: string, checkpoint: Checkpoint<unknown>): Promise<string> {
  if (typeof filePath !== 'string' || filePath.length === 0) throw new TypeError('filePath must be a non-empty string');
  if (!checkpoint || typeof checkpoint !== 'object') throw new TypeError('checkpoint must be an object { meta, tensors }');
  const entries: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let offset = 0;
  for (const [group, records] of Object.entries(checkpoint.tensors ?? {})) {
    for (const record of records) {
      validateRecord(group, record);
      const bytes = new Uint8Array(record.data.buffer, record.data.byteOffset, record.data.byteLength);
      entries.push({ group, name: record.name, shape: [...record.shape], dtype: record.dtype, offset, byteLength: bytes.byteLength });
      chunks.push(bytes);
      hash.update(bytes);
      offset += bytes.byteLength;
    }
  }
  const header: Header = {
    format: 'longtail-checkpoint',
    version: CHECKPOINT_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    payloadBytes: offset,
    payloadSha256: hash.digest('hex'),
    tensors: entries,
    meta: checkpoint.meta ?? {},
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CHECKPOINT_FORMAT_VERSION, MAGIC.length);
  prefix.writeUInt32LE(headerBytes.length, MAGIC.length + 4);

  await writeFileAtomic(filePath, [prefix, headerBytes, ...chunks]);
  return header.payloadSha256;
}

/** The SHA-256 of a checkpoint's payload (what {@link saveCheckpoint} returns and the header records), without writing. */
export function checkpointPayloadSha256(tensors: Checkpoint<unknown>['tensors']): string {
  const hash = createHash('sha256');
  for (const records of Object.values(tensors ?? {})) {
    for (const record of records) hash.update(new Uint8Array(record.data.buffer, record.data.byteOffset, record.data.byteLength));
  }
  return hash.digest('hex');
}

/**
 * Reads and validates a checkpoint: magic, version, header, payload length and SHA-256, tensor table bounds.
 * Throws a {@link CheckpointError} naming the file and the problem.
 */
export async function loadCheckpoint<Meta = Record<string, unknown>>(filePath: string): Promise<Checkpoint<Meta>> {
  let buffer: Buffer;
  try {
    buffer = await readFile(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CheckpointError(filePath, code === 'ENOENT' ? 'no such file' : `cannot be read (${String(error)})`);
  }
  return decodeCheckpoint<Meta>(buffer, filePath);
}

/** Decodes and validates checkpoint bytes (see {@link loadCheckpoint}); `source` names them in errors. */
export function decodeCheckpoint<Meta = Record<string, unknown>>(buffer: Uint8Array, source = '<buffer>'): Checkpoint<Meta> {
  const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CheckpointError(source, 'not a longtail checkpoint (bad magic bytes or truncated)');
  }
  const version = bytes.readUInt32LE(MAGIC.length);
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    throw new CheckpointError(source, `format version ${version} is not supported (expected ${CHECKPOINT_FORMAT_VERSION})`);
  }
  const headerLength = bytes.readUInt32LE(MAGIC.length + 4);
  if (PREFIX_BYTES + headerLength > bytes.length) throw new CheckpointError(source, 'truncated header');
  let header: Header;
  try {
    header = JSON.parse(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength).toString('utf8')) as Header;
  } catch {
    throw new CheckpointError(source, 'header is not valid JSON');
  }
  if (header.format !== 'longtail-checkpoint' || !Array.isArray(header.tensors)) {
    throw new CheckpointError(source, 'header does not describe a longtail checkpoint');
  }
  const payloadStart = PREFIX_BYTES + headerLength;
  const payload = bytes.subarray(payloadStart);
  if (payload.length !== header.payloadBytes) {
    throw new CheckpointError(source, `payload has ${payload.length} bytes, header says ${header.payloadBytes} (truncated or corrupt)`);
  }
  const digest = createHash('sha256').update(payload).digest('hex');
  if (digest !== header.payloadSha256) throw new CheckpointError(source, 'payload checksum mismatch (corrupt file)');
  const tensors: Record<string, TensorRecord[]> = {};
  for (const entry of header.tensors) {
    const bytesPerElement = entry.dtype === 'float32' || entry.dtype === 'int32' ? 4 : 0;
    if (
      bytesPerElement === 0 ||
      !Array.isArray(entry.shape) ||
      entry.byteLength !== elementCount(entry.shape) * bytesPerElement ||
      entry.offset < 0 ||
      entry.offset + entry.byteLength > payload.length
    ) {
      throw new CheckpointError(source, `tensor ${entry.group}/${entry.name} has an inconsistent table entry`);
    }
    // Copy into a fresh, aligned buffer: the payload offset need not be a multiple of 4.
    const copy = new Uint8Array(entry.byteLength);
    copy.set(payload.subarray(entry.offset, entry.offset + entry.byteLength));
    const data = entry.dtype === 'float32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
    (tensors[entry.group] ??= []).push({ name: entry.name, shape: entry.shape, dtype: entry.dtype, data });
  }
  return { meta: header.meta as Meta, tensors, payloadSha256: digest };
}

export { removeStaleTemporaryFiles, FileWriteError } from './atomic.js';
