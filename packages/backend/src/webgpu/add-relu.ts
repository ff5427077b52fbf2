import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { asWebGpuBackend, reluSnippet, WORKGROUP_SIZE, type TensorInfo, type WebGpuKernelArgs } from './program-helpers.js';

/** Kernel name (see `fusedLayerKernelNames.addRelu` in @longtail/backbones). */
export const ADD_RELU_KERNEL = 'LongtailAddRelu';

class AddReluProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey = 'longtailAddRelu';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['a', 'b'];
  workgroupSize: [number, number, number] = [WORKGROUP_SIZE, 1, 1];
  size = true;

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, axis) => axis) };
    let size = 1;
    for (const dimension of shape) size *= dimension;
    this.dispatch = [Math.ceil(size / WORKGROUP_SIZE), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var value = a[index] + b[index];
          ${reluSnippet('value')}
          setOutputAtIndex(index, value);
        }
      }
    `;
  }
}

/** `LongtailAddRelu` on webgpu: `relu(a + b)` of two float32 inputs of one shape, one dispatch. */
export function addReluWebGpu(args: WebGpuKernelArgs): TensorInfo {
  const backend = asWebGpuBackend(args.backend);
  const { a, b } = args.inputs as Record<string, TensorInfo | undefined>;
  if (a == null || b == null) throw new Error(`${ADD_RELU_KERNEL}: inputs a and b are required`);
  if (a.shape.join() !== b.shape.join() || a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`${ADD_RELU_KERNEL}: a and b must be float32 of one shape, got [${a.shape}] ${a.dtype} and [${b.shape}] ${b.dtype}`);
  }
  return backend.runWebGPUProgram(new AddReluProgram(a.shape.slice()), [a, b], 'float32');
}
