import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CIFAR100_CLASS_NAMES,
  CIFAR10_CLASS_NAMES,
  DatasetError,
  classCounts,
  extractTarGz,
  imbalancedCounts,
  loadCifar10,
  loadCifar100,
  makeLongTailed,
  readTarEntries,
} from '../src/index.js';
import { temporaryDirectory } from './helpers.js';

/** Pixel value of channel c at (y, x) of record r: a deterministic pattern that differs per channel, row and record. */
const pixel = (record: number, channel: number, y: number, x: number) => (record * 31 + channel * 101 + y * 7 + x * 3) % 256;

/** One CIFAR binary file in the official layout: label byte(s), then 1024 R, 1024 G, 1024 B bytes, row-major. */
function cifarRecords(labels: number[][], firstRecord: number): Buffer {
  const labelBytes = labels[0].length;
  const buffer = Buffer.alloc(labels.length * (labelBytes + 3072));
  labels.forEach((recordLabels, r) => {
    const base = r * (labelBytes + 3072);
    recordLabels.forEach((label, k) => (buffer[base + k] = label));
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) buffer[base + labelBytes + c * 1024 + y * 32 + x] = pixel(firstRecord + r, c, y, x);
  });
  return buffer;
}

function expectPixelsMatch(images: Uint8Array, count: number) {
  for (let r = 0; r < count; r++) {
    for (const [y, x] of [[0, 0], [0, 31], [5, 17], [31, 0], [31, 31]]) {
      for (let c = 0; c < 3; c++) expect(images[r * 3072 + (y * 32 + x) * 3 + c]).toBe(pixel(r, c, y, x));
    }
  }
}

/** Writes CIFAR-10 with `perBatch` records per file (labels cycle through the classes). */
function writeCifar10(directory: string, perBatch: number) {
  const folder = path.join(directory, 'cifar-10-batches-bin');
  mkdirSync(folder, { recursive: true });
  for (let b = 0; b < 5; b++) {
    const labels = Array.from({ length: perBatch }, (_, i) => [(b * perBatch + i) % 10]);
    writeFileSync(path.join(folder, `data_batch_${b + 1}.bin`), cifarRecords(labels, b * perBatch));
  }
  writeFileSync(path.join(folder, 'test_batch.bin'), cifarRecords(Array.from({ length: 20 }, (_, i) => [9 - (i % 10)]), 0));
  writeFileSync(path.join(folder, 'batches.meta.txt'), CIFAR10_CLASS_NAMES.join('\n') + '\n');
}

describe('CIFAR binary readers on files in the official byte layout', () => {
  it('CIFAR-10: five training batches in order, CHW converted to HWC, labels, class names', async () => {
    const temp = temporaryDirectory();
    try {
      writeCifar10(temp.directory, 12);
      const train = await loadCifar10({ directory: temp.directory, split: 'train' });
      expect(train.length).toBe(60);
      expect([train.height, train.width, train.channels, train.numClasses]).toEqual([32, 32, 3, 10]);
      expect(Array.from(train.labels.subarray(0, 13))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
      expectPixelsMatch(train.images, 60);
      expect(train.classNames).toEqual(CIFAR10_CLASS_NAMES);
      const test = await loadCifar10({ directory: path.join(temp.directory, 'cifar-10-batches-bin'), split: 'test' });
      expect(Array.from(test.labels.subarray(0, 3))).toEqual([9, 8, 7]);
      expectPixelsMatch(test.images, 20);
    } finally {
      temp.remove();
    }
  });

  it('CIFAR-10 full size (5 × 10,000 records): CIFAR-10-LT exp 0.01 has the reference counts', async () => {
    const temp = temporaryDirectory();
    try {
      writeCifar10(temp.directory, 10000);
      const train = await loadCifar10({ directory: temp.directory, split: 'train' });
      expect(train.length).toBe(50000);
      expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(5000));
      const longTailed = makeLongTailed(train, { factor: 0.01, seed: 0 });
      expect(classCounts(longTailed.labels, 10)).toEqual([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
      expect(longTailed.length).toBe(12406);
      // The subset's images are copies of the chosen originals.
      const again = makeLongTailed(train, { factor: 0.01, seed: 0 });
      expect(createHash('md5').update(longTailed.images).digest('hex')).toBe(createHash('md5').update(again.images).digest('hex'));
    } finally {
      temp.remove();
    }
  });

  it('CIFAR-100: coarse byte then fine byte; fine (100 classes) and coarse (20) labels', async () => {
    const temp = temporaryDirectory();
    try {
      const folder = path.join(temp.directory, 'cifar-100-binary');
      mkdirSync(folder);
      const labels = Array.from({ length: 30 }, (_, i) => [i % 20, (i * 3) % 100]);
      writeFileSync(path.join(folder, 'train.bin'), cifarRecords(labels, 0));
      writeFileSync(path.join(folder, 'test.bin'), cifarRecords(labels.slice(0, 5), 0));
      const fine = await loadCifar100({ directory: temp.directory, split: 'train' });
      expect(fine.numClasses).toBe(100);
      expect(Array.from(fine.labels)).toEqual(labels.map((l) => l[1]));
      expect(fine.classNames![fine.labels[1]]).toBe(CIFAR100_CLASS_NAMES[3]);
      expectPixelsMatch(fine.images, 30);
      const coarse = await loadCifar100({ directory: temp.directory, split: 'test', labelType: 'coarse' });
      expect(coarse.numClasses).toBe(20);
      expect(Array.from(coarse.labels)).toEqual([0, 1, 2, 3, 4]);
      expect(CIFAR100_CLASS_NAMES).toHaveLength(100);
    } finally {
      temp.remove();
    }
  });

  it('rejects a truncated file and a label out of range, naming the file', async () => {
    const temp = temporaryDirectory();
    try {
      writeCifar10(temp.directory, 2);
      const batch = path.join(temp.directory, 'cifar-10-batches-bin', 'data_batch_3.bin');
      writeFileSync(batch, readFileSync(batch).subarray(0, 3073 + 100));
      await expect(loadCifar10({ directory: temp.directory, split: 'train' })).rejects.toThrow(/data_batch_3\.bin: 3173 bytes is not a whole number of 3073-byte records/);
      const test = path.join(temp.directory, 'cifar-10-batches-bin', 'test_batch.bin');
      writeFileSync(test, cifarRecords([[3], [10]], 0));
      await expect(loadCifar10({ directory: temp.directory, split: 'test' })).rejects.toThrow(/test_batch\.bin: record 1 has label 10/);
    } finally {
      temp.remove();
    }
  });

  it('missing files: the error says which files to put where and where to get them', async () => {
    const temp = temporaryDirectory();
    try {
      const error = await loadCifar10({ directory: temp.directory, split: 'train' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatasetError);
      const message = (error as Error).message;
      expect(message).toContain(path.join(temp.directory, 'cifar-10-batches-bin', 'data_batch_1.bin'));
      expect(message).toContain(path.join(temp.directory, 'cifar-10-batches-bin', 'data_batch_5.bin'));
      expect(message).toContain('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
      expect(message).toContain('c32a1d4ab5d03f1284b67883e8d87530');
      await expect(loadCifar100({ directory: temp.directory, split: 'test' })).rejects.toThrow(/cifar-100-binary\/test\.bin.*03b5dce01913d631647c71ecec9e9cb8/);
      await expect(loadCifar10({ directory: temp.directory, split: 'validation' as 'test' })).rejects.toThrow(/split/);
    } finally {
      temp.remove();
    }
  });
});

describe('download of the official archives (local HTTP server on 127.0.0.1)', () => {
  const temp = temporaryDirectory();
  let server: Server;
  let baseUrl = '';
  let archiveMd5 = '';
  let requests = 0;

  beforeAll(async () => {
    // Build a small cifar-10-binary.tar.gz with the system tar (an independent tar writer).
    const source = path.join(temp.directory, 'source');
    writeCifar10(source, 3);
    const archive = path.join(temp.directory, 'cifar-10-binary.tar.gz');
    execFileSync('tar', ['-czf', archive, '-C', source, 'cifar-10-batches-bin']);
    const bytes = readFileSync(archive);
    archiveMd5 = createHash('md5').update(bytes).digest('hex');
    server = createServer((request, response) => {
      requests++;
      if (request.url === '/cifar-10-binary.tar.gz') {
        response.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/gzip' });
        // Two chunks so that progress is reported more than once.
        response.write(bytes.subarray(0, bytes.length >> 1));
        setTimeout(() => response.end(bytes.subarray(bytes.length >> 1)), 20);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    temp.remove();
  });

  it('downloads, checks the MD5, reports progress, extracts and loads; a second load does not download again', async () => {
    const directory = path.join(temp.directory, 'data-ok');
    const progress: { receivedBytes: number; totalBytes?: number }[] = [];
    const train = await loadCifar10({
      directory,
      split: 'train',
      download: true,
      url: `${baseUrl}/cifar-10-binary.tar.gz`,
      md5: archiveMd5,
      onProgress: (p) => progress.push({ ...p }),
    });
    expect(train.length).toBe(15);
    expectPixelsMatch(train.images, 15);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)!.receivedBytes).toBe(progress.at(-1)!.totalBytes);
    expect(existsSync(path.join(directory, 'cifar-10-binary.tar.gz'))).toBe(false); // archive removed after extraction
    const before = requests;
    const test = await loadCifar10({ directory, split: 'test', download: true, url: `${baseUrl}/cifar-10-binary.tar.gz`, md5: archiveMd5 });
    expect(test.length).toBe(20);
    expect(requests).toBe(before);
  });

  it('a checksum mismatch is an error and leaves no files (the official MD5 is the default)', async () => {
    const directory = path.join(temp.directory, 'data-bad-md5');
    const error = await loadCifar10({ directory, split: 'train', download: true, url: `${baseUrl}/cifar-10-binary.tar.gz` }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(new RegExp(`checksum mismatch.*MD5 ${archiveMd5}, expected c32a1d4ab5d03f1284b67883e8d87530`));
    expect(existsSync(path.join(directory, 'cifar-10-batches-bin'))).toBe(false);
    expect(existsSync(path.join(directory, 'cifar-10-binary.tar.gz.part'))).toBe(false);
  });

  it('offline (connection refused) or HTTP 404: the error says which files to put where', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const directory = path.join(temp.directory, 'data-offline');
    const error = await loadCifar10({ directory, split: 'train', download: true, url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toContain(path.join(directory, 'cifar-10-batches-bin', 'data_batch_1.bin'));
    expect((error as Error).message).toMatch(/Download failed: cannot download http:\/\/127\.0\.0\.1/);
    await expect(loadCifar10({ directory, split: 'train', download: true, url: `${baseUrl}/missing.tar.gz` })).rejects.toThrow(/HTTP 404/);
  });
});

/** One ustar header + data block, written independently of the reader under test. */
function ustarEntry(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\u000000', 257, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([header, padded]);
}

describe('tar reader', () => {
  it('reads what the system tar writes, including long names, and refuses entries outside the destination', async () => {
    const temp = temporaryDirectory();
    try {
      const source = path.join(temp.directory, 'source');
      const longFolder = 'a'.repeat(80) + '/' + 'b'.repeat(80);
      mkdirSync(path.join(source, longFolder), { recursive: true });
      writeFileSync(path.join(source, longFolder, 'file.bin'), Buffer.from([1, 2, 3]));
      writeFileSync(path.join(source, 'empty.txt'), '');
      for (const format of ['gnu', 'ustar', 'pax']) {
        const archive = path.join(temp.directory, `${format}.tar`);
        execFileSync('tar', [`--format=${format}`, '-cf', archive, '-C', source, '.']);
        const entries = [...readTarEntries(readFileSync(archive))].filter((e) => e.type === 'file');
        expect(entries.map((e) => e.name).sort()).toEqual([`${longFolder}/file.bin`, 'empty.txt']);
        expect(Array.from(entries.find((e) => e.name.endsWith('file.bin'))!.data)).toEqual([1, 2, 3]);
      }
      const corrupt = readFileSync(path.join(temp.directory, 'gnu.tar'));
      corrupt[10] ^= 0xff;
      expect(() => [...readTarEntries(corrupt)]).toThrow(/checksum mismatch/);
      // GNU tar strips "../" when writing, so build the hostile archive by hand.
      const evil = path.join(temp.directory, 'evil.tar');
      writeFileSync(evil, Buffer.concat([ustarEntry('../escape.txt', Buffer.from('x')), Buffer.alloc(1024)]));
      await expect(extractTarGz(evil, path.join(temp.directory, 'dest'))).rejects.toThrow(/points outside the destination/);
      expect(imbalancedCounts({ numClasses: 2, maxPerClass: 4, factor: 0.5 })).toEqual([4, 2]);
    } finally {
      temp.remove();
    }
  });
});
