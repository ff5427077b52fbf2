import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // import.meta.url (lazy resolution of the optional fashion-mnist package) needs a shim in the CJS build.
  shims: true,
  external: [/^@tensorflow\//, /^@longtail\//, 'sharp', 'fashion-mnist'],
});
