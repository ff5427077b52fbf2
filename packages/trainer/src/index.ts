export * from './config';
export { ConfigError, resolveWithSchema, schemaAt, leafPaths } from './schema';
export type { Schema, ObjectSchema, NumberSchema, StringSchema, BooleanSchema, ArraySchema } from './schema';
export * from './schedules';
export * from './evaluation';
export * from './checkpoint';
export * from './metrics';
export * from './progress';
export * from './report';
