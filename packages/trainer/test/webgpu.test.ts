import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { resnet32 } from '@longtail/backbones';
import { selectBackend, swiftShaderIcdPath, vulkanDriverInstalled } from '@longtail/backend';
import { SeededRandom } from '@longtail/samplers';
import { CloudNoiseStream } from '@longtail/gcl-loss';
import { beforeAll, describe, expect, it } from 'vitest';
import { TorchSgd, loadCheckpoint, makeLoss, readMetrics, readStep, resolveConfig, train, trainStep, type PendingStep } from '../src/index.js';

// WebGPU on SwiftShader (Vulkan on the CPU) where there is no GPU: CI installs chromium (its SwiftShader driver) and
// libvulkan1, so these run there; elsewhere without a driver they skip, saying why.
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && swiftShaderIcdPath()) process.env.VK_ICD_FILENAMES = swiftShaderIcdPath();
if (!process.env.XDG_RUNTIME_DIR) {
  process.env.XDG_RUNTIME_DIR = path.join(tmpdir(), 'longtail-xdg');
  mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
}
const skipReason = vulkanDriverInstalled() ? undefined : 'no Vulkan driver: install chromium (SwiftShader) and libvulkan1, or a GPU driver';
if (skipReason !== undefined && process.env.CI === 'true') throw new Error(`${skipReason} (CI must run the webgpu tests)`);
if (skipReason !== undefined) console.warn(`webgpu trainer tests skipped: ${skipReason}`);
const webgpuIt = skipReason === undefined ? it : it.skip;

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const sink = { write: () => true, isTTY: false };

/** Counts every synchronous read: the tensor methods and the active backend's readSync. */
function countSynchronousReads(): { count: () => number; restore: () => void } {
  let reads = 0;
  const prototype = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const backend = tf.backend() as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals: Array<[Record<string, (...args: unknown[]) => unknown>, string, (...args: unknown[]) => unknown]> = [];
  for (const [target, name] of [
    [prototype, 'dataSync'],
    [prototype, 'arraySync'],
    [prototype, 'bufferSync'],
    [backend, 'readSync'],
  ] as const) {
    const original = target[name];
    originals.push([target, name, original]);
    target[name] = function (this: unknown, ...args: unknown[]) {
      reads += 1;
      return original.apply(this, args);
    };
  }
  return {
    count: () => reads,
    restore: () => originals.forEach(([target, name, original]) => (target[name] = original)),
  };
}

function webgpuConfig(outputDir: string) {
  return resolveConfig({
    name: 'webgpu-e2e',
    outputDir,
    backend: 'webgpu',
    progress: 'none',
    seed: 5,
    data: { dataset: 'synthetic', inputSize: 8, imbalance: { factor: 0.1 } },
    model: { backbone: 'tiny' },
    stage1: { epochs: 2, batchSize: 64, optimizer: { lr: 0.05 }, schedule: { warmupEpochs: 0.5, milestones: [1] } },
    stage2: { epochs: 2, batchSize: 64 },
    evaluation: { batchSize: 200, select: 'test' }, // the whole training set: the accuracy bound below was set on it
  });
}

describe('training on webgpu (SwiftShader where there is no GPU)', () => {
  beforeAll(async () => {
    if (skipReason === undefined) await selectBackend({ prefer: 'webgpu', quiet: true });
  }, 60_000);

  webgpuIt('a ResNet-32 + GCL training step with mixup makes no synchronous read', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const clsNumList = [40, 20, 10, 5];
    const model = resnet32({ numClasses: clsNumList.length, head: 'cosine', inputShape: [8, 8, 3] });
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const optimizer = new TorchSgd(variables, { momentum: 0.9, weightDecay: 2e-4 });
    const loss = makeLoss({ name: 'gcl', m: 0, s: 30, noiseMul: 0.5, gamma: 0, weighting: 'none' } as never, clsNumList, 1);
    const random = new SeededRandom(3);
    const noise = new CloudNoiseStream(9);
    const batch = { images: Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => Math.sin(i)), labels: Int32Array.from([0, 1, 2, 3]), shape: [4, 8, 8, 3] as [number, number, number, number] };

    const reads = countSynchronousReads();
    let pending: PendingStep[];
    try {
      pending = [0, 1].map(() =>
        trainStep({ model, batch, training: true, alpha: 1, random, noise, loss: loss.fn, weight: null, variables, optimizer, lr: 0.05 }),
      );
      expect(reads.count()).toBe(0);
      const results = [];
      for (const step of pending) results.push(await readStep(step));
      expect(reads.count()).toBe(0);
      expect(results.every((result) => Number.isFinite(result.lossValue) && result.accuracy >= 0 && result.accuracy <= 1)).toBe(true);
      // The counter does see a synchronous read.
      tf.tidy(() => tf.scalar(1).dataSync());
      expect(reads.count()).toBeGreaterThan(0);
    } finally {
      reads.restore();
    }
    optimizer.dispose();
    model.dispose();
  }, 120_000);

  webgpuIt(
    'both stages, evaluation, checkpoints, an exact resume and the report through the API and `longtail train --backend webgpu`',
    async () => {
      const root = mkdtempSync(path.join(tmpdir(), 'longtail-webgpu-'));
      const straight = await train(webgpuConfig(path.join(root, 'straight')), { stream: sink });
      expect(straight.backend).toMatch(/^backend: webgpu \(/);
      expect(straight.final?.numSamples).toBe(200);
      // Learns something: far above the 10 % of chance on this easy synthetic task.
      expect(straight.final!.top1).toBeGreaterThan(0.3);
      expect(readdirSync(path.join(straight.outputDir, 'checkpoints')).sort()).toEqual([
        'stage1-best.ckpt',
        'stage1-last.ckpt',
        'stage2-best.ckpt',
        'stage2-last.ckpt',
      ]);

      // Interrupted after stage-1 epoch 1, then resumed: the same losses and final weights as the straight run.
      const interruptedConfig = webgpuConfig(path.join(root, 'interrupted'));
      expect((await train(interruptedConfig, { stream: sink, stopAfter: { stage: 1, epoch: 1 } })).stopped).toBe(true);
      const resumed = await train(interruptedConfig, { stream: sink, resume: true });
      expect(resumed.final?.top1).toBe(straight.final!.top1);
      const stepLosses = (dir: string) => readMetrics(path.join(dir, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => m.loss);
      expect(stepLosses(resumed.outputDir)).toEqual(stepLosses(straight.outputDir));
      const a = await loadCheckpoint(path.join(straight.outputDir, 'checkpoints', 'stage2-last.ckpt'));
      const b = await loadCheckpoint(path.join(resumed.outputDir, 'checkpoints', 'stage2-last.ckpt'));
      a.tensors.model.forEach((record, i) => expect(Array.from(b.tensors.model[i].data), record.name).toEqual(Array.from(record.data)));

      // The CLI: train, eval and report on webgpu, in a child process that must also exit by itself.
      const cliDir = path.join(root, 'cli');
      const configFile = path.join(root, 'config.json');
      writeFileSync(configFile, JSON.stringify({ ...webgpuConfig(cliDir), backend: 'auto', progress: 'plain' }));
      const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 180_000, env: process.env });
      const trained = run(['train', '--config', configFile, '--backend', 'webgpu']);
      expect(trained.status, trained.stderr).toBe(0);
      expect(trained.stdout).toMatch(/backend: webgpu \(/);
      const results = JSON.parse(readFileSync(path.join(cliDir, 'results.json'), 'utf8'));
      expect(results.top1).toBe(straight.final!.top1);
      const evaluated = run(['eval', '--run', cliDir, '--backend', 'webgpu']);
      expect(evaluated.status, evaluated.stderr).toBe(0);
      expect(evaluated.stdout).toMatch(new RegExp(`top-1 ${(100 * straight.final!.top1).toFixed(1)}%`));
      const reported = run(['report', '--run', cliDir]);
      expect(reported.status, reported.stderr).toBe(0);
      expect(readFileSync(path.join(cliDir, 'report.html'), 'utf8')).toContain('stage 2 (best)');
    },
    600_000,
  );
});
