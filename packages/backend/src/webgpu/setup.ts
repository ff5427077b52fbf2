import * as tf from '@tensorflow/tfjs-core';
import { explainMissingPeer } from '../optional-peer.js';
import { registerWebGpuTrainingKernels } from './register.js';

/** The adapter the webgpu backend runs on, as WebGPU's `GPUAdapterInfo` reports it. */
export interface WebGpuAdapterSummary {
  /** e.g. `nvidia`, `amd`, `intel`, `apple`, `google` (SwiftShader). */
  vendor: string;
  /** e.g. `hopper`, `rdna-3`, `gen-12lp`, `swiftshader`. */
  architecture: string;
  /** Driver's own description, e.g. `NVIDIA H200` or `SwiftShader driver 5.0.0`. */
  description: string;
  /** True for a software adapter (SwiftShader, llvmpipe, WARP): the GPU is emulated on the CPU. */
  software: boolean;
}

/** What {@link setUpWebGpuBackend} configured. */
export interface WebGpuSetup {
  adapter: WebGpuAdapterSummary;
  /** Where `navigator.gpu` came from: the browser, or Dawn's Node bindings (the `webgpu` npm package). */
  provider: 'browser' | 'webgpu (Dawn for Node)';
}

/** Options of {@link setUpWebGpuBackend}. */
export interface WebGpuSetupOptions {
  /**
   * Accept a software adapter (SwiftShader, llvmpipe). Default false: emulated GPUs are slower than the native CPU
   * kernels, so `selectBackend` takes one only when webgpu is asked for by name.
   */
  allowSoftwareAdapter?: boolean;
  /** Dawn toggles passed to the `webgpu` package's `create()` in Node (e.g. `['backend=vulkan']`). Default none. */
  dawnOptions?: string[];
}

interface MinimalGpu {
  requestAdapter(options?: { powerPreference?: string; forceFallbackAdapter?: boolean }): Promise<MinimalAdapter | null>;
}
interface MinimalAdapter {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<Record<string, unknown>>;
}

/** Node's `process`, or undefined in a browser (looked up at run time so that bundling for browsers needs no shim). */
function nodeProcess(): NodeJS.Process | undefined {
  const candidate = (globalThis as { process?: NodeJS.Process }).process;
  return typeof candidate?.getBuiltinModule === 'function' ? candidate : undefined;
}

function currentGpu(): MinimalGpu | undefined {
  return (globalThis as { navigator?: { gpu?: MinimalGpu } }).navigator?.gpu;
}

// A variable specifier keeps bundlers from resolving the optional Node-only package.
async function importOptional(specifier: string): Promise<Record<string, unknown>> {
  return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
}

/** Whether this module gave Node its `navigator.gpu` (from Dawn). */
let dawnInstalled = false;

/**
 * Makes `navigator.gpu` exist in Node from Dawn's bindings (the optional `webgpu` package), once per process, with
 * the WebGPU globals (`GPUBufferUsage`, …) that tfjs-backend-webgpu reads. In a browser nothing is done.
 */
async function provideNavigatorGpu(dawnOptions: string[]): Promise<WebGpuSetup['provider']> {
  if (currentGpu() !== undefined) return dawnInstalled ? 'webgpu (Dawn for Node)' : 'browser';
  if (nodeProcess() === undefined) throw new Error('this browser has no navigator.gpu (WebGPU is off or unsupported)');
  const dawn = await importOptional('webgpu').catch((error: unknown) => {
    throw explainMissingPeer('webgpu', "Dawn's Node bindings (the npm package webgpu)", error);
  });
  const create = dawn.create as ((options: string[]) => MinimalGpu) | undefined;
  if (typeof create !== 'function') throw new Error("the 'webgpu' package has no create() (expected Dawn's Node bindings)");
  Object.assign(globalThis, dawn.globals as object);
  const gpu = create(dawnOptions);
  const holder = globalThis as { navigator?: object };
  if (holder.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    // Node ≥ 21 has a navigator of its own: add gpu to it.
    Object.defineProperty(holder.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  dawnInstalled = true;
  return 'webgpu (Dawn for Node)';
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|warp/i;

/** Reads an adapter's vendor, architecture, description and whether it is a software (CPU-emulated) adapter. */
export async function describeAdapter(adapter: MinimalAdapter): Promise<WebGpuAdapterSummary> {
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
  const vendor = text('vendor');
  const architecture = text('architecture');
  const description = text('description') || text('device');
  const software =
    adapter.isFallbackAdapter === true || info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(`${vendor} ${architecture} ${description}`);
  return { vendor, architecture, description, software };
}

/** One line for the summary, e.g. `nvidia hopper, NVIDIA H200` or `google swiftshader, SwiftShader driver 5.0.0, software adapter`. */
export function formatAdapter(adapter: WebGpuAdapterSummary): string {
  const name = [adapter.vendor, adapter.architecture].filter((part) => part !== '').join(' ') || 'unknown adapter';
  return [name, adapter.description, adapter.software ? 'software adapter' : ''].filter((part) => part !== '').join(', ');
}

function noAdapterHint(): string {
  const node = nodeProcess();
  if (node === undefined) return 'the browser offered no adapter';
  if (node.platform === 'linux') {
    return 'Dawn found no adapter: install the GPU vendor Vulkan driver and the Vulkan loader (Debian/Ubuntu: libvulkan1); without a GPU, point VK_ICD_FILENAMES at SwiftShader (vk_swiftshader_icd.json, shipped with Chromium)';
  }
  return 'Dawn found no adapter (Metal on macOS, D3D12 on Windows)';
}

/** Where the Vulkan loader looks for driver manifests (ICDs) on Linux, besides `VK_ICD_FILENAMES`/`VK_DRIVER_FILES`. */
function vulkanIcdDirectories(node: NodeJS.Process): string[] {
  const dataDirectories = (node.env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').filter(Boolean);
  return ['/etc/vulkan/icd.d', ...dataDirectories.map((directory) => `${directory}/vulkan/icd.d`)];
}

/**
 * On Linux, whether any Vulkan driver manifest exists (the only way Dawn reaches a GPU there). `selectBackend`'s
 * `auto` checks this before it loads Dawn, so that machines without a GPU driver do not pay for, nor print Dawn's
 * warnings about, a Vulkan instance that cannot have an adapter. Elsewhere (macOS, Windows, browsers): true.
 */
export function vulkanDriverInstalled(): boolean {
  const node = nodeProcess();
  if (node === undefined || node.platform !== 'linux') return true;
  const explicit = node.env.VK_ICD_FILENAMES || node.env.VK_DRIVER_FILES || node.env.VK_ADD_DRIVER_FILES;
  if (explicit) return true;
  const fs = node.getBuiltinModule('node:fs');
  return vulkanIcdDirectories(node).some((directory) => {
    try {
      return fs.readdirSync(directory).some((name) => name.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/** Known places of SwiftShader's Vulkan driver manifest (Debian/Ubuntu's Chromium ships it), or undefined. */
const SWIFTSHADER_ICD_CANDIDATES = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];

/**
 * Path of SwiftShader's Vulkan driver manifest (`vk_swiftshader_icd.json`, in Debian's `chromium-common`) if this
 * Linux machine has one, else undefined. With `VK_ICD_FILENAMES` set to it, Dawn runs WebGPU on the CPU: slow, but
 * exact enough to test GPU code on machines without a GPU (this project's CI does).
 */
export function swiftShaderIcdPath(): string | undefined {
  const node = nodeProcess();
  if (node === undefined || node.platform !== 'linux') return undefined;
  const fs = node.getBuiltinModule('node:fs');
  return SWIFTSHADER_ICD_CANDIDATES.find((candidate) => fs.existsSync(candidate));
}

/**
 * Sets up tfjs' WebGPU backend and makes `'webgpu'` the active backend:
 * 1. in Node, where there is no `navigator.gpu`, loads Dawn from the optional `webgpu` npm package (prebuilt for
 *    Linux, macOS and Windows; Vulkan, Metal or D3D12 underneath, nothing downloaded at install);
 * 2. asks for a high-performance adapter and refuses a software one unless `allowSoftwareAdapter`;
 * 3. loads `@tensorflow/tfjs-backend-webgpu`, registers this package's WGSL kernels for the fused layer ops of
 *    `@longtail/backbones` ({@link registerWebGpuTrainingKernels}) and activates it.
 *
 * A synchronous read (`dataSync`, `arraySync`) on this backend throws in Node and stalls the GPU in a browser: read
 * with `await tensor.data()`.
 * @throws Error saying what is missing: the `webgpu` package, an adapter (with the driver to install), or a
 *   hardware adapter.
 */
export async function setUpWebGpuBackend(options: WebGpuSetupOptions = {}): Promise<WebGpuSetup> {
  const provider = await provideNavigatorGpu(options.dawnOptions ?? []);
  const gpu = currentGpu()!;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) throw new Error(`no WebGPU adapter: ${noAdapterHint()}`);
  const summary = await describeAdapter(adapter);
  if (summary.software && options.allowSoftwareAdapter !== true) {
    throw new Error(`only a software adapter (${formatAdapter(summary)}): slower than the CPU backends, so used only when webgpu is asked for by name`);
  }
  await import('@tensorflow/tfjs-backend-webgpu').catch((error: unknown) => {
    throw explainMissingPeer('@tensorflow/tfjs-backend-webgpu', 'the tfjs WebGPU backend', error);
  });
  // The fused batch-norm and add+ReLU kernels of @longtail/backbones: about 700 fewer dispatches a ResNet-32 step.
  registerWebGpuTrainingKernels();
  if (!(await tf.setBackend('webgpu'))) {
    throw new Error(`tf.setBackend('webgpu') failed on ${formatAdapter(summary)}`);
  }
  return { adapter: summary, provider };
}
