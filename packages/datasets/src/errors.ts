/**
 * The error every loader throws for bad or missing data. `file` is the file at fault and `line` (1-based) the line
 * of a split file or the entry of an annotation file, so a user can go straight to the problem.
 */
export class DatasetError extends Error {
  readonly file?: string;
  readonly line?: number;

  constructor(message: string, options: { file?: string; line?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DatasetError';
    this.file = options.file;
    this.line = options.line;
  }
}

/** Throws a TypeError naming `name` unless `value` is a positive integer (value first, as every package's validators). */
export function requirePositiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Throws a TypeError naming `name` unless `value` is a non-negative integer. */
export function requireNonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** Throws a TypeError naming `name` unless `value` is a finite number. */
export function requireFiniteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a finite number, got ${String(value)}`);
  }
  return value;
}
