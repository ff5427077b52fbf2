import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { DatasetError } from './errors.js';
import { extractTarGz } from './tar.js';

/** Progress of a download: bytes so far and, when the server sends Content-Length, the total. */
export interface DownloadProgress {
  url: string;
  receivedBytes: number;
  totalBytes?: number;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Expected MD5 (hex); the file is deleted and an error thrown on mismatch. */
  md5?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** Replaceable for tests and proxies; default the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Downloads `url` to `file` (through `file.part`, renamed when complete), computing the MD5 while streaming and
 * reporting progress. Throws a {@link DatasetError} naming the URL when the request fails or the checksum differs.
 * @returns the MD5 of the downloaded file (hex).
 */
export async function downloadFile(url: string, file: string, options: DownloadOptions = {}): Promise<string> {
  const fetchFunction = options.fetch ?? globalThis.fetch;
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const partial = `${file}.part`;
  let response: Response;
  try {
    response = await fetchFunction(url);
  } catch (error) {
    const cause = (error as { cause?: { message?: string } })?.cause?.message ?? (error as Error)?.message;
    throw new DatasetError(`cannot download ${url}: ${cause}`, { cause: error });
  }
  if (!response.ok || !response.body) throw new DatasetError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  const lengthHeader = response.headers.get('content-length');
  const totalBytes = lengthHeader ? Number(lengthHeader) : undefined;
  const hash = createHash('md5');
  const out = createWriteStream(partial);
  let receivedBytes = 0;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      receivedBytes += value.length;
      if (!out.write(value)) await new Promise<void>((resolve) => out.once('drain', resolve));
      options.onProgress?.({ url, receivedBytes, totalBytes });
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw new DatasetError(`download of ${url} failed after ${receivedBytes} bytes: ${(error as Error)?.message}`, { cause: error });
  }
  if (totalBytes !== undefined && receivedBytes !== totalBytes) {
    await rm(partial, { force: true });
    throw new DatasetError(`download of ${url} incomplete: ${receivedBytes} of ${totalBytes} bytes`);
  }
  const digest = hash.digest('hex');
  if (options.md5 !== undefined && digest !== options.md5.toLowerCase()) {
    await rm(partial, { force: true });
    throw new DatasetError(`checksum mismatch for ${url}: MD5 ${digest}, expected ${options.md5}; the file was deleted`);
  }
  await rename(partial, file);
  return digest;
}

/**
 * Downloads a `.tar.gz` archive into `directory`, verifies its MD5, extracts it there and deletes the archive.
 * @returns the extracted file paths relative to `directory`.
 */
export async function downloadAndExtract(url: string, directory: string, options: DownloadOptions = {}): Promise<string[]> {
  const archive = path.join(directory, path.basename(new URL(url).pathname) || 'download.tar.gz');
  await downloadFile(url, archive, options);
  try {
    return await extractTarGz(archive, directory);
  } finally {
    await rm(archive, { force: true });
  }
}
