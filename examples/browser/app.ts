// The page's script: loads model/model.json (a `longtail export --format tfjs` directory), shows the run's results and
// classifies an image the user drops or picks, preprocessed exactly as the model's metadata says. Bundled by
// build.mjs into dist/app.js with TensorFlow.js (core, layers, cpu and webgl backends) and @longtail/backbones' layer
// registrations; it fetches nothing but the model files, from its own origin.
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { registerBackboneLayers } from '@longtail/backbones';
import type { BrowserPreprocessing, ExportedModelMetadata } from '@longtail/trainer';

/** The metadata version this page reads (`EXPORT_METADATA_VERSION` of @longtail/trainer). */
const SUPPORTED_FORMAT_VERSION = 1;
const MODEL_URL = 'model/model.json';
const TOP_K = 5;

// The `longtail` entry of the model's userDefinedMetadata and its preprocessing, as @longtail/trainer exports them
// (type-only: nothing of the trainer is bundled).
type Metadata = ExportedModelMetadata;
type Preprocessing = BrowserPreprocessing;

/** One prediction row. */
export interface Prediction {
  classIndex: number;
  className: string;
  probability: number;
  trainCount: number;
  shot: 'many' | 'medium' | 'few' | null;
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

function setStatus(state: 'loading' | 'ready' | 'running' | 'done' | 'error', text: string): void {
  const status = $('#status');
  status.dataset.state = state;
  status.textContent = text;
}

const percent = (value: number | null | undefined) => (value === null || value === undefined ? 'n/a' : `${(100 * value).toFixed(1)}%`);

/** Python's round (half to even), as torchvision's centre crop computes its offsets. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

function checkMetadata(value: unknown): Metadata {
  const metadata = (value as { longtail?: Metadata } | undefined)?.longtail;
  if (!metadata || metadata.format !== 'longtail-tfjs-model') throw new Error(`${MODEL_URL} has no longtail metadata (export it with "longtail export <run> --format tfjs")`);
  if (metadata.formatVersion !== SUPPORTED_FORMAT_VERSION) {
    throw new Error(`${MODEL_URL} has metadata version ${metadata.formatVersion}; this page reads version ${SUPPORTED_FORMAT_VERSION}`);
  }
  const p = metadata.preprocessing;
  if (p.layout !== 'NHWC' || p.valueRange[0] !== 0 || p.valueRange[1] !== 255) throw new Error('unsupported preprocessing (layout or value range)');
  if (p.mean.length !== p.inputShape[2] || p.std.length !== p.inputShape[2]) throw new Error('the preprocessing mean/std do not match the input channels');
  return metadata;
}

/**
 * Draws `image` as the metadata says and returns the network input (NHWC float32, without the batch axis) and the
 * 0–255 picture the network sees (for the preview).
 */
export function preprocess(image: CanvasImageSource & { width: number; height: number }, p: Preprocessing): { input: Float32Array; picture: ImageData } {
  const [height, width, channels] = p.inputShape;
  // Stage 1: the resized image on an opaque background, at the size the resize step gives.
  let drawWidth: number;
  let drawHeight: number;
  let canvasWidth: number;
  let canvasHeight: number;
  let offsetX: number;
  let offsetY: number;
  if (p.resize.mode === 'fit') {
    // Fit inside height × width keeping the aspect ratio, centred; an image of exactly that size is drawn as is.
    const scale = Math.min(p.resize.width / image.width, p.resize.height / image.height);
    drawWidth = image.width === p.resize.width && image.height === p.resize.height ? image.width : Math.max(1, Math.round(image.width * scale));
    drawHeight = image.width === p.resize.width && image.height === p.resize.height ? image.height : Math.max(1, Math.round(image.height * scale));
    canvasWidth = p.resize.width;
    canvasHeight = p.resize.height;
    offsetX = Math.floor((canvasWidth - drawWidth) / 2);
    offsetY = Math.floor((canvasHeight - drawHeight) / 2);
  } else {
    // torchvision Resize(size): shorter side to size, the longer truncated; then the centre crop below.
    const size = p.resize.size;
    if (image.width <= image.height) {
      drawWidth = size;
      drawHeight = Math.trunc((size * image.height) / image.width);
    } else {
      drawHeight = size;
      drawWidth = Math.trunc((size * image.width) / image.height);
    }
    const crop = p.crop ?? { height: drawHeight, width: drawWidth };
    canvasWidth = crop.width;
    canvasHeight = crop.height;
    offsetX = -roundHalfEven((drawWidth - crop.width) / 2);
    offsetY = -roundHalfEven((drawHeight - crop.height) / 2);
  }
  const canvas = document.createElement('canvas');
  canvas.width = canvasWidth;
  canvas.height = canvasHeight;
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.fillStyle = `rgb(${p.background.join(',')})`;
  context.fillRect(0, 0, canvasWidth, canvasHeight);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(image, offsetX, offsetY, drawWidth, drawHeight);
  const drawn = context.getImageData(0, 0, canvasWidth, canvasHeight).data;

  // Stage 2: grey or RGB values, placed in the input frame (padding), then normalised.
  const pad = p.pad ?? { top: 0, bottom: 0, left: 0, right: 0, value: 0 };
  if (pad.top + canvasHeight + pad.bottom !== height || pad.left + canvasWidth + pad.right !== width) {
    throw new Error(`preprocessing: ${canvasHeight}×${canvasWidth} plus padding is not the input size ${height}×${width}`);
  }
  const input = new Float32Array(height * width * channels);
  const picture = new ImageData(width, height);
  const luma = p.grayscale?.luma;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sy = y - pad.top;
      const sx = x - pad.left;
      const inside = sy >= 0 && sy < canvasHeight && sx >= 0 && sx < canvasWidth;
      let r = pad.value;
      let g = pad.value;
      let b = pad.value;
      if (inside) {
        const source = (sy * canvasWidth + sx) * 4;
        r = drawn[source];
        g = drawn[source + 1];
        b = drawn[source + 2];
      }
      if (p.color === 'grayscale' && luma) r = g = b = Math.round(luma[0] * r + luma[1] * g + luma[2] * b);
      const rgb = [r, g, b];
      const target = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) input[target + c] = (rgb[c % 3] / 255 - p.mean[c]) / p.std[c];
      const pixel = (y * width + x) * 4;
      picture.data.set([r, g, b, 255], pixel);
    }
  }
  return { input, picture };
}

/** Softmax of `scale · outputs` in float64 (max-subtracted). */
export function probabilities(outputs: ArrayLike<number>, scale: number): number[] {
  let max = -Infinity;
  for (let i = 0; i < outputs.length; i++) max = Math.max(max, scale * outputs[i]);
  const exps = Array.from(outputs, (value) => Math.exp(scale * value - max));
  const sum = exps.reduce((total, value) => total + value, 0);
  return exps.map((value) => value / sum);
}

function shotOf(metadata: Metadata, classIndex: number): Prediction['shot'] {
  const groups = metadata.shotGroups;
  if (!groups) return null;
  if (groups.many.includes(classIndex)) return 'many';
  if (groups.few.includes(classIndex)) return 'few';
  if (groups.medium.includes(classIndex)) return 'medium';
  return null;
}

function showModel(metadata: Metadata, backend: string): void {
  const results = metadata.results;
  const rows: Array<[string, string]> = [
    ['data set', metadata.dataset],
    ['network', `${metadata.backbone}, ${metadata.head.kind} head, ${metadata.numClasses} classes`],
    ['checkpoint', `${metadata.checkpoint.file} (sha256 ${metadata.checkpoint.sha256.slice(0, 12)})`],
    ['longtail', metadata.longtailVersion],
    ['backend', backend],
  ];
  const table = $('#model-info');
  table.replaceChildren(
    ...rows.map(([key, value]) => {
      const row = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = key;
      const td = document.createElement('td');
      td.textContent = value;
      row.append(th, td);
      return row;
    }),
  );
  const summary = $('#results');
  if (!results) {
    summary.textContent = 'The run has no results.json.';
    return;
  }
  const cells: Array<[string, string, number | null]> = [
    ['top1', 'top-1', results.top1],
    ['top5', 'top-5', results.top5],
    ['many', `many (> ${metadata.shotGroups?.manyAbove ?? 100})`, results.many],
    ['medium', 'medium', results.medium],
    ['few', `few (< ${metadata.shotGroups?.fewBelow ?? 20})`, results.few],
    ['ece', 'ECE', results.ece],
  ];
  summary.replaceChildren(
    ...cells.map(([key, label, value]) => {
      const item = document.createElement('div');
      item.className = 'metric';
      item.dataset.metric = key;
      item.dataset.value = value === null ? '' : String(value);
      const number = document.createElement('strong');
      number.textContent = percent(value);
      const caption = document.createElement('span');
      caption.textContent = label;
      item.append(number, caption);
      return item;
    }),
  );
  const note = $('#results-note');
  note.textContent =
    `Test set: ${results.numSamples} images; stage ${results.stage ?? '?'}'s best network.` +
    (results.describesCheckpoint ? '' : ' These are the run’s final results, not those of the exported checkpoint.');
}

function showPredictions(metadata: Metadata, predictions: Prediction[]): void {
  const body = $('#predictions tbody');
  body.replaceChildren(
    ...predictions.map((prediction, rank) => {
      const row = document.createElement('tr');
      row.dataset.classIndex = String(prediction.classIndex);
      row.dataset.probability = String(prediction.probability);
      row.dataset.trainCount = String(prediction.trainCount);
      row.dataset.shot = prediction.shot ?? '';
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${(100 * prediction.probability).toFixed(1)}%`;
      const values = [String(rank + 1), prediction.className, `${(100 * prediction.probability).toFixed(2)}%`, String(prediction.trainCount), prediction.shot ?? '–'];
      row.append(
        ...values.map((text, column) => {
          const cell = document.createElement('td');
          cell.textContent = text;
          if (column === 2) cell.append(bar);
          if (column === 4 && prediction.shot) cell.className = `shot ${prediction.shot}`;
          return cell;
        }),
      );
      return row;
    }),
  );
  $('#predictions').hidden = false;
  const top = predictions[0];
  $('#verdict').textContent = `${top.className} (${(100 * top.probability).toFixed(1)}%) — ${top.trainCount} training images${top.shot ? `, a ${top.shot}-shot class` : ''}`;
  void metadata;
}

async function classify(model: LayersModel, metadata: Metadata, file: Blob, name: string): Promise<void> {
  setStatus('running', `classifying ${name} …`);
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'none' });
  let outputs: Float32Array;
  let picture: ImageData;
  try {
    const prepared = preprocess(bitmap, metadata.preprocessing);
    picture = prepared.picture;
    const [height, width, channels] = metadata.preprocessing.inputShape;
    const logits = tf.tidy(() => model.predict(tf.tensor4d(prepared.input, [1, height, width, channels])) as tf.Tensor);
    try {
      outputs = (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  } finally {
    bitmap.close();
  }
  const probs = probabilities(outputs, metadata.head.probabilityScale);
  const order = probs.map((_, index) => index).sort((a, b) => probs[b] - probs[a] || a - b);
  const predictions = order.slice(0, Math.min(TOP_K, probs.length)).map((classIndex) => ({
    classIndex,
    className: metadata.classNames[classIndex] ?? String(classIndex),
    probability: probs[classIndex],
    trainCount: metadata.trainCounts[classIndex],
    shot: shotOf(metadata, classIndex),
  }));
  const preview = $<HTMLCanvasElement>('#network-input');
  preview.width = picture.width;
  preview.height = picture.height;
  preview.getContext('2d')!.putImageData(picture, 0, 0);
  const original = $<HTMLImageElement>('#original');
  if (original.src.startsWith('blob:')) URL.revokeObjectURL(original.src);
  original.src = URL.createObjectURL(file);
  $('#preview').hidden = false;
  showPredictions(metadata, predictions);
  setStatus('done', `${name}: ${predictions[0].className}`);
}

async function chooseBackend(): Promise<string> {
  // ?backend=cpu (or webgl) forces one; otherwise webgl where it initialises, else cpu.
  const wanted = new URLSearchParams(location.search).get('backend');
  if (wanted === 'cpu' || wanted === 'webgl') {
    if (!(await tf.setBackend(wanted))) throw new Error(`backend ${wanted} does not initialise in this browser`);
  } else if (!(await tf.setBackend('webgl').catch(() => false))) {
    await tf.setBackend('cpu');
  }
  await tf.ready();
  return tf.getBackend();
}

async function main(): Promise<void> {
  tf.env().set('PROD', true);
  registerBackboneLayers();
  setStatus('loading', 'loading the model …');
  const backend = await chooseBackend();
  const model = await loadLayersModel(new URL(MODEL_URL, location.href).href);
  const metadata = checkMetadata(model.getUserDefinedMetadata());
  if (metadata.classNames.length !== metadata.numClasses || metadata.trainCounts.length !== metadata.numClasses) throw new Error('metadata: class names or counts do not match numClasses');
  showModel(metadata, backend);
  document.title = `${metadata.dataset} classifier — longtail`;
  $('#title').textContent = `${metadata.dataset}: classify an image`;

  let busy: Promise<void> = Promise.resolve();
  const run = (file: File | undefined) => {
    if (!file) return;
    busy = busy
      .then(() => classify(model, metadata, file, file.name || 'image'))
      .catch((error: unknown) => {
        setStatus('error', `cannot classify ${file.name}: ${(error as Error).message}`);
      });
  };
  const input = $<HTMLInputElement>('#file');
  input.addEventListener('change', () => run(input.files?.[0]));
  const zone = $('#drop-zone');
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    run(event.dataTransfer?.files?.[0]);
  });
  // Dropping anywhere else must not navigate away to the image.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
  setStatus('ready', 'ready: drop an image or choose a file');
}

main().catch((error: unknown) => {
  setStatus('error', `cannot start: ${(error as Error).message}`);
  console.error(error);
});
