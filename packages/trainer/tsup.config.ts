import { defineConfig } from 'tsup';

// One build for the library entries and the `longtail` command, so that they share one set of chunks (two builds
// into one dist/ each emitted their own copy of the shared modules). `splitting` is on for CommonJS too, so that
// index.cjs and checkpoint.cjs share their code the same way.
export default defineConfig({
  entry: { index: 'src/index.ts', checkpoint: 'src/checkpoint.ts', cli: 'src/cli.ts' },
  format: ['esm', 'cjs'],
  // Declarations for the library entries only; the command (a shebang file) has none.
  dts: { entry: { index: 'src/index.ts', checkpoint: 'src/checkpoint.ts' } },
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // import.meta.url (the CLI reads its package.json) in the CommonJS chunks.
  shims: true,
  external: [/^@tensorflow\//, /^@longtail\//],
});
