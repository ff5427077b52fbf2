import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { swiftShaderIcdPath, vulkanDriverInstalled } from '../src/index.js';

/**
 * Prepares this process for WebGPU tests on a machine without a GPU: points the Vulkan loader at SwiftShader
 * (Debian's chromium-common ships it) unless a driver is already configured, and gives Dawn an XDG_RUNTIME_DIR.
 * Call before the first `selectBackend({ prefer: 'webgpu' })` of the process.
 *
 * @returns why WebGPU cannot run here, or undefined when it can be tried. Under `CI=true` a missing driver throws:
 *   CI installs chromium and libvulkan1, so a skip there would hide a broken setup.
 */
export function prepareWebGpuTestEnvironment(): string | undefined {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
    const swiftShader = swiftShaderIcdPath();
    if (swiftShader !== undefined) process.env.VK_ICD_FILENAMES = swiftShader;
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    const runtime = path.join(tmpdir(), `longtail-xdg-${process.getuid?.() ?? 'user'}`);
    mkdirSync(runtime, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = runtime;
  }
  if (vulkanDriverInstalled()) return undefined;
  const reason =
    'no Vulkan driver for WebGPU: install chromium (SwiftShader, in chromium-common) and libvulkan1, or a GPU driver';
  if (process.env.CI === 'true') throw new Error(`${reason} (CI must run the webgpu tests)`);
  return reason;
}
