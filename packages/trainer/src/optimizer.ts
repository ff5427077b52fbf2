import * as tf from '@tensorflow/tfjs';
import type { TensorRecord } from './checkpoint.js';

/**
 * SGD with momentum and weight decay exactly as PyTorch's `torch.optim.SGD` (dampening 0, no Nesterov):
 * `g = ∇w + wd·w; v = μ·v + g` (first step `v = g`); `w −= lr·v`.
 * tfjs' MomentumOptimizer has the same momentum rule but no weight decay, and its slots are awkward to save, so the
 * trainer uses this one; the learning rate is given per step (schedules are pure functions of the epoch).
 */
export class TorchSgd {
  private readonly buffers: Array<tf.Variable | null>;

  constructor(
    readonly variables: tf.Variable[],
    readonly options: { momentum: number; weightDecay: number },
  ) {
    if (!(options.momentum >= 0 && options.momentum < 1)) throw new RangeError(`momentum must be in [0, 1), got ${options.momentum}`);
    if (!(options.weightDecay >= 0)) throw new RangeError(`weightDecay must be >= 0, got ${options.weightDecay}`);
    this.buffers = variables.map(() => null);
  }

  /** Applies one update with gradients keyed by variable name (as `tf.variableGrads` returns them). */
  step(gradients: tf.NamedTensorMap, lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`lr must be a finite number >= 0, got ${lr}`);
    const { momentum, weightDecay } = this.options;
    tf.tidy(() => {
      this.variables.forEach((variable, index) => {
        const gradient = gradients[variable.name];
        if (!gradient) return;
        const decayed = weightDecay > 0 ? tf.add(gradient, tf.mul(variable, weightDecay)) : gradient;
        let direction: tf.Tensor = decayed;
        if (momentum > 0) {
          const buffer = this.buffers[index];
          if (buffer === null) {
            this.buffers[index] = tf.variable(decayed, false, `${variable.name}/momentum`);
          } else {
            buffer.assign(tf.add(tf.mul(buffer, momentum), decayed));
          }
          direction = this.buffers[index] as tf.Variable;
        }
        variable.assign(tf.sub(variable, tf.mul(direction, lr)));
      });
    });
  }

  /** Momentum buffers as checkpoint records (an empty buffer before the first step is saved as absent). */
  async getState(): Promise<TensorRecord[]> {
    const out: TensorRecord[] = [];
    for (const [index, buffer] of this.buffers.entries()) {
      if (buffer === null) continue;
      // An asynchronous read: a synchronous one throws on webgpu in Node and stalls any GPU backend.
      out.push({ name: `${index}`, shape: buffer.shape.slice(), dtype: 'float32', data: Float32Array.from((await buffer.data()) as Float32Array) });
    }
    return out;
  }

  setState(records: TensorRecord[]): void {
    this.dispose();
    for (const record of records) {
      const index = Number(record.name);
      const variable = this.variables[index];
      if (!variable || variable.shape.join(',') !== record.shape.join(',')) {
        throw new Error(`optimizer state ${record.name} [${record.shape}] does not match the model's trainable weights`);
      }
      this.buffers[index] = tf.variable(tf.tensor(record.data, record.shape, 'float32'), false);
    }
  }

  dispose(): void {
    this.buffers.forEach((buffer, index) => {
      buffer?.dispose();
      this.buffers[index] = null;
    });
  }
}
