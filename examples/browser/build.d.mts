/** examples/browser. */
export const browserDirectory: string;
/** examples/browser/dist/app.js. */
export const bundleFile: string;
/** Writes dist/app.js; resolves to its path and size in bytes. */
export function buildPage(options?: { minify?: boolean }): Promise<{ file: string; bytes: number | undefined }>;
