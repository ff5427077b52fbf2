import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@longtail/backend';
import type { RunConfig } from './config.js';

/**
 * Makes the configured backend the active tfjs backend through `@longtail/backend`'s `selectBackend`: `auto` tries
 * the fastest first (tfjs-node-gpu, webgpu on a hardware adapter, tfjs-node, the native kernel pack, wasm, cpu); a
 * named backend is tried first and must load (otherwise this throws with the reason, rather than silently training
 * elsewhere).
 * @returns the one-line summary, e.g. `backend: native (avx2, 2 threads); tfjs-node-gpu unavailable: …`.
 */
export async function selectComputeBackend(name: RunConfig['backend']): Promise<string> {
  const selection = await selectBackend(name === 'auto' ? { quiet: true } : { prefer: name, quiet: true });
  if (selection.preferenceFailed) {
    throw new Error(`--backend ${name} is not available: ${selection.summary} (use --backend auto to take the fastest available)`);
  }
  await tf.ready();
  return selection.summary;
}
