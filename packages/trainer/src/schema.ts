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
  properties: Readonly<Record<string, Schema>>;
}

/** A leaf: a number, string, boolean or array of them. */
export type LeafSchema = NumberSchema | StringSchema | BooleanSchema | ArraySchema;

/**
 * An object whose keys depend on the value of one of them (a tagged union): `discriminator` (e.g. `name`) picks a
 * variant, and the object may hold only that variant's keys. A key of another variant is an error naming the key,
 * the variant and its keys: `<path>.<key>: not an option of <variant> (options: <its keys>)`.
 */
export interface UnionSchema extends BaseSchema {
  type: 'union';
  /** The key whose value selects the variant. */
  discriminator: string;
  /** The variant when the discriminator is not given. */
  default: string;
  /** Variant name → its other keys (leaves). A `null` value of a nullable key takes the key's default. */
  variants: Readonly<Record<string, Readonly<Record<string, LeafSchema>>>>;
  /** What one variant is called in messages and help (e.g. `loss`). */
  variantKind?: string;
}

export type Schema = LeafSchema | ObjectSchema | UnionSchema;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type NullableOf<S, T> = S extends { nullable: true } ? T | null : T;
type InferLeaf<S> = S extends { type: 'number' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'string'; enum: readonly (infer E)[] }
      ? E
      : S extends { type: 'string' }
        ? string
        : S extends { type: 'array'; items: infer I }
          ? Array<InferLeaf<I>>
          : never;

/** The value of a union: the discriminator (a string) and the chosen variant's options. */
export type UnionValue<D extends string> = { [K in D]: string } & { [option: string]: string | number | boolean };

/**
 * The TypeScript type of the values a schema resolves to (`RunConfig` is `Infer<…>` of the run-config schema): an
 * object per object node, the enum's literals for a string enum, `T | null` for a nullable node.
 */
export type Infer<S> = S extends { type: 'object'; properties: infer P }
  ? Mutable<{ [K in keyof P]: Infer<P[K]> }>
  : S extends { type: 'union'; discriminator: infer D extends string }
    ? UnionValue<D>
    : NullableOf<S, InferLeaf<S>>;

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

function resolveUnion(value: unknown, schema: UnionSchema, path: string, issues: string[]): unknown {
  const input = value === undefined ? {} : value;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    issues.push(`${path} must be an object, got ${describe(input)}`);
    return undefined;
  }
  const record = input as Record<string, unknown>;
  const tagPath = `${path}.${schema.discriminator}`;
  const tag = Object.hasOwn(record, schema.discriminator) ? record[schema.discriminator] : schema.default;
  const names = Object.keys(schema.variants);
  if (typeof tag !== 'string' || !Object.hasOwn(schema.variants, tag)) {
    issues.push(`${tagPath} must be one of ${names.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(tag)}`);
    return undefined;
  }
  const variant = schema.variants[tag];
  const keys = Object.keys(variant);
  for (const key of Object.keys(record)) {
    if (key !== schema.discriminator && !Object.hasOwn(variant, key)) {
      issues.push(`${path}.${key}: not an option of ${tag} (options: ${keys.length > 0 ? keys.join(', ') : 'none'})`);
    }
  }
  const output: Record<string, unknown> = { [schema.discriminator]: tag };
  for (const [key, child] of Object.entries(variant)) {
    const given = Object.hasOwn(record, key) ? record[key] : undefined;
    // null: the variant's default for this key (e.g. the loss's default for the stage).
    output[key] = resolveNode(given === null && child.nullable ? undefined : given, child, `${path}.${key}`, issues);
  }
  return output;
}

function resolveNode(value: unknown, schema: Schema, path: string, issues: string[]): unknown {
  if (schema.type === 'union') return resolveUnion(value, schema, path, issues);
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

/**
 * The schema node at a dotted key path, or `undefined` if there is none. Inside a union, the discriminator is a
 * string enum of the variant names and an option is the first variant's node of that name.
 */
export function schemaAt(schema: ObjectSchema, keyPath: string): Schema | undefined {
  let node: Schema = schema;
  for (const part of keyPath.split('.')) {
    if (node.type === 'object') {
      if (!Object.hasOwn(node.properties, part)) return undefined;
      node = node.properties[part];
    } else if (node.type === 'union') {
      const found = unionKey(node, part);
      if (found === undefined) return undefined;
      node = found;
    } else {
      return undefined;
    }
  }
  return node;
}

/** The node of one key of a union: the discriminator as a string enum, or the first variant's option of that name. */
function unionKey(schema: UnionSchema, key: string): LeafSchema | undefined {
  if (key === schema.discriminator) {
    return { type: 'string', enum: Object.keys(schema.variants), default: schema.default, description: schema.description };
  }
  for (const variant of Object.values(schema.variants)) if (Object.hasOwn(variant, key)) return variant[key];
  return undefined;
}

/**
 * Every leaf key path of a schema with its node, depth first, in declaration order. A union contributes its
 * discriminator and then each variant's keys, labelled with the variant (`variant`), a key once per variant.
 */
export function leafPaths(schema: ObjectSchema, prefix = ''): Array<[string, LeafSchema, string?]> {
  const out: Array<[string, LeafSchema, string?]> = [];
  for (const [key, child] of Object.entries(schema.properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object') out.push(...leafPaths(child, path));
    else if (child.type === 'union') {
      out.push([`${path}.${child.discriminator}`, unionKey(child, child.discriminator)!]);
      for (const [name, variant] of Object.entries(child.variants)) {
        for (const [option, node] of Object.entries(variant)) out.push([`${path}.${option}`, node, name]);
      }
    } else out.push([path, child]);
  }
  return out;
}

/** Every leaf of a resolved config as `[dotted key path, value]`, depth first (arrays are leaves). */
export function flattenValues(value: unknown, prefix = ''): Array<[string, unknown]> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [[prefix, value]];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => flattenValues(child, prefix ? `${prefix}.${key}` : key));
}
