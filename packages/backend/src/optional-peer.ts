import * as tf from '@tensorflow/tfjs-core';

/**
 * The error to throw when importing an optional peer dependency failed: when the package itself is not installed,
 * one that says so and how to install it (tfjs packages at the version of the application's tfjs-core, so that
 * the project keeps one copy of it); any other error (a package that is there but fails to load) unchanged.
 * The message keeps Node's "Cannot find package '…'" opening, which the summary line shortens to "not installed".
 */
export function explainMissingPeer(specifier: string, what: string, error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  const quoted = [`'${specifier}'`, `"${specifier}"`];
  const notFound = /Cannot find (package|module)|Failed to resolve module specifier|ERR_MODULE_NOT_FOUND/.test(message);
  if (!notFound || !quoted.some((text) => message.includes(text))) return error;
  const tfjsPackage = specifier.startsWith('@tensorflow/');
  const install = tfjsPackage ? `${specifier}@${tf.version_core}` : specifier;
  // The command first: callers keep only the first 200 characters of a reason.
  return new Error(
    `Cannot find package '${specifier}' (${what}, an optional peer dependency of @longtail/backend); install it with: ` +
      `npm install ${install}${tfjsPackage ? ' (the version of your @tensorflow/tfjs-core)' : ''}`,
    { cause: error },
  );
}
