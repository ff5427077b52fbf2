/**
 * A small JSON-schema-like validator: enough to describe every key of a run config, fill in defaults, and
 * reject unknown keys and bad values with a message that names the key path.
 */

interface BaseSchema {
  /** One line shown by `longtail train --help` and in docs. */
  description?: string;
  /** Whether `null` is an accepted value. */
  nullable?: boolean;
}

export interface NumberSchema extends BaseSchema {
  type: 'number';
  default?: number | null;
  integer?: boolean;
  /** Inclusive lower bound. */
  minimum?: number;
  /** Exclusive lower bound. */
  exclusiveMinimum?: number;
  /** Inclusive upper bound. */
  maximum?: number;
  /** Exclusive upper bound. */
  exclusiveMaximum?: number;
}

export interface StringSchema extends BaseSchema {
  type: 'string';
  default?: string | null;
  enum?: readonly string[];
  minLength?: number;
}

export interface BooleanSchema extends BaseSchema {
  type: 'boolean';
  default?: boolean | null;
}

export interface ArraySchema extends BaseSchema {
  type: 'array';
  items: NumberSchema | StringSchema | BooleanSchema;
  default?: readonly unknown[] | null;
  minItems?: number;
  maxItems?: number;
  /** Items must be strictly increasing (used for learning-rate milestones). */
  increasing?: boolean;
}

export interface ObjectSchema extends BaseSchema {
  type: 'object';
  properties: Record<string, Schema>;
}

export type Schema = NumberSchema | StringSchema | BooleanSchema | ArraySchema | ObjectSchema;

/** Thrown when a config does not match its schema; `issues` lists every problem, one per key path. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(issues.length === 1 ? issues[0] : `invalid config:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `an array`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function checkNumber(value: unknown, schema: NumberSchema, path: string, issues: string[]): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    issues.push(`${path} must be a finite number, got ${describe(value)}`);
    return;
  }
  if (schema.integer && !Number.isInteger(value)) issues.push(`${path} must be an integer, got ${value}`);
  if (schema.minimum !== undefined && value < schema.minimum) issues.push(`${path} must be >= ${schema.minimum}, got ${value}`);
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
    issues.push(`${path} must be > ${schema.exclusiveMinimum}, got ${value}`);
  }
  if (schema.maximum !== undefined && value > schema.maximum) issues.push(`${path} must be <= ${schema.maximum}, got ${value}`);
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
    issues.push(`${path} must be < ${schema.exclusiveMaximum}, got ${value}`);
  }
}

function checkScalar(value: unknown, schema: NumberSchema | StringSchema | BooleanSchema, path: string, issues: string[]): void {
  if (value === null) {
    if (!schema.nullable) issues.push(`${path} must not be null`);
    return;
  }
  switch (schema.type) {
    case 'number':
      checkNumber(value, schema, path, issues);
      return;
    case 'string':
      if (typeof value !== 'string') {
        issues.push(`${path} must be a string, got ${describe(value)}`);
      } else if (schema.enum && !schema.enum.includes(value)) {
        issues.push(`${path} must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`);
      } else if (schema.minLength !== undefined && value.length < schema.minLength) {
        issues.push(`${path} must have at least ${schema.minLength} characters`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') issues.push(`${path} must be true or false, got ${describe(value)}`);
      return;
  }
}

function resolveNode(value: unknown, schema: Schema, path: string, issues: string[]): unknown {
  if (schema.type === 'object') {
    const input = value === undefined ? {} : value;
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      issues.push(`${path || 'config'} must be an object, got ${describe(input)}`);
      return undefined;
    }
    const output: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      // Own keys only: "toString", "constructor" or "__proto__" are not config keys.
      if (!Object.hasOwn(schema.properties, key)) {
        const known = Object.keys(schema.properties).join(', ');
        issues.push(`${path ? `${path}.` : ''}${key} is not a known key (known: ${known})`);
      }
    }
    for (const [key, child] of Object.entries(schema.properties)) {
      const childPath = path ? `${path}.${key}` : key;
      output[key] = resolveNode(Object.hasOwn(input, key) ? (input as Record<string, unknown>)[key] : undefined, child, childPath, issues);
    }
    return output;
  }
  if (value === undefined) {
    if (schema.default === undefined) {
      issues.push(`${path} is required`);
      return undefined;
    }
    return Array.isArray(schema.default) ? [...schema.default] : schema.default;
  }
  if (schema.type === 'array') {
    if (value === null) {
      if (!schema.nullable) issues.push(`${path} must not be null`);
      return null;
    }
    if (!Array.isArray(value)) {
      issues.push(`${path} must be an array, got ${describe(value)}`);
      return undefined;
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      issues.push(`${path} must have at least ${schema.minItems} items, got ${value.length}`);
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      issues.push(`${path} must have at most ${schema.maxItems} items, got ${value.length}`);
    }
    const before = issues.length;
    value.forEach((item, index) => checkScalar(item, schema.items, `${path}[${index}]`, issues));
    if (schema.increasing && issues.length === before) {
      for (let i = 1; i < value.length; i++) {
        if (!(value[i] > value[i - 1])) {
          issues.push(`${path} must be strictly increasing, got ${JSON.stringify(value)}`);
          break;
        }
      }
    }
    return [...value];
  }
  checkScalar(value, schema, path, issues);
  return value;
}

/**
 * Validates `value` against `schema`, fills in defaults, and returns the resolved value.
 * Throws a {@link ConfigError} listing every problem (unknown keys, wrong types, out-of-range values), each
 * message starting with the key path, e.g. `stage1.optimizer.lr must be > 0, got -1`.
 */
export function resolveWithSchema<T>(value: unknown, schema: ObjectSchema): T {
  const issues: string[] = [];
  const resolved = resolveNode(value, schema, '', issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return resolved as T;
}

/** The schema node at a dotted key path, or `undefined` if there is none. */
export function schemaAt(schema: ObjectSchema, keyPath: string): Schema | undefined {
  let node: Schema = schema;
  for (const part of keyPath.split('.')) {
    if (node.type !== 'object' || !Object.hasOwn(node.properties, part)) return undefined;
    node = node.properties[part];
  }
  return node;
}

/** Every leaf key path of a schema with its node, depth first, in declaration order. */
export function leafPaths(schema: ObjectSchema, prefix = ''): Array<[string, Exclude<Schema, ObjectSchema>]> {
  const out: Array<[string, Exclude<Schema, ObjectSchema>]> = [];
  for (const [key, child] of Object.entries(schema.properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object') out.push(...leafPaths(child, path));
    else out.push([path, child]);
  }
  return out;
}
