import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { FileImageDataset } from './dataset.js';
import { lexicalPathProblem, quotePath } from './confinement.js';
import { DatasetError } from './errors.js';
import { requireDirectory } from './split-file.js';

interface AnnotationFile {
  images?: { id?: unknown; file_name?: unknown }[];
  annotations?: { image_id?: unknown; category_id?: unknown }[];
  categories?: { id?: unknown; name?: unknown }[];
}

/**
 * iNaturalist 2018 from its COCO-style JSON annotation file (`train2018.json`, `val2018.json`): `images[i].file_name`
 * (relative to `root`, e.g. `train_val2018/Plantae/7477/….jpg`), labelled by the `annotations` entry with the same
 * `image_id`; `categories` (8142, ids 0 … 8141) give the class names. Errors name the file and the `images[i]` entry.
 * A `file_name` that could leave the root (absolute, NUL byte, `..` climbing above it) is rejected here; symbolic links
 * that lead outside the root are rejected when the image is read.
 */
export async function loadINaturalist2018(options: { annotationFile: string; root: string }): Promise<FileImageDataset> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const file = options.annotationFile;
  if (typeof file !== 'string' || file === '') throw new TypeError('annotationFile must be the path of train2018.json or val2018.json');
  if (typeof options.root !== 'string' || options.root === '') throw new TypeError('root must be the image root directory');
  await requireDirectory(options.root, file);
  let json: AnnotationFile;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as AnnotationFile;
  } catch (error) {
    throw new DatasetError(`cannot read annotation file ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  const { images, annotations, categories } = json ?? {};
  if (!Array.isArray(images) || !Array.isArray(annotations) || !Array.isArray(categories)) {
    throw new DatasetError(`${file}: expected a JSON object with "images", "annotations" and "categories" arrays`, { file });
  }
  const numClasses = categories.length;
  const classNames: string[] = new Array(numClasses).fill('');
  categories.forEach((category, i) => {
    const id = category?.id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= numClasses) {
      throw new DatasetError(`${file} categories[${i}]: id ${String(id)} is not in [0, ${numClasses})`, { file });
    }
    classNames[id] = String(category.name ?? id);
  });
  const labelOfImage = new Map<unknown, number>();
  annotations.forEach((annotation, i) => {
    const category = annotation?.category_id;
    if (typeof category !== 'number' || !Number.isInteger(category) || category < 0 || category >= numClasses) {
      throw new DatasetError(`${file} annotations[${i}]: category_id ${String(category)} is out of range [0, ${numClasses})`, { file });
    }
    labelOfImage.set(annotation.image_id, category);
  });
  const paths: string[] = [];
  const labels = new Int32Array(images.length);
  const entries = new Int32Array(images.length);
  images.forEach((image, i) => {
    if (typeof image?.file_name !== 'string' || image.file_name === '') throw new DatasetError(`${file} images[${i}]: missing file_name`, { file });
    const problem = lexicalPathProblem(image.file_name);
    if (problem !== undefined) throw new DatasetError(`${file} images[${i}]: file_name ${quotePath(image.file_name)} ${problem}`, { file });
    const label = labelOfImage.get(image.id);
    if (label === undefined) throw new DatasetError(`${file} images[${i}] (${image.file_name}): no annotation with image_id ${String(image.id)}`, { file });
    paths.push(image.file_name);
    labels[i] = label;
    entries[i] = i;
  });
  return new FileImageDataset({ root: path.resolve(options.root), paths, labels, numClasses, classNames, sourceFile: file, sourceLines: entries, sourceKind: 'entry' });
}
