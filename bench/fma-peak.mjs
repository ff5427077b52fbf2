// `node bench/fma-peak.mjs`: this machine's FP32 FMA peak with AVX2 (8-wide) vectors, the denominator of the
// "% of peak" figures in docs/performance.md. Compiles a loop of 12 independent FMA chains (enough to hide the FMA
// latency on current x86 cores) with g++ into a temporary directory, runs it on one thread and then on one thread per
// core at once, and prints one JSON line. Needs g++ and an x86-64 CPU with AVX2 and FMA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const source = String.raw`
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>
static double gflops(long iterations) {
  __m256 acc[12];
  const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  const auto start = std::chrono::steady_clock::now();
  for (long k = 0; k < iterations; k++)
#pragma GCC unroll 12  // the accumulators must live in registers
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  float sink = 0;
  for (int i = 0; i < 12; i++) sink += acc[i][0];
  if (sink == 12345.f) std::puts("");  // keeps the chains alive
  return iterations * 12.0 * 16 / seconds / 1e9;  // 8 lanes x 2 FLOP per FMA
}
int main(int argc, char** argv) {
  const int threads = std::atoi(argv[1]);
  const long iterations = std::atol(argv[2]);
  const double one = gflops(iterations);
  std::vector<double> each(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) pool.emplace_back([&, t] { each[t] = gflops(iterations); });
  for (auto& thread : pool) thread.join();
  double all = 0;
  for (double value : each) all += value;
  std::printf("{\"oneThreadGflops\":%.1f,\"threads\":%d,\"allThreadsGflops\":%.1f}\n", one, threads, all);
}
`;

const directory = mkdtempSync(join(tmpdir(), 'fma-peak-'));
try {
  writeFileSync(join(directory, 'fma.cc'), source);
  const binary = join(directory, 'fma');
  execFileSync('g++', ['-O2', '-mavx2', '-mfma', '-pthread', join(directory, 'fma.cc'), '-o', binary], { stdio: 'inherit' });
  const threads = availableParallelism();
  const result = JSON.parse(execFileSync(binary, [String(threads), '400000000'], { encoding: 'utf8' }));
  console.log(JSON.stringify({ kind: 'fmaPeak', cpuModel: cpus()[0]?.model ?? 'unknown', vectorWidth: 8, ...result }));
} finally {
  rmSync(directory, { recursive: true, force: true });
}
