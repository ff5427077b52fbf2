/**
 * Node's file modules, looked up at run time through `process.getBuiltinModule` (Node ≥ 20.16) instead of imported:
 * a bundler targeting browsers then has nothing to resolve, and only the file helpers that call this need Node.
 * @param caller named in the error thrown outside Node.
 */
export function nodeFileModules(caller: string): { fs: typeof import('node:fs/promises'); path: typeof import('node:path') } {
  const node = (globalThis as { process?: NodeJS.Process }).process;
  if (typeof node?.getBuiltinModule !== 'function') {
    throw new Error(`${caller}: reads and writes files, so it needs Node.js >= 20.16; in a browser load models with tf.loadLayersModel(url)`);
  }
  return { fs: node.getBuiltinModule('node:fs/promises'), path: node.getBuiltinModule('node:path') };
}
