import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

/** One regular file or directory of a tar archive. */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, without a leading `./`. */
  name: string;
  type: 'file' | 'directory';
  /** File contents (a view into the archive buffer); empty for directories. */
  data: Uint8Array;
}

function readString(block: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + offset, end - offset).toString('utf8');
}

function readOctal(block: Uint8Array, offset: number, length: number, field: string, entryOffset: number): number {
  // GNU base-256 for sizes ≥ 8 GiB: high bit of the first byte set.
  if (block[offset] & 0x80) {
    let value = block[offset] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + block[offset + i];
    return value;
  }
  const text = readString(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`tar header at byte ${entryOffset}: ${field} field "${text}" is not octal`);
  return parseInt(text, 8);
}

/**
 * Reads a POSIX ustar / GNU / pax tar archive held in memory: regular files and directories (links and devices
 * are skipped), with pax `path` and GNU long-name records applied. Header checksums are verified.
 */
export function* readTarEntries(tar: Uint8Array): Generator<TarEntry> {
  let offset = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return; // end-of-archive marker
    const storedChecksum = readOctal(header, 148, 8, 'checksum', offset);
    let checksum = 0;
    for (let i = 0; i < 512; i++) checksum += i >= 148 && i < 156 ? 32 : header[i];
    if (checksum !== storedChecksum) throw new Error(`tar header at byte ${offset}: checksum mismatch (archive corrupt or not a tar file)`);
    const size = readOctal(header, 124, 12, 'size', offset);
    const typeFlag = String.fromCharCode(header[156] || 48);
    const dataStart = offset + 512;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw new Error(`tar entry at byte ${offset}: truncated archive (needs ${size} bytes of data)`);
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (typeFlag === 'L') {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (typeFlag === 'x') {
      const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
      for (const record of text.split('\n')) {
        const match = /^\d+ path=(.*)$/.exec(record);
        if (match) paxPath = match[1];
      }
      continue;
    }
    if (typeFlag === 'g') continue;
    let name = paxPath ?? longName;
    if (name === undefined) {
      name = readString(header, 0, 100);
      const magic = readString(header, 257, 6);
      const prefix = magic.startsWith('ustar') ? readString(header, 345, 155) : '';
      if (prefix) name = `${prefix}/${name}`;
    }
    longName = undefined;
    paxPath = undefined;
    name = name.replace(/^(\.\/)+/, '');
    if (typeFlag === '0' || typeFlag === '7') yield { name, type: 'file', data };
    else if (typeFlag === '5') yield { name: name.replace(/\/$/, ''), type: 'directory', data: new Uint8Array(0) };
  }
}

/**
 * Extracts a `.tar.gz` (or plain `.tar`) archive into `destination`. Entries that would land outside `destination`
 * (absolute paths, `..`) are rejected. Returns the extracted file paths, relative to `destination`.
 */
export async function extractTarGz(archive: string, destination: string): Promise<string[]> {
  let bytes: Uint8Array = await readFile(archive);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await promisify(gunzip)(bytes);
  const root = path.resolve(destination);
  const written: string[] = [];
  let entries: TarEntry[];
  try {
    entries = [...readTarEntries(bytes)];
  } catch (error) {
    throw new Error(`${archive}: ${(error as Error).message}`, { cause: error });
  }
  for (const entry of entries) {
    const target = path.resolve(root, entry.name);
    if (path.isAbsolute(entry.name) || (target !== root && !target.startsWith(root + path.sep))) {
      throw new Error(`${archive}: entry "${entry.name}" points outside the destination directory`);
    }
    if (entry.type === 'directory') {
      await mkdir(target, { recursive: true });
    } else {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, entry.data);
      written.push(entry.name);
    }
  }
  return written;
}
