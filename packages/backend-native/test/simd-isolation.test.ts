import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nativeAddonPath } from '../src/addon.js';

// The addon must load and run on any x86-64 CPU: only the kernels of the `avx512` and `avx2` namespaces may use
// AVX instructions, and they are called only after __builtin_cpu_supports said yes. This machine has AVX-512, so
// running the `scalar` level here cannot show an AVX instruction that leaked into shared code (an inline helper or
// template compiled under a `#pragma GCC target`); the disassembly can.

interface FunctionCode {
  name: string;
  instructions: string[];
}

function disassemble(file: string): FunctionCode[] | string {
  const run = spawnSync('objdump', ['-d', '-C', '--no-show-raw-insn', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (run.error || run.status !== 0) return `objdump unavailable (${run.error?.message ?? run.stderr.trim()})`;
  const functions: FunctionCode[] = [];
  for (const line of run.stdout.split('\n')) {
    const header = /^[0-9a-f]+ <(.*)>:$/.exec(line);
    if (header) functions.push({ name: header[1], instructions: [] });
    else if (functions.length > 0 && /^\s+[0-9a-f]+:\t/.test(line)) functions[functions.length - 1].instructions.push(line.split('\t').slice(1).join(' ').trim());
  }
  return functions;
}

/** VEX / EVEX encoded (AVX, AVX2, FMA, AVX-512): `v…` mnemonics, or any ymm / zmm / opmask register. */
const isAvx = (instruction: string) => /^v[a-z]/.test(instruction) || /%[yz]mm\d|%k[1-7]\b/.test(instruction);
const usesZmm = (instruction: string) => /%zmm\d|%k[1-7]\b/.test(instruction);

const addon = nativeAddonPath();

describe('SIMD isolation in the compiled addon (x86-64)', () => {
  // A missing addon fails under CI=true (CI compiles it); a non-x64 machine has nothing to check.
  it.skipIf(process.arch !== 'x64' || (!existsSync(addon) && process.env.CI !== 'true'))(
    'AVX only in the avx2/avx512 kernels; AVX-512 only in the avx512 kernels',
    (context) => {
      const functions = disassemble(addon);
      if (typeof functions === 'string') {
        if (process.env.CI === 'true') throw new Error(`SIMD isolation check cannot run under CI=true: ${functions}`);
        console.warn(`SIMD isolation check skipped: ${functions}`);
        context.skip();
        return;
      }
      const inNamespace = (code: FunctionCode, level: string) => code.name.includes(`longtail::${level}::`);
      const avx512 = functions.filter((code) => inNamespace(code, 'avx512'));
      const avx2 = functions.filter((code) => inNamespace(code, 'avx2'));
      const scalar = functions.filter((code) => inNamespace(code, 'scalar'));
      const shared = functions.filter((code) => !inNamespace(code, 'avx512') && !inNamespace(code, 'avx2') && !inNamespace(code, 'scalar'));
      // The parse found the kernels, and the wide code is where it should be (else the check below proves nothing).
      for (const group of [avx512, avx2, scalar, shared]) expect(group.length).toBeGreaterThan(20);
      expect(avx512.some((code) => code.instructions.some(usesZmm))).toBe(true);
      expect(avx2.some((code) => code.instructions.some(isAvx))).toBe(true);

      const offenders = (group: FunctionCode[], test: (instruction: string) => boolean) =>
        group.flatMap((code) => {
          const found = code.instructions.find(test);
          return found === undefined ? [] : [`${code.name}: ${found}`];
        });
      expect(offenders(scalar, isAvx)).toEqual([]);
      expect(offenders(shared, isAvx)).toEqual([]);
      expect(offenders(avx2, usesZmm)).toEqual([]);
    },
    60_000,
  );
});
