export * from './config';
export { ConfigError, resolveWithSchema, schemaAt, leafPaths, flattenValues } from './schema';
export type { Schema, ObjectSchema, UnionSchema, LeafSchema, NumberSchema, StringSchema, BooleanSchema, ArraySchema, Infer, UnionValue } from './schema';
export * from './schedules';
export * from './evaluation';
export * from './checkpoint';
export * from './metrics';
export * from './progress';
export * from './report';
export { TorchSgd } from './optimizer';
export { buildModel, modelWeightRecords, restoreModelWeights, stableWeights } from './model';
export { makeLoss, resolveHead, type StepLoss } from './losses';
export { train, writeRunReport, type TrainOptions, type TrainSummary } from './pipeline';
export { stagePlans, type StagePlan } from './stage-plan';
export { runStage, GPU_STEPS_PER_READ, type StageContext, type StageOutcome } from './stage-runner';
export { trainStep, readStep, type PendingStep, type StepInput } from './train-step';
export { evaluateModel } from './evaluate-model';
export { findNonFinite } from './finite';
export { selectComputeBackend } from './backend-selection';
export {
  runDirectory,
  checkpointFile,
  epochCheckpointName,
  stageResultsFile,
  evalResultsFile,
  CONFIG_FILE,
  METRICS_FILE,
  RESULTS_FILE,
  RESULTS_DIRECTORY,
  CHECKPOINT_DIRECTORY,
  REPORT_FILE,
} from './run-layout';
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
export { loadTrainingData, requireRegularFile, type TrainingData, type ImageDataset } from './data';
export { runCli, parseArguments, configFromArguments } from './cli-main';
export { UsageError, type CliIo } from './cli-io';
