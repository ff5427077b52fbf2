export * from './config';
export { ConfigError, resolveWithSchema, schemaAt, leafPaths } from './schema';
export type { Schema, ObjectSchema, NumberSchema, StringSchema, BooleanSchema, ArraySchema } from './schema';
export * from './schedules';
export * from './evaluation';
export * from './checkpoint';
export * from './metrics';
export * from './progress';
export * from './report';
export { TorchSgd } from './optimizer';
export { tinyModel } from './tiny-model';
export { buildModel, featuresAndLogits, headLayer, modelWeightRecords, restoreModelWeights, resolveHead } from './model';
export { train, trainStep, readStep, GPU_STEPS_PER_READ, classWeights, evaluateModel, findNonFinite, makeLoss, runDirectory, selectComputeBackend, writeRunReport } from './pipeline';
export { writeFileAtomic, writeFileAtomicSync, appendFileChecked, removeStaleTemporaryFilesSync, processAlive } from './atomic';
export {
  acquireRunLock,
  checkResumeRecord,
  dataFacts,
  prepareFreshRunDirectory,
  readRunRecord,
  runRecord,
  RunDirectoryError,
  LOCK_FILE,
  RUN_RECORD_FILE,
  RUN_ENTRIES,
  RESUME_SAFE_KEYS,
  UNCOMPARED_KEYS,
  type RunLock,
  type RunRecord,
  type DataFacts,
} from './run-directory';
export type { PendingStep, TrainOptions, TrainSummary } from './pipeline';
export { loadTrainingData, requireRegularFile, DEFAULT_SPLIT_FILES, type TrainingData, type ImageDataset } from './data';
export { runCli, parseArguments, configFromArguments, UsageError, type CliIo } from './cli-main';
