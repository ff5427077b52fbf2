import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  exportStateDict,
  type ExportedTensor,
  loadPyTorchWeights,
  loadStateDict,
  resnet20,
  type SafetensorsInput,
  type TorchTensor,
} from '../src/index.js';

// Kept in a file of its own (its own worker process) so that the peak-memory measurement starts from a clean process.

/** A safetensors file built by hand: 8-byte little-endian header length, the JSON header, then `data`. */
function craft(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + text.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  bytes.set(data, 8 + text.length);
  return bytes;
}

const MiB = 1024 * 1024;

describe('safetensors: offsets and overlaps are validated before anything is decoded', () => {
  it('1,000 entries sharing one 1 MiB range: rejected in < 1 s with an overlap error, memory growth < 64 MiB', () => {
    const rangeBytes = MiB;
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) {
      header[`t${String(i).padStart(4, '0')}`] = { dtype: 'F32', shape: [rangeBytes / 4], data_offsets: [0, rangeBytes] };
    }
    const bytes = craft(header, new Uint8Array(rangeBytes).fill(0x3f));
    const before = process.memoryUsage();
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const start = performance.now();
    let message = '';
    try {
      decodeSafetensors(bytes);
    } catch (error) {
      message = (error as Error).message;
    }
    const elapsed = performance.now() - start;
    const after = process.memoryUsage();
    const peakAfter = process.resourceUsage().maxRSS * 1024;
    expect(message).toMatch(/overlaps/);
    expect(elapsed).toBeLessThan(1000);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * MiB);
    expect(after.rss - before.rss).toBeLessThan(64 * MiB);
    // Peak resident memory of the process (maxRSS): what was allocated and freed during the call counts too.
    expect(peakAfter - peakBefore).toBeLessThan(64 * MiB);
    expect(message).toMatch(/safetensors: tensor 't\d{4}' overlaps the data of tensor 't\d{4}' \(data_offsets \[0, 1048576\] and \[0, 1048576\]\)/);
  });

  it('an overlap is found whatever the header order, and names both tensors', () => {
    const header = {
      late: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
      inner: { dtype: 'U8', shape: [4], data_offsets: [10, 14] },
      early: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    };
    expect(() => decodeSafetensors(craft(header, new Uint8Array(16)))).toThrow(
      /tensor 'inner' overlaps the data of tensor 'late' \(data_offsets \[10, 14\] and \[8, 16\]\)/,
    );
  });

  it('decodes from a Node Buffer at a non-zero offset (values copied out, not viewed at the wrong place)', () => {
    const encoded = encodeSafetensors({
      a: { shape: [3], values: Float32Array.from([1.5, -2, 3]) },
      b: { shape: [1], values: Float64Array.from([Math.E]) },
      c: { shape: [2], values: Uint8Array.from([7, 9]) },
    });
    const shifted = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(encoded)]).subarray(3);
    const file = decodeSafetensors(shifted);
    expect(Array.from(file.tensors.get('a')!.values as Float32Array)).toEqual([1.5, -2, 3]);
    expect(Array.from(file.tensors.get('b')!.values as Float64Array)).toEqual([Math.E]);
    expect(Array.from(file.tensors.get('c')!.values as Uint8Array)).toEqual([7, 9]);
    shifted.fill(0);
    expect(Array.from(file.tensors.get('a')!.values as Float32Array)).toEqual([1.5, -2, 3]);
  });
});

describe('loadPyTorchWeights / loadStateDict: the values are checked before anything is set', () => {
  const model = resnet20({ numClasses: 10, head: 'dense', seed: 1 });
  let reference: Map<string, ExportedTensor>;
  beforeAll(async () => {
    reference = await exportStateDict(model);
  });
  /** A float32 tensor of the reference state dict. */
  const floatTensor = (name: string) => {
    const tensor = reference.get(name)!;
    if (tensor.dtype !== 'F32') throw new Error(`${name} is ${tensor.dtype}`);
    return tensor;
  };
  const weightsBefore = () => model.getWeights().map((weight) => Array.from(weight.dataSync()));

  /** The reference state dict with `changes` applied, encoded as a safetensors file. */
  function fileWith(changes: Record<string, SafetensorsInput>): Uint8Array {
    const tensors = new Map<string, SafetensorsInput>(reference);
    for (const [name, tensor] of Object.entries(changes)) tensors.set(name, tensor);
    return encodeSafetensors(tensors);
  }

  async function messageOf(bytes: Uint8Array): Promise<string> {
    const before = weightsBefore();
    try {
      await loadPyTorchWeights(model, bytes);
    } catch (error) {
      expect(weightsBefore()).toEqual(before); // nothing changed
      return (error as Error).message;
    }
    return '(no error)';
  }

  it('rejects integer dtypes where float weights are expected, naming each tensor', async () => {
    const conv = floatTensor('conv1.weight');
    const bias = floatTensor('linear.bias');
    const message = await messageOf(
      fileWith({
        'conv1.weight': { shape: conv.shape, values: Int32Array.from(conv.values, Math.round) },
        'linear.bias': { shape: bias.shape, values: BigInt64Array.from(bias.values, () => 0n) },
        'bn1.running_mean': { shape: [16], values: new Uint8Array(16) },
      }),
    );
    expect(message).toMatch(/not floating point \(3\): conv1\.weight \(I32\), bn1\.running_mean \(U8\), linear\.bias \(I64\)/);
  });

  it('rejects a BOOL weight (loadStateDict with a dtype)', () => {
    const state = new Map<string, TorchTensor>(reference);
    state.set('layer1.0.bn2.weight', { dtype: 'BOOL', shape: [16], values: new Uint8Array(16).fill(1) });
    expect(() => loadStateDict(model, state)).toThrow(/not floating point \(1\): layer1\.0\.bn2\.weight \(BOOL\)/);
  });

  it('still accepts int64 num_batches_tracked', async () => {
    const tensors = new Map<string, SafetensorsInput>(reference);
    tensors.set('bn1.num_batches_tracked', { shape: [], values: BigInt64Array.from([391n]) });
    tensors.set('layer3.2.bn2.num_batches_tracked', { shape: [], values: BigInt64Array.from([391n]) });
    const report = await loadPyTorchWeights(model, encodeSafetensors(tensors));
    const everyCounter = [...reference.keys()].filter((name) => name.endsWith('.num_batches_tracked'));
    expect(everyCounter).toHaveLength(19); // exportStateDict writes one per batch norm, as PyTorch does
    expect(report.ignored).toEqual(everyCounter);
    expect(report.loaded).toHaveLength(reference.size - everyCounter.length);
  });

  it('rejects NaN and ±Infinity weights, naming each tensor and the first bad index', async () => {
    const conv = floatTensor('layer1.0.conv1.weight');
    const withNaN = conv.values.slice();
    withNaN[5] = Number.NaN;
    const bias = floatTensor('linear.bias');
    const withInfinity = bias.values.slice();
    withInfinity[9] = Number.NEGATIVE_INFINITY;
    const large = Float64Array.from(floatTensor('layer2.0.bn1.bias').values);
    large[0] = 1e39; // finite in float64, Infinity as float32
    const message = await messageOf(
      fileWith({
        'layer1.0.conv1.weight': { shape: conv.shape, values: withNaN },
        'linear.bias': { shape: bias.shape, values: withInfinity },
        'layer2.0.bn1.bias': { shape: [32], values: large },
      }),
    );
    expect(message).toMatch(/NaN or infinite values \(3\): /);
    expect(message).toMatch(/layer1\.0\.conv1\.weight \(NaN at index 5; 1 of 2304 values\)/);
    expect(message).toMatch(/linear\.bias \(-Infinity at index 9; 1 of 10 values\)/);
    expect(message).toMatch(/layer2\.0\.bn1\.bias \(1e\+39 at index 0; 1 of 32 values\)/);
  });

  it('rejects a negative running_var, naming the tensor', async () => {
    const variance = floatTensor('layer2.1.bn2.running_var').values.slice();
    variance[3] = -0.5;
    const message = await messageOf(fileWith({ 'layer2.1.bn2.running_var': { shape: [32], values: variance } }));
    expect(message).toMatch(/negative running_var \(1\): layer2\.1\.bn2\.running_var \(-0\.5 at index 3\)/);
    // Zero is a valid (degenerate) variance.
    variance[3] = 0;
    await expect(loadPyTorchWeights(model, fileWith({ 'layer2.1.bn2.running_var': { shape: [32], values: variance } }))).resolves.toBeDefined();
  });
});
