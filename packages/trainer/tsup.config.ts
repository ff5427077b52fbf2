import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'src/index.ts', checkpoint: 'src/checkpoint.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: false,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@longtail\//],
  },
  {
    // The `longtail` command: a plain ESM file with a shebang.
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@longtail\//],
  },
]);
