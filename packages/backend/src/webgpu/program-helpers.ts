import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/** The tensor handle kernels receive and return (tfjs-core's TensorInfo). */
export type TensorInfo = tf.TensorInfo;

/** Kernel arguments as tfjs passes them to a webgpu kernel function. */
export interface WebGpuKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** Uniform values appended after tfjs' own (shapes, strides, size), in the order of the program's `uniforms`. */
export type ProgramUniforms = Array<{ type: 'int32' | 'float32'; data: number[] }>;

export const WEBGPU_BACKEND_NAME = 'webgpu';

/** Threads per workgroup of every program here (the per-channel reductions rely on exactly this many). */
export const WORKGROUP_SIZE = 256;

/** `activation` and `varianceEpsilon` of the Longtail batch-norm kernels (see @longtail/backbones' batch-norm.ts). */
export function batchNormAttributes(attrs: tf.NamedAttrMap | undefined): { relu: boolean; epsilon: number } {
  const { activation = 'linear', varianceEpsilon = 1e-5 } = (attrs ?? {}) as { activation?: string; varianceEpsilon?: number };
  if (activation !== 'linear' && activation !== 'relu') throw new Error(`activation must be 'linear' or 'relu', got '${activation}'`);
  return { relu: activation === 'relu', epsilon: Number(varianceEpsilon) };
}

/** Channels (last axis) and rows (all other axes) of a channels-last float32 tensor. */
export function channelLayout(x: TensorInfo, kernelName: string): { channels: number; rows: number } {
  if (x.dtype !== 'float32') throw new Error(`${kernelName}: x must be float32, got ${x.dtype}`);
  if (x.shape.length < 2) throw new Error(`${kernelName}: x must have rank >= 2, got [${x.shape}]`);
  const channels = x.shape[x.shape.length - 1];
  let rows = 1;
  for (let axis = 0; axis < x.shape.length - 1; axis += 1) rows *= x.shape[axis];
  return { channels, rows };
}

export function requireVector(tensor: TensorInfo | undefined, channels: number, name: string, kernelName: string): TensorInfo {
  let size = 1;
  for (const dimension of tensor?.shape ?? []) size *= dimension;
  if (tensor == null || size !== channels || tensor.dtype !== 'float32') {
    throw new Error(`${kernelName}: ${name} must be float32 with ${channels} values, got ${tensor == null ? 'none' : `[${tensor.shape}] ${tensor.dtype}`}`);
  }
  return tensor;
}

export function asWebGpuBackend(backend: unknown): WebGPUBackend {
  return backend as WebGPUBackend;
}

/**
 * One workgroup per channel of a `[rows, channels]` (channels-last) input: each of the 256 threads accumulates
 * `term(row, channel)` over rows `localId.x, localId.x + 256, …`, then a tree reduction in workgroup memory, and
 * thread 0 writes `finish(total)` to `result[channel]`. Uniforms: `channels`, `rows`, `varianceEpsilon`.
 */
export class ChannelReduceProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms = 'channels : i32, rows : i32, varianceEpsilon : f32,';
  workgroupSize: [number, number, number] = [WORKGROUP_SIZE, 1, 1];

  /**
   * @param key unique per (term, finish) pair: the pipeline cache is keyed by it.
   * @param term WGSL expression of `index` (flat element index) and `channel`.
   * @param finish WGSL expression of `total` and `channel`.
   */
  constructor(
    channels: number,
    variableNames: string[],
    key: string,
    private readonly term: string,
    private readonly finish: string,
  ) {
    this.outputShape = [channels];
    this.variableNames = variableNames;
    this.dispatchLayout = { x: [0] };
    this.dispatch = [channels, 1, 1];
    this.shaderKey = `longtailChannelReduce_${key}`;
  }

  getUserCode(): string {
    return `
      var<workgroup> partialSums : array<f32, ${WORKGROUP_SIZE}>;

      fn main(globalIndex : i32) {
        let channel = i32(workgroupId.x);
        let channels = uniforms.channels;
        var sum = 0.0;
        for (var row = i32(localId.x); row < uniforms.rows; row = row + ${WORKGROUP_SIZE}) {
          let index = row * channels + channel;
          sum = sum + (${this.term});
        }
        partialSums[localId.x] = sum;
        workgroupBarrier();
        for (var stride = ${WORKGROUP_SIZE / 2}u; stride > 0u; stride = stride / 2u) {
          if (localId.x < stride) {
            partialSums[localId.x] = partialSums[localId.x] + partialSums[localId.x + stride];
          }
          workgroupBarrier();
        }
        if (localId.x == 0u) {
          let total = partialSums[0];
          setOutputAtIndex(channel, ${this.finish});
        }
      }
    `;
  }
}

/**
 * An element-wise program over a channels-last output of `outputShape`: `value` is a WGSL expression of `index`
 * (flat) and `channel` (`index % uniforms.channels`). Uniforms: `channels`, `rows`, `varianceEpsilon`.
 */
export class ChannelElementwiseProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms = 'channels : i32, rows : i32, varianceEpsilon : f32,';
  workgroupSize: [number, number, number] = [WORKGROUP_SIZE, 1, 1];
  size = true;

  constructor(
    outputShape: number[],
    variableNames: string[],
    key: string,
    private readonly body: string,
  ) {
    this.outputShape = outputShape;
    this.variableNames = variableNames;
    this.dispatchLayout = { x: outputShape.map((_, axis) => axis) };
    let size = 1;
    for (const dimension of outputShape) size *= dimension;
    // runWebGPUProgram folds an x dispatch above the device limit into y/z (getGlobalIndex() undoes it).
    this.dispatch = [Math.ceil(size / WORKGROUP_SIZE), 1, 1];
    this.shaderKey = `longtailElementwise_${key}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let channel = index % uniforms.channels;
          ${this.body}
        }
      }
    `;
  }
}

/** Runs `program` with the uniforms every program here declares. */
export function runChannelProgram(
  backend: WebGPUBackend,
  program: WebGPUProgram,
  inputs: TensorInfo[],
  layout: { channels: number; rows: number },
  epsilon: number,
): TensorInfo {
  const uniforms: ProgramUniforms = [
    { type: 'int32', data: [layout.channels] },
    { type: 'int32', data: [layout.rows] },
    { type: 'float32', data: [epsilon] },
  ];
  return backend.runWebGPUProgram(program, inputs, 'float32', uniforms);
}

/** WGSL: `dy[index]`, masked by `y[index] > 0` for the fused ReLU (the Relu gradient: `dy · step(y)`). */
export function upstreamGradient(relu: boolean): string {
  return relu ? 'select(0.0, dy[index], y[index] > 0.0)' : 'dy[index]';
}

/** WGSL: ReLU that keeps NaN, as tfjs' Relu. */
export function reluSnippet(variable: string): string {
  return `${variable} = select(${variable}, 0.0, ${variable} < 0.0);`;
}
