/** The training configuration: JSON-serialisable, stored in every checkpoint so a run can be resumed or exported. */
import { type Augmentation, checkAugmentation } from '../data/augment.js';
import type { HeadConfig } from '../heads/index.js';
import type { BackboneSpec } from '../nn/index.js';
import type { OptimizerConfig } from './optimizer.js';
import { type ScheduleConfig, checkSchedule } from './schedule.js';

export interface TrainConfig {
  readonly backbone: BackboneSpec;
  /** Head preset, e.g. presets.arcface({ s: 64, m2: 0.5 }) from src/heads. */
  readonly head: HeadConfig;
  readonly optimizer: OptimizerConfig;
  /** Learning rate per step; positions in optimizer steps. */
  readonly schedule: ScheduleConfig;
  readonly epochs: number;
  /** Static batch size; the last partial batch of an epoch is dropped. */
  readonly batchSize: number;
  /** Seed of initialisation, shuffling and dropout (default 0). */
  readonly seed?: number;
  /** Ask the dataset for training augmentation (default false). */
  readonly augment?: boolean;
  /**
   * With `augment`: the random crop and colour jitter beyond the flip. The dataset applies it (the CLI
   * opens the folder with `FolderDatasetOptions.augmentation` set to this); it is kept here so that the
   * checkpoint records it and `--resume` reopens the data the same way. Absent (checkpoints written before
   * this field existed, or a run without them) means off: flips only.
   */
  readonly augmentation?: Augmentation;
  /**
   * Partial FC: the fraction of classes the head sees per step, in (0, 1] (every class of the
   * batch, then random others; see src/heads/partial-fc.ts). Omitted = the full head.
   */
  readonly sampleRate?: number;
}

/** Throw a clear error for a configuration that cannot train. */
export function checkConfig(cfg: TrainConfig): TrainConfig {
  const posInt = (v: number, what: string): void => {
    if (!(Number.isInteger(v) && v > 0))
      throw new Error(`train: ${what} must be a positive integer, got ${v}`);
  };
  posInt(cfg.epochs, 'epochs');
  posInt(cfg.batchSize, 'batchSize');
  posInt(cfg.backbone.embeddingDim, 'backbone.embeddingDim');
  checkSchedule(cfg.schedule);
  if (cfg.augmentation) checkAugmentation(cfg.augmentation);
  if (cfg.sampleRate !== undefined) {
    if (!(cfg.sampleRate > 0 && cfg.sampleRate <= 1))
      throw new Error(`train: sampleRate must be in (0, 1], got ${cfg.sampleRate}`);
    if (cfg.head.kind !== 'margin')
      throw new Error('train: Partial FC (sampleRate) needs a margin head, not softmax');
  }
  return cfg;
}
