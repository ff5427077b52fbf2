// Convolution kernels of ResNet-32 at batch 128: 'im2col' vs 'auto' (direct) in one invocation.
// Prints one JSON line per (shape, kernel, threads) with GFLOP/s of both, the ratio auto / im2col (of the
// median wall-clock times, calls of the two algorithms interleaved so machine noise hits both alike) and
// the CPU time per call. Needs the built addon and `npx tsup` (imports dist/).
// Usage: [LONGTAIL_SIMD=avx2] node bench/conv.mjs [batch=128] [calls=7] [threads=1,2]
import { loadNativeAddon } from '../dist/index.js';

const batch = Number(process.argv[2] ?? 128);
const calls = Number(process.argv[3] ?? 7);
const threadCounts = (process.argv[4] ?? '1,2').split(',').map(Number);
const addon = loadNativeAddon();
// The level the backend would use (LONGTAIL_SIMD=avx2 measures an AVX2 machine's kernels on an AVX-512 one).
if (process.env.LONGTAIL_SIMD) addon.setSimdLevel(process.env.LONGTAIL_SIMD);

// [name, H, W, Cin, Cout, stride]; 3x3 filters with padding 1 (as bench/resnet32.mjs: conv2d(x, w, s, 1)).
const shapes = [
  ['stem 32x32x3->16', 32, 32, 3, 16, 1],
  ['32x32x16->16', 32, 32, 16, 16, 1],
  ['32x32x16->32 s2', 32, 32, 16, 32, 2],
  ['16x16x32->32', 16, 16, 32, 32, 1],
  ['16x16x32->64 s2', 16, 16, 32, 64, 2],
  ['8x8x64->64', 8, 8, 64, 64, 1],
];

function random(size) {
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = Math.random() * 2 - 1;
  return values;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

for (const threads of threadCounts) {
  addon.setNumThreads(threads);
  for (const [name, h, w, cin, cout, stride] of shapes) {
    const oh = Math.floor((h + 2 - 3) / stride) + 1;
    const ow = Math.floor((w + 2 - 3) / stride) + 1;
    const shape = Int32Array.from([batch, h, w, cin, 3, 3, cout, oh, ow, stride, stride, 1, 1, 1, 1]);
    const x = random(batch * h * w * cin);
    const filter = random(9 * cin * cout);
    const dy = random(batch * oh * ow * cout);
    const y = new Float32Array(batch * oh * ow * cout);
    const dx = new Float32Array(batch * h * w * cin);
    const dw = new Float32Array(9 * cin * cout);
    const flops = 2 * batch * oh * ow * cout * 9 * cin;
    const kernels = {
      forward: () => addon.conv2d(x, filter, null, y, shape, 0),
      inputGradient: () => addon.conv2dBackpropInput(dy, filter, dx, shape),
      filterGradient: () => addon.conv2dBackpropFilter(x, dy, dw, shape),
    };
    for (const [kernel, run] of Object.entries(kernels)) {
      const wall = { im2col: [], auto: [] };
      const cpu = { im2col: [], auto: [] };
      for (let call = -2; call < calls; call++) {
        for (const algorithm of ['im2col', 'auto']) {
          addon.setConvolutionAlgorithm(algorithm);
          const cpuStart = process.cpuUsage();
          const start = process.hrtime.bigint();
          run();
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          const used = process.cpuUsage(cpuStart);
          if (call < 0) continue; // warm-up
          wall[algorithm].push(seconds);
          cpu[algorithm].push((used.user + used.system) / 1e6);
        }
      }
      const im2col = median(wall.im2col);
      const auto = median(wall.auto);
      console.log(
        JSON.stringify({
          shape: name,
          kernel,
          threads,
          batch,
          gflopsIm2col: +(flops / im2col / 1e9).toFixed(1),
          gflopsAuto: +(flops / auto / 1e9).toFixed(1),
          speedup: +(im2col / auto).toFixed(2),
          cpuMsIm2col: +(median(cpu.im2col) * 1e3).toFixed(1),
          cpuMsAuto: +(median(cpu.auto) * 1e3).toFixed(1),
        }),
      );
    }
  }
}
addon.setConvolutionAlgorithm('auto');
