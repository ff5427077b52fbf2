/** Image-folder trees for the image-folder and check-data tests, written with sharp into a temporary directory. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

export type Format = 'png' | 'jpeg' | 'webp';

/** A solid-colour image (or grey when `grey`), written as `format` to `file` (folders created). */
export async function writeImage(
  file: string,
  options: { width: number; height: number; colour: [number, number, number]; format?: Format; grey?: boolean },
): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const [r, g, b] = options.colour;
  let image = sharp({ create: { width: options.width, height: options.height, channels: 3, background: { r, g, b } } });
  if (options.grey) image = image.toColourspace('b-w');
  const format = options.format ?? 'png';
  const encoded = format === 'png' ? image.png() : format === 'jpeg' ? image.jpeg({ quality: 95 }) : image.webp({ lossless: true });
  writeFileSync(file, await encoded.toBuffer());
}

/** A textured JPEG (pseudo-random pixels), so that truncating it cuts into the entropy-coded data. */
export async function textureJpeg(width: number, height: number, salt: number): Promise<Buffer> {
  const pixels = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 7919 + salt * 104729) % 251));
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/**
 * `count` distinct images under `directory` (each a different colour, so no two files are identical), cycling
 * through the formats and sizes given; names `img<k>.<ext>`.
 */
export async function writeClass(
  directory: string,
  count: number,
  options: { formats?: Format[]; sizes?: Array<[number, number]>; salt?: number } = {},
): Promise<string[]> {
  const formats = options.formats ?? ['png'];
  const sizes = options.sizes ?? [[12, 10]];
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    const format = formats[k % formats.length];
    const [width, height] = sizes[k % sizes.length];
    const name = `img${k}.${format === 'jpeg' ? 'jpg' : format}`;
    const salt = options.salt ?? 0;
    await writeImage(path.join(directory, name), { width, height, format, colour: [(salt * 37 + k * 11) % 256, (salt * 53 + 40) % 256, (k * 29 + 7) % 256] });
    names.push(name);
  }
  return names;
}

/** Random bytes under an image name: a corrupt file. */
export function writeCorrupt(file: string, length = 300): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.from(Array.from({ length }, (_, i) => (i * 131 + 17) % 256)));
}
