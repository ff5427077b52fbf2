export * from './config.js';
export { ConfigError, resolveWithSchema, schemaAt, leafPaths, flattenValues } from './schema.js';
export type { Schema, ObjectSchema, UnionSchema, LeafSchema, NumberSchema, StringSchema, BooleanSchema, ArraySchema, Infer, UnionValue } from './schema.js';
export * from './schedules.js';
export * from './evaluation.js';
export * from './calibration.js';
export * from './checkpoint.js';
export * from './metrics.js';
export * from './progress.js';
export * from './report.js';
export { compareRuns, compareHtml, compareMarkdown, compareCommand, type CompareData, type ComparedRun, type ComparedFigure, type CompareMetric, type CompareOptions } from './compare.js';
export { TorchSgd } from './optimizer.js';
export { buildModel, modelWeightRecords, restoreModelWeights, stableWeights } from './model.js';
export { makeLoss, resolveHead, type StepLoss } from './losses.js';
export { train, writeRunReport, type TrainOptions, type TrainSummary } from './pipeline.js';
export { stagePlans, type StagePlan } from './stage-plan.js';
export { runStage, GPU_STEPS_PER_READ, type StageContext, type StageOutcome } from './stage-runner.js';
export { trainStep, readStep, type PendingStep, type StepInput } from './train-step.js';
export { evaluateModel, evaluateEpoch, improvesOn, scoreSplit, type EvaluationSplit } from './evaluate-model.js';
export * from './seeds.js';
export { settingWarnings } from './setting-warnings.js';
export { checkDataCommand, dataCheckReport, formatDataCheckReport, type DataCheckReport } from './check-data-command.js';
export { findNonFinite } from './finite.js';
export { selectComputeBackend } from './backend-selection.js';
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
} from './run-layout.js';
export { writeFileAtomic, writeFileAtomicSync, appendFileChecked, removeStaleTemporaryFilesSync, processAlive } from './atomic.js';
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
} from './run-directory.js';
export { loadTrainingData, needsValidation, requireRegularFile, type TrainingData, type ImageDataset } from './data.js';
export { runCli, parseArguments, configFromArguments } from './cli-main.js';
export { UsageError, type CliIo } from './cli-io.js';
export { exportRun, exportCommand, browserPreprocessing, EXPORT_FORMATS, EXPORT_METADATA_VERSION, DEFAULT_EXPORT_DIRECTORY, type ExportFormat, type ExportOptions, type ExportResult, type ExportedModelMetadata, type BrowserPreprocessing } from './export-model.js';
