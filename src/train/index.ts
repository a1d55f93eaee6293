/**
 * Training: the step graph (forward + head loss + gradients + optimizer update in one ONNX graph),
 * schedules, the trainer loop with checkpoints and exact resume, the eval graph, and export.
 */
export {
  train,
  resumeTraining,
  TrainingDivergedError,
  CHECKPOINT_FILE,
  METRICS_FILE,
  type TrainOptions,
  type TrainResult,
  type StepRecord,
  type EpochRecord,
  type TrainStart,
  type CheckpointRecord,
  type CheckpointReason,
} from './trainer.js';
export { RunFolderError, lockRunFolder, LOCK_FILE, type RunFolder } from './run-folder.js';
export { MetricsWriteError } from './metrics-log.js';
export {
  type ClassReport,
  type SkippedSample,
  DatasetError,
  classReport,
  checkTrainable,
} from './class-report.js';
export { trainDefaults, lowDimWarnings, LOW_DIM, type TrainDefaults } from './defaults.js';
export { mergeBatchLowerings, BATCH_DIM } from './dynamic-batch.js';
export { type TrainConfig, checkConfig } from './config.js';
export { type ScheduleConfig, learningRate, checkSchedule } from './schedule.js';
export {
  type OptimizerConfig,
  type SgdConfig,
  type AdamWConfig,
  applyUpdate,
  stateSlots,
} from './optimizer.js';
export { type Model, buildArchitecture, initialTensors, backboneParams } from './model.js';
export { ClassifierHead, HEAD_PREFIX, correctCount, scores } from './classifier.js';
export {
  compileStep,
  initOptimizerState,
  type StepSpec,
  type TrainState,
  type StepFeeds,
  type StepResult,
  type CompiledStep,
} from './step-graph.js';
export { compileEval, embedDataset, type EvalProgram, type EmbedOptions, type Embedded } from './embed.js';
export {
  type Checkpoint,
  type CheckpointMeta,
  saveCheckpoint,
  loadCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
} from './checkpoint.js';
export {
  exportModel,
  exportCheckpoint,
  type ExportOptions,
  type ExportSource,
  type ExportedModel,
} from './export.js';
