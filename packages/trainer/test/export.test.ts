import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { fileSystemHandler, loadModel } from '@longtail/backbones';
import {
  imageFolderTransforms,
  applyCifarTransform,
  batches,
  cifarTrainTransform,
  fashionMnistTransform,
  imagenetEvalTransform,
  imagenetTrainTransform,
  resizeCenterCropGeometry,
  type InMemoryImageDataset,
} from '@longtail/datasets';
import { SeededRandom, classCounts } from '@longtail/samplers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  browserPreprocessing,
  buildModel,
  exportCommand,
  exportRun,
  loadCheckpoint,
  loadTrainingData,
  resolveConfig,
  restoreModelWeights,
  train,
  EXPORT_METADATA_VERSION,
  type BrowserPreprocessing,
  type ExportedModelMetadata,
  type RunConfig,
  type TrainingData,
} from '../src/index.js';

const sink = { write: () => true, isTTY: false };
const packageVersion = (JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package.json'), 'utf8')) as { version: string }).version;

function runConfig(outputDir: string): RunConfig {
  // resnet20: every custom layer of @longtail/backbones (TorchConv2D, TorchBatchNorm, AddRelu, OptionAShortcut, NormedLinear).
  return resolveConfig({
    name: 'export',
    outputDir,
    backend: 'cpu',
    progress: 'none',
    seed: 5,
    data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 } },
    model: { backbone: 'resnet20' },
    stage1: { epochs: 1, batchSize: 64, optimizer: { lr: 0.05 }, schedule: { warmupEpochs: 0.5, milestones: [1] } },
    stage2: { epochs: 1, batchSize: 64 },
    evaluation: { batchSize: 200 },
  });
}

/** The preprocessing as the metadata describes it, applied to one HWC uint8 image of the metadata's source size. */
function preprocessLikeThePage(pixels: Uint8Array, height: number, width: number, channels: number, p: BrowserPreprocessing): Float32Array {
  const [inputHeight, inputWidth, inputChannels] = p.inputShape;
  const out = new Float32Array(inputHeight * inputWidth * inputChannels);
  const pad = p.pad ?? { top: 0, left: 0, bottom: 0, right: 0, value: 0 };
  expect(pad.top + height + pad.bottom).toBe(inputHeight);
  expect(pad.left + width + pad.right).toBe(inputWidth);
  for (let y = 0; y < inputHeight; y++) {
    for (let x = 0; x < inputWidth; x++) {
      const sy = y - pad.top;
      const sx = x - pad.left;
      const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      for (let c = 0; c < inputChannels; c++) {
        // A grey image drawn into a canvas is R = G = B = v, whose luma rounds back to v.
        const rgb = inside ? [0, 1, 2].map((k) => pixels[(sy * width + sx) * channels + (channels === 1 ? 0 : k)]) : [pad.value, pad.value, pad.value];
        const value = p.color === 'grayscale' ? Math.round(p.grayscale!.luma[0] * rgb[0] + p.grayscale!.luma[1] * rgb[1] + p.grayscale!.luma[2] * rgb[2]) : rgb[c];
        out[(y * inputWidth + x) * inputChannels + c] = (value / 255 - p.mean[c]) / p.std[c];
      }
    }
  }
  return out;
}

describe('longtail export --format tfjs', () => {
  let root: string;
  let config: RunConfig;
  let data: TrainingData;
  let runDir: string;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    root = mkdtempSync(path.join(tmpdir(), 'longtail-export-'));
    config = runConfig(path.join(root, 'run'));
    data = await loadTrainingData(config);
    const summary = await train(config, { data, stream: sink });
    runDir = summary.outputDir;
  }, 180_000);

  it('writes model.json + shards whose network gives the trainer model’s logits, with the metadata a page needs', async () => {
    const before = tf.memory().numTensors;
    const result = await exportRun({ run: runDir, format: 'tfjs' });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.directory).toBe(path.join(runDir, 'export-tfjs'));
    expect(result.files[0]).toBe(path.join(runDir, 'export-tfjs', 'model.json'));
    expect(result.files.slice(1).map((file) => path.basename(file))).toEqual(['group1-shard1of1.bin']);
    expect(readdirSync(result.directory).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    expect(result.checkpointFile).toBe(path.join(runDir, 'checkpoints', 'stage2-best.ckpt'));

    // Metadata, read back from the file through tfjs.
    const exported = await loadModel(result.directory);
    const metadata = (exported.getUserDefinedMetadata() as { longtail: ExportedModelMetadata }).longtail;
    expect(metadata).toEqual(result.metadata);
    const checkpoint = await loadCheckpoint(result.checkpointFile);
    const results = JSON.parse(readFileSync(path.join(runDir, 'results.json'), 'utf8'));
    const stage2 = JSON.parse(readFileSync(path.join(runDir, 'results', 'stage2.json'), 'utf8'));
    expect(metadata.format).toBe('longtail-tfjs-model');
    expect(metadata.formatVersion).toBe(EXPORT_METADATA_VERSION);
    expect(metadata.longtailVersion).toBe(packageVersion);
    expect(metadata.dataset).toBe('synthetic');
    expect(metadata.backbone).toBe('resnet20');
    expect(metadata.numClasses).toBe(10);
    expect(metadata.classNames).toEqual(data.classNames);
    expect(metadata.trainCounts).toEqual(classCounts(data.train.labels, 10));
    expect(metadata.trainCounts).toEqual(results.trainCounts);
    expect(metadata.shotGroups).toEqual({ manyAbove: 100, fewBelow: 20, ...results.groups });
    expect(metadata.head).toEqual({ kind: 'cosine', cosineLogits: true, probabilityScale: 20, probabilityScaleSource: 'stage2.loss logit scale' });
    expect(metadata.checkpoint).toMatchObject({ file: 'checkpoints/stage2-best.ckpt', stage: 2, epochsDone: 1, which: 'best', sha256: checkpoint.payloadSha256 });
    expect(metadata.checkpoint.sha256).toBe(stage2.checkpointSha256);
    expect(metadata.checkpoint.fileSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(metadata.results).toEqual({
      stage: 2,
      numSamples: results.numSamples,
      top1: results.top1,
      top5: results.top5,
      many: results.many,
      medium: results.medium,
      few: results.few,
      ece: results.calibration?.ece ?? null,
      describesCheckpoint: true,
    });
    // synthetic: 8×8 RGB images, CIFAR-style evaluation transform with mean 0.5, std 0.25, nothing to pad.
    expect(metadata.preprocessing).toEqual({
      transform: 'cifar',
      inputShape: [8, 8, 3],
      layout: 'NHWC',
      dtype: 'float32',
      sourceShape: [8, 8, 3],
      color: 'rgb',
      grayscale: null,
      background: [0, 0, 0],
      resize: { mode: 'fit', height: 8, width: 8 },
      pad: null,
      crop: null,
      valueRange: [0, 255],
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
      normalize: '(value / 255 - mean[c]) / std[c]',
    });

    // The trainer's model (as `longtail eval` builds it) and the exported one, on the same test images.
    const reference = await buildModel(config.model.backbone, { numClasses: 10, head: 'cosine', inputShape: data.inputShape });
    restoreModelWeights(reference, checkpoint.tensors.model);
    let compared = 0;
    let worst = 0;
    for await (const batch of batches(data.test, { batchSize: 100, transform: data.evalTransform, seed: 1 })) {
      // The metadata's preprocessing of the raw pixels is the evaluation transform.
      const image = (data.test as InMemoryImageDataset).image(batch.indices[0]);
      const described = preprocessLikeThePage(image, 8, 8, 3, metadata.preprocessing);
      const fromTransform = batch.images.subarray(0, described.length);
      described.forEach((value, i) => expect(Math.abs(value - fromTransform[i])).toBeLessThan(1e-5));
      const [a, b] = tf.tidy(() => {
        const input = tf.tensor4d(batch.images, batch.shape);
        return [(reference.predict(input) as tf.Tensor).dataSync(), (exported.predict(input) as tf.Tensor).dataSync()];
      });
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      compared += batch.labels.length;
    }
    expect(compared).toBe(data.test.length);
    expect(worst).toBeLessThanOrEqual(1e-5);
    // The plain tfjs loader reads the same directory (custom classes registered by importing @longtail/backbones).
    const plain = await tf.loadLayersModel(fileSystemHandler(result.directory));
    expect(plain.getUserDefinedMetadata()).toEqual({ longtail: metadata });
    plain.dispose();
    reference.dispose();
    exported.dispose();
  });

  it('exports --checkpoint last or a file into --out, replacing an earlier export, and prints what it wrote', async () => {
    const out = path.join(root, 'out');
    mkdirSync(out);
    writeFileSync(path.join(out, 'group1-shard1of3.bin'), 'stale');
    writeFileSync(path.join(out, 'SHA256SUMS'), 'kept');
    const written: string[] = [];
    const io = { cwd: root, env: {}, stdout: { write: (s: string) => written.push(s) > 0, isTTY: false }, stderr: sink } as unknown as Parameters<typeof exportCommand>[0]['io'];
    const result = await exportCommand({ run: 'run', format: 'tfjs', out: 'out', checkpoint: 'last', io });
    expect(result.metadata.checkpoint).toMatchObject({ file: 'checkpoints/stage2-last.ckpt', which: 'last', stage: 2 });
    expect(readdirSync(out).sort()).toEqual(['SHA256SUMS', 'group1-shard1of1.bin', 'model.json']);
    const text = written.join('');
    expect(text).toContain('wrote out/model.json (');
    expect(text).toContain('wrote out/group1-shard1of1.bin (');
    expect(text).toMatch(/resnet20, cosine head, 10 classes, input 8×8×3 \(rgb\); results: top-1 \d/);

    // A stage-1 checkpoint by file: the final results are not its results, and its scale is stage 1's s.
    const stage1 = await exportRun({ run: runDir, format: 'tfjs', out, checkpoint: path.join(runDir, 'checkpoints', 'stage1-best.ckpt') });
    expect(stage1.metadata.checkpoint).toMatchObject({ file: 'checkpoints/stage1-best.ckpt', which: 'file', stage: 1 });
    expect(stage1.metadata.head.probabilityScale).toBe(30);
    expect(stage1.metadata.results?.describesCheckpoint).toBe(false);
  });

  it('refuses unknown formats, missing runs and checkpoints with messages naming them', async () => {
    await expect(exportRun({ run: runDir, format: 'onnx' })).rejects.toThrow('export: unknown format "onnx" (formats: tfjs)');
    await expect(exportRun({ run: path.join(root, 'nope'), format: 'tfjs' })).rejects.toThrow(/nope is not a run directory \(the export directory .*nope does not exist\)/);
    const empty = path.join(root, 'not-a-run');
    mkdirSync(empty);
    await expect(exportRun({ run: empty, format: 'tfjs' })).rejects.toThrow(/is not a run directory \(no config\.json\)/);
    const untrained = path.join(root, 'untrained');
    mkdirSync(untrained);
    writeFileSync(path.join(untrained, 'config.json'), JSON.stringify(config));
    await expect(exportRun({ run: untrained, format: 'tfjs' })).rejects.toThrow(/has no checkpoints\/stage1-best\.ckpt/);
    await expect(exportRun({ run: runDir, format: 'tfjs', checkpoint: path.join(root, 'missing.ckpt') })).rejects.toThrow(/checkpoint .*missing\.ckpt does not exist/);
    expect(existsSync(path.join(untrained, 'export-tfjs'))).toBe(false);
    // A checkpoint of another run, by file.
    const other = path.join(root, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'config.json'), JSON.stringify(config));
    writeFileSync(path.join(other, 'run.json'), JSON.stringify({ fingerprint: 'f'.repeat(64) }));
    await expect(exportRun({ run: other, format: 'tfjs', checkpoint: path.join(runDir, 'checkpoints', 'stage2-best.ckpt') })).rejects.toThrow(/belongs to another run \(fingerprint [0-9a-f]{12}, .*other's is ffffffffffff\)/);
  });
});

describe('browserPreprocessing', () => {
  it('describes Fashion-MNIST’s evaluation transform: grey 28×28, centre-padded to 32×32, repeated to RGB', () => {
    const p = browserPreprocessing(fashionMnistTransform({ train: false }), [28, 28, 1]);
    expect(p).toMatchObject({
      transform: 'cifar',
      inputShape: [32, 32, 3],
      sourceShape: [28, 28, 1],
      color: 'grayscale',
      grayscale: { luma: [0.299, 0.587, 0.114], rounding: 'round', expand: 'repeat', channels: 3 },
      resize: { mode: 'fit', height: 28, width: 28 },
      pad: { top: 2, bottom: 2, left: 2, right: 2, value: 0 },
      crop: null,
      mean: [0.286, 0.286, 0.286],
      std: [0.353, 0.353, 0.353],
    });
    // Applied as described, it is the trainer's evaluation transform.
    const random = new SeededRandom(1);
    const pixels = Uint8Array.from({ length: 28 * 28 }, () => random.nextInt(256));
    const expected = new Float32Array(32 * 32 * 3);
    applyCifarTransform(pixels, 0, 28, 28, 1, fashionMnistTransform({ train: false }), random, expected, 0);
    const described = preprocessLikeThePage(pixels, 28, 28, 1, p);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(described[i] - expected[i]));
    expect(worst).toBeLessThan(1e-5);
  });

  it('describes an ImageNet evaluation transform as resize of the shorter side + centre crop', () => {
    const p = browserPreprocessing(imagenetEvalTransform({ resize: 256, size: 224 }), null);
    expect(p).toMatchObject({ transform: 'imagenet-eval', inputShape: [224, 224, 3], color: 'rgb', resize: { mode: 'shorter-side', size: 256 }, crop: { mode: 'center', height: 224, width: 224 }, pad: null });
    expect(p.mean).toEqual([0.485, 0.456, 0.406]);
    expect(resizeCenterCropGeometry(300, 400, 256, 224)).toEqual({ resizedHeight: 256, resizedWidth: 341, top: 16, left: 58 });
  });

  it("describes an image folder's evaluation transform (files of any size) as shorter side + centre crop", async () => {
    const { evalTransform } = imageFolderTransforms({ augmentation: 'auto', inputSize: 32 });
    const p = browserPreprocessing(evalTransform, null);
    expect(p).toMatchObject({ transform: 'cifar', inputShape: [32, 32, 3], color: 'rgb', resize: { mode: 'shorter-side', size: 32 }, crop: { mode: 'center', height: 32, width: 32 }, pad: null });
    expect(p.mean).toEqual([...(evalTransform as unknown as { mean: number[] }).mean]);
  });

  it('refuses transforms it cannot describe', () => {
    expect(() => browserPreprocessing(cifarTrainTransform(), [32, 32, 3])).toThrow(/random steps \(crop padding 4, flip true\)/);
    expect(() => browserPreprocessing(imagenetTrainTransform(), null)).toThrow(/imagenet-train is a random training transform/);
    expect(() => browserPreprocessing(fashionMnistTransform({ train: false }), null)).toThrow(/needs in-memory images/);
    expect(() => browserPreprocessing(fashionMnistTransform({ train: false }), [40, 40, 1])).toThrow(/larger than/);
    expect(() => browserPreprocessing({ kind: 'other' } as never, null)).toThrow(/unknown transform/);
  });
});
