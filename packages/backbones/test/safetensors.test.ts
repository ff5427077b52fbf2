import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  exportStateDict,
  forwardWithFeatures,
  loadPyTorchWeights,
  loadStateDict,
  readSafetensorsFile,
  resnet32,
  resnet50,
  type TorchTensor,
} from '../src/index.js';
import { expectRelativelyClose, fixturesDirectory, readFixture, readGzipFixture } from './helpers/common.js';
import { formulaInput, formulaTensor } from './helpers/formula.js';
import { expectedTorchTensors } from './helpers/models.js';

const forward = readFixture<{ cases: Array<{ factory: string; head: string; inputShape: number[]; logits: number[] }> }>(
  'forward_parity.json',
).cases;
const temporaryDirectory = mkdtempSync(path.join(tmpdir(), 'backbones-safetensors-'));
afterAll(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

/** Bytes of a safetensors file whose header is `header` (JSON object or raw text) followed by `data`. */
function handmade(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + text.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(declaredLength ?? text.length), true);
  bytes.set(text, 8);
  bytes.set(data, 8 + text.length);
  return bytes;
}

describe('safetensors reader', () => {
  it('decodes F16, BF16, F64, F32 and I64 exactly as torch stored them (file written by make_fixtures.py)', async () => {
    const expected = readFixture<Record<string, { dtype: string; shape: number[]; values: number[] }>>('dtypes.json');
    const file = await readSafetensorsFile(path.join(fixturesDirectory, 'dtypes.safetensors'));
    expect(file.metadata).toEqual({ purpose: 'dtype coverage' });
    expect([...file.tensors.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, reference] of Object.entries(expected)) {
      const tensor = file.tensors.get(name)!;
      expect(tensor.dtype).toBe(reference.dtype);
      expect(tensor.shape).toEqual(reference.shape);
      const values = Array.from(tensor.values as ArrayLike<number | bigint>, Number);
      // Every stored value is exactly representable in the decoded array type: compare exactly.
      expect(values).toEqual(reference.values);
    }
    expect(file.tensors.get('values_f16')!.values).toBeInstanceOf(Float32Array);
    expect(file.tensors.get('values_f64')!.values).toBeInstanceOf(Float64Array);
    expect(file.tensors.get('counts_i64')!.values).toBeInstanceOf(BigInt64Array);
  });

  it('round-trips its own encoder', () => {
    const encoded = encodeSafetensors(
      {
        weight: { shape: [2, 3], values: Float32Array.from([1, -2, 3.5, 0, 1e-8, -7]) },
        steps: { shape: [1], values: BigInt64Array.from([12n]) },
        precise: { shape: [2], values: Float64Array.from([Math.PI, -1 / 3]) },
      },
      { format: 'pt' },
    );
    expect(encoded.byteLength % 8).toBe(0);
    const decoded = decodeSafetensors(encoded);
    expect(decoded.metadata).toEqual({ format: 'pt' });
    expect(Array.from(decoded.tensors.get('weight')!.values as Float32Array)).toEqual(Array.from(Float32Array.from([1, -2, 3.5, 0, 1e-8, -7])));
    expect(decoded.tensors.get('steps')!.values).toEqual(BigInt64Array.from([12n]));
    expect(Array.from(decoded.tensors.get('precise')!.values as Float64Array)).toEqual([Math.PI, -1 / 3]);
  });

  it.each([
    ['too short', new Uint8Array(5), /file too short \(5 bytes\)/],
    ['header length past the end', handmade({}, new Uint8Array(0), 4096), /header length 4096 exceeds the file/],
    ['header not JSON', handmade('{"a": [1, 2'), /header is not valid UTF-8 JSON/],
    ['header not an object', handmade('[1,2]'), /header must be a JSON object/],
    [
      'unsupported dtype',
      handmade({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      /tensor 'w' has unsupported dtype "F8_E4M3"/,
    ],
    ['bad shape', handmade({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'w' has an invalid shape/],
    [
      'offsets not matching the shape',
      handmade({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Uint8Array(12)),
      /tensor 'w' \(F32 \[2, 2\]\) needs 16 bytes but data_offsets \[0, 12\] span 12/,
    ],
    [
      'truncated data',
      handmade({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(10)),
      /tensor 'w' data_offsets \[0, 16\] run past the end of the data \(10 bytes\)/,
    ],
    [
      'overlapping tensors',
      handmade(
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
        new Uint8Array(12),
      ),
      /tensor 'b' overlaps/,
    ],
    ['trailing bytes', handmade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /4 trailing bytes/],
  ] as Array<[string, Uint8Array, RegExp]>)('rejects a broken file: %s', (_, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(message);
  });

  it('names the file in errors from disk, and rejects a truncated real file', async () => {
    const bytes = readGzipFixture('resnet32_dense.safetensors.gz');
    const truncatedPath = path.join(temporaryDirectory, 'truncated.safetensors');
    writeFileSync(truncatedPath, bytes.subarray(0, bytes.length - 100));
    await expect(readSafetensorsFile(truncatedPath)).rejects.toThrow(/run past the end of the data.*truncated\.safetensors/s);
    const model = resnet32({ numClasses: 10, head: 'dense' });
    await expect(loadPyTorchWeights(model, truncatedPath)).rejects.toThrow(/truncated file/);
    model.dispose();
  });
});

describe('PyTorch weight import', () => {
  it('resnet32: a torch state dict (.safetensors from make_fixtures.py) gives PyTorch’s outputs', async () => {
    const bytes = readGzipFixture('resnet32_dense.safetensors.gz');
    const model = resnet32({ numClasses: 10, head: 'dense' });
    const report = await loadPyTorchWeights(model, bytes);
    expect(report.loaded).toHaveLength(expectedTorchTensors(model).length);
    expect(report.ignored).toHaveLength(31); // every num_batches_tracked
    expect(report.ignored.every((name) => name.endsWith('num_batches_tracked'))).toBe(true);
    const reference = forward.find((testCase) => testCase.factory === 'resnet32' && testCase.head === 'dense')!;
    const input = formulaInput('input', reference.inputShape);
    const logits = model.predict(input) as tf.Tensor;
    expectRelativelyClose(logits.dataSync(), reference.logits);
    tf.dispose([input, logits]);
    model.dispose();
  });

  it('resnet50: torchvision state dict from a file on disk gives PyTorch’s outputs; names match torchvision exactly', async () => {
    const filePath = path.join(temporaryDirectory, 'resnet50.safetensors');
    writeFileSync(filePath, readGzipFixture('resnet50_dense.safetensors.gz'));
    const file = await readSafetensorsFile(filePath);
    const model = resnet50({ numClasses: 1000, head: 'dense', inputShape: [64, 64, 3] });
    const torchNames = [...file.tensors.keys()].filter((name) => !name.endsWith('num_batches_tracked'));
    expect(expectedTorchTensors(model).map(([name]) => name).sort()).toEqual(torchNames.sort());
    await loadPyTorchWeights(model, filePath);
    const reference = forward.find((testCase) => testCase.factory === 'resnet50')!;
    const input = formulaInput('input', reference.inputShape);
    const { features, logits } = forwardWithFeatures(model, input);
    expectRelativelyClose(logits.dataSync(), reference.logits);
    tf.dispose([input, features, logits]);
    model.dispose();
  }, 120_000);

  it('names every missing, unexpected and mis-shaped tensor, and changes nothing', async () => {
    const model = resnet32({ numClasses: 10, head: 'dense' });
    const file = decodeSafetensors(readGzipFixture('resnet32_dense.safetensors.gz'));
    const tensors = new Map(file.tensors);
    tensors.delete('layer2.3.bn1.running_var');
    tensors.delete('conv1.weight');
    tensors.set('layer4.0.conv1.weight', { dtype: 'F32', shape: [1], values: new Float32Array(1) });
    tensors.set('linear.bias', { dtype: 'F32', shape: [100], values: new Float32Array(100) });
    tensors.set('layer1.0.conv2.weight', { dtype: 'F32', shape: [16, 16, 3], values: new Float32Array(768) });
    const before = model.getWeights().map((weight) => weight.dataSync().slice());
    let message = '';
    try {
      await loadPyTorchWeights(model, encodeSafetensors(tensors as never));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/missing \(2\): conv1\.weight, layer2\.3\.bn1\.running_var/);
    expect(message).toMatch(/unexpected \(1\): layer4\.0\.conv1\.weight/);
    expect(message).toMatch(/wrong shape \(2\): layer1\.0\.conv2\.weight \(expected \[16, 16, 3, 3\], got \[16, 16, 3\]\); linear\.bias \(expected \[10\], got \[100\]\)/);
    model.getWeights().forEach((weight, index) => expect(Array.from(weight.dataSync())).toEqual(Array.from(before[index])));
    model.dispose();
  });

  it('skipClassifier loads a backbone under a different head (pretrained backbone, new classes)', async () => {
    const bytes = readGzipFixture('resnet32_dense.safetensors.gz');
    const model = resnet32({ numClasses: 7 }); // cosine head, 7 classes: fc shapes differ from the file's
    await expect(loadPyTorchWeights(model, bytes)).rejects.toThrow(/wrong shape \(1\): linear\.weight.*unexpected \(1\): linear\.bias|unexpected \(1\): linear\.bias.*wrong shape \(1\): linear\.weight/s);
    const headBefore = model.getLayer('linear').getWeights()[0].dataSync().slice();
    const report = await loadPyTorchWeights(model, bytes, { skipClassifier: true });
    expect(report.ignored).toEqual(expect.arrayContaining(['linear.weight', 'linear.bias']));
    expect(Array.from(model.getLayer('linear').getWeights()[0].dataSync())).toEqual(Array.from(headBefore));
    const conv = model.getLayer('layer3.4.conv2').getWeights()[0]; // HWIO; torch OIHW element [o=1, i=2, y=0, x=1]
    const torchValues = formulaTensor('layer3.4.conv2.weight', [64, 64, 3, 3]);
    const hwio = conv.arraySync() as number[][][][];
    expect(hwio[0][1][2][1]).toBe(torchValues[((1 * 64 + 2) * 3 + 0) * 3 + 1]);
    expect(hwio[2][0][5][3]).toBe(torchValues[((3 * 64 + 5) * 3 + 2) * 3 + 0]);
    model.dispose();
  });

  it('exportStateDict → encodeSafetensors → loadPyTorchWeights reproduces a model exactly', async () => {
    const source = resnet32({ numClasses: 10, head: 'dense' });
    const target = resnet32({ numClasses: 10, head: 'dense' });
    const bytes = encodeSafetensors(await exportStateDict(source));
    await loadPyTorchWeights(target, bytes);
    const input = formulaInput('input', [2, 32, 32, 3]);
    const [a, b] = [source.predict(input) as tf.Tensor, target.predict(input) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([input, a, b]);
    source.dispose();
    target.dispose();
  });

  it('loadStateDict validates the state dict tensors against their declared shape', async () => {
    const model = resnet32({ numClasses: 10, head: 'dense' });
    const state = new Map<string, TorchTensor>(await exportStateDict(model));
    state.set('linear.bias', { shape: [10], values: new Float32Array(3) });
    expect(() => loadStateDict(model, state)).toThrow(/wrong shape \(1\): linear\.bias/);
    model.dispose();
  });
});
