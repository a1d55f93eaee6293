/**
 * The trainer: epochs over a Dataset, one step graph run per batch, progress reported through
 * callbacks (it draws and prints nothing), JSON-lines metrics, atomic checkpoints (each epoch's end,
 * every N steps or minutes, on stop or abort), exact resume, a locked run folder, and a clear stop
 * on a non-finite loss.
 *
 * Public entry point (signature kept stable):
 *
 *   train(dataset: Dataset, config: TrainConfig, options?: TrainOptions): Promise<TrainResult>
 *
 * Exact resume: the batch order is a pure function of (seed, epoch), the dropout seed of a step is a
 * function of (seed, step), and a checkpoint holds every tensor a step reads, so a run resumed from
 * step k replays steps k+1, k+2, ... exactly as the uninterrupted run did.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import type { RuntimeOptions } from '../engine/index.js';
import { validateLabels } from '../heads/index.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type ClassReport, checkTrainable, classReport } from './class-report.js';
import { type MetricsLog, openMetricsLog, trimMetrics } from './metrics-log.js';
import { RunFolderError, lockRunFolder } from './run-folder.js';
import { type TrainConfig, checkConfig } from './config.js';
import { type Model, buildArchitecture, initialTensors } from './model.js';
import { learningRate } from './schedule.js';
import { type TrainState, compileStep, initOptimizerState } from './step-graph.js';
import { embedDataset, compileEval, type EvalProgram } from './embed.js';

/** One optimizer step, as reported to hooks and the metrics log. */
export interface StepRecord {
  /** 1-based global step. */
  readonly step: number;
  /** 0-based epoch. */
  readonly epoch: number;
  /** 1-based batch within the epoch. */
  readonly batch: number;
  readonly loss: number;
  /** Fraction of the batch classified correctly (before this step's update). */
  readonly accuracy: number;
  readonly lr: number;
  /** Throughput of this step (images per second, wall clock). */
  readonly imagesPerSec: number;
}

/** One finished epoch. */
export interface EpochRecord {
  readonly epoch: number;
  /** Global step at the end of the epoch. */
  readonly step: number;
  /** Mean training loss over the epoch's steps (those run in this process when resumed mid-epoch). */
  readonly loss: number;
  readonly accuracy: number;
  /** Held-out accuracy, when TrainOptions.validation is given. */
  readonly valAccuracy?: number;
  readonly seconds: number;
}

/** Where a run starts, reported once before the first step. */
export interface TrainStart {
  /** Steps of the whole run (every epoch). */
  readonly totalSteps: number;
  /** Steps already done (a resumed run), 0 otherwise. */
  readonly startStep: number;
  readonly stepsPerEpoch: number;
  readonly epochs: number;
  /** Classes the head sees per step: C, or the Partial FC sample size. */
  readonly classesPerStep: number;
  /** Per-class counts, empty classes and skipped files of the training set. */
  readonly classes: ClassReport;
  /** Leftover temporary files of an interrupted write, removed from outDir. */
  readonly removedTmp: readonly string[];
  /** The pid of a dead run whose lock on outDir was taken over. */
  readonly staleLockPid?: number;
}

/** Why a checkpoint was written. */
export type CheckpointReason = 'steps' | 'time' | 'epoch' | 'stop' | 'interrupt' | 'end';

/** A checkpoint written. */
export interface CheckpointRecord {
  readonly path: string;
  readonly step: number;
  readonly reason: CheckpointReason;
}

export interface TrainOptions {
  /**
   * Directory for `last.ckpt`, `metrics.jsonl` and the `run.lock` that keeps a second run out
   * (see run-folder.ts); none = nothing written to disk.
   */
  readonly outDir?: string;
  /**
   * A fresh run (no `resume`) into an outDir that already holds a checkpoint is refused with a
   * RunFolderError unless this is set; then the old checkpoint and metrics are replaced.
   */
  readonly overwrite?: boolean;
  /** Also write a checkpoint every N steps (default 0: off). A checkpoint is always written at each epoch's end. */
  readonly checkpointEvery?: number;
  /** Also write a checkpoint when this many seconds have passed since the last one (default 600; 0: off). */
  readonly checkpointSeconds?: number;
  /**
   * Continue from this checkpoint file. Its config must equal `config` (epochs may grow); the run
   * continues with the same batches in the same order.
   */
  readonly resume?: string;
  /**
   * Continue from this checkpoint held in memory, as `resume` does from a file (ignored when `resume`
   * is given). The toy's ArcFace run starts this way from its softmax warm-up, in Node and in the
   * browser, where there is no file system.
   */
  readonly start?: Checkpoint;
  /** Stop (with a checkpoint) after this global step, as if interrupted. */
  readonly stopAfterSteps?: number;
  /**
   * Stop after the step in progress when aborted: a checkpoint is written and the result says
   * `stopped: 'interrupted'` (the CLI aborts on SIGINT / SIGTERM).
   */
  readonly signal?: AbortSignal;
  /** Held-out set: accuracy of nearest class centre after each epoch. */
  readonly validation?: Dataset;
  /** ONNX Runtime intra-op threads (default: all cores). */
  readonly threads?: number;
  /**
   * Further ONNX Runtime options for the step and evaluation sessions (device, memory arena, memory
   * pattern, optimisation level; see RuntimeOptions for the defaults and what each costs). `threads`
   * above takes precedence over `runtime.threads`.
   */
  readonly runtime?: RuntimeOptions;
  /**
   * @deprecated Ignored: the trainer draws nothing; report progress from onStart / onStep (the CLI
   * draws its bar that way). Kept so existing callers compile.
   */
  readonly quiet?: boolean;
  /** Called once before the first step. */
  readonly onStart?: (s: TrainStart) => void | Promise<void>;
  /** Called after every step. */
  readonly onStep?: (r: StepRecord) => void | Promise<void>;
  /** Called after every epoch with the model's current values (do not mutate them). */
  readonly onEpoch?: (r: EpochRecord, model: Model) => void | Promise<void>;
  /** Called after every checkpoint written. */
  readonly onCheckpoint?: (c: CheckpointRecord) => void | Promise<void>;
}

export interface TrainResult {
  /** The trained model (backbone, head, values). */
  readonly model: Model;
  /** Global steps done. */
  readonly steps: number;
  /** Every step run in this call. */
  readonly history: readonly StepRecord[];
  readonly epochs: readonly EpochRecord[];
  /** Path of the last checkpoint written, if any. */
  readonly checkpoint?: string;
  /** Why training ended: all epochs done, TrainOptions.stopAfterSteps, or TrainOptions.signal. */
  readonly stopped: 'finished' | 'stopAfterSteps' | 'interrupted';
}

/** Training stopped because the loss (or, after an update, a parameter) became NaN or infinite. */
export class TrainingDivergedError extends Error {
  /**
   * @param step 1-based step whose loss (or update) was not finite
   * @param what what went non-finite, e.g. "the loss is NaN"
   * @param lastCheckpoint the checkpoint left in place (written before the bad step), if any
   */
  constructor(
    readonly step: number,
    readonly epoch: number,
    readonly what: string,
    readonly lr: number,
    readonly lastCheckpoint: string | undefined,
    readonly lastCheckpointStep: number | undefined,
  ) {
    super(
      `training diverged: ${what} at step ${step} (epoch ${epoch + 1}, lr ${lr.toPrecision(3)}). ` +
        (lastCheckpoint
          ? `The last good checkpoint (step ${lastCheckpointStep ?? '?'}) is kept at ${lastCheckpoint}. `
          : 'No checkpoint was written before it. ') +
        'Try a lower learning rate, a longer warm-up, a smaller scale s, or the easy margin.',
    );
    this.name = 'TrainingDivergedError';
  }
}

/** A checkpoint's file name inside outDir. */
export const CHECKPOINT_FILE = 'last.ckpt';
/** The metrics log's file name inside outDir. */
export const METRICS_FILE = 'metrics.jsonl';

/** The dropout seed of a global step: a 32-bit mix of the run seed and the step. */
function stepSeed(seed: number, step: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.imul(h, 0x27d4eb2f) >>> 0;
}

function sameConfig(a: TrainConfig, b: TrainConfig): string[] {
  const diffs: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof TrainConfig>) {
    if (k === 'epochs') continue;
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) diffs.push(k);
  }
  return diffs;
}

/** The first non-finite tensor of a checkpoint, if any ("group/name"). */
function nonFiniteTensor(ck: Checkpoint): string | undefined {
  for (const [group, store] of [
    ['params', ck.params],
    ['state', ck.state],
    ['buffers', ck.buffers],
  ] as const) {
    const bad = store.firstNonFinite();
    if (bad) return `${group} '${bad}'`;
  }
  return undefined;
}

/** Load a checkpoint to continue from; refuse one holding NaN or infinite values. */
async function loadResumable(path: string): Promise<Checkpoint> {
  const ck = await loadCheckpoint(path);
  const bad = nonFiniteTensor(ck);
  if (bad) {
    throw new Error(
      `train: cannot resume ${path}: it holds non-finite values (${bad}); it is not a good checkpoint`,
    );
  }
  return ck;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Refuse to start a fresh run over a folder's earlier run unless asked to overwrite it. */
async function guardEarlierRun(outDir: string, overwrite: boolean | undefined): Promise<void> {
  const ckpt = join(outDir, CHECKPOINT_FILE);
  if (!(await exists(ckpt))) return;
  if (overwrite) {
    await rm(ckpt, { force: true });
    await rm(join(outDir, METRICS_FILE), { force: true });
    return;
  }
  let what = 'a checkpoint';
  try {
    const ck = await loadCheckpoint(ckpt);
    what =
      ck.meta.epoch >= ck.config.epochs
        ? `a finished run (${ck.config.epochs} epochs, step ${ck.meta.step})`
        : `an unfinished run (stopped at step ${ck.meta.step}, epoch ${ck.meta.epoch + 1} of ${ck.config.epochs})`;
  } catch {
    // An unreadable checkpoint is still someone's work: refuse all the same.
  }
  throw new RunFolderError(
    outDir,
    `${outDir} already holds ${what} in ${CHECKPOINT_FILE}; continue it with --resume (resume), ` +
      'or pass --overwrite (overwrite) to replace it',
  );
}

/**
 * Train a backbone and head on a dataset.
 * @param dataset training set; samples [sampleShape], labels 0..numClasses-1, at least two classes
 *   with samples (else DatasetError)
 * @param config architecture, head, optimizer, schedule, epochs, batch size, seed, Partial FC rate
 * @returns the model and the run's records; throws TrainingDivergedError on a NaN/Inf loss,
 *   RunFolderError when outDir is busy or holds another run, MetricsWriteError when the log cannot
 *   be written (the last checkpoint stays intact)
 */
export async function train(
  dataset: Dataset,
  config: TrainConfig,
  options: TrainOptions = {},
): Promise<TrainResult> {
  checkConfig(config);
  const classes = classReport(dataset);
  checkTrainable(classes);
  const { outDir } = options;
  const seed = config.seed ?? 0;
  const batchSize = config.batchSize;
  const stepsPerEpoch = Math.floor(dataset.size / batchSize);
  if (stepsPerEpoch === 0) {
    throw new Error(`train: the dataset has ${dataset.size} samples, fewer than one batch of ${batchSize}`);
  }
  const totalSteps = stepsPerEpoch * config.epochs;
  const { backbone, head } = buildArchitecture(config, dataset.sampleShape, dataset.numClasses);

  let resumed: Checkpoint | undefined;
  if (options.resume || options.start) {
    const from = options.resume ?? 'the start checkpoint';
    resumed = options.resume ? await loadResumable(options.resume) : options.start;
    if (!resumed) throw new Error('train: unreachable: no checkpoint to resume');
    const diffs = sameConfig(resumed.config, config);
    if (diffs.length) {
      throw new Error(`train: cannot resume ${from}: its config differs in ${diffs.join(', ')}`);
    }
    if (
      resumed.meta.numClasses !== dataset.numClasses ||
      resumed.meta.sampleShape.join(',') !== dataset.sampleShape.join(',')
    ) {
      throw new Error(
        `train: cannot resume ${from}: it was trained on ${resumed.meta.numClasses} classes of ` +
          `[${resumed.meta.sampleShape.join(',')}], the dataset has ${dataset.numClasses} of [${dataset.sampleShape.join(',')}]`,
      );
    }
  }

  const folder = outDir ? await lockRunFolder(outDir) : undefined;
  let metrics: MetricsLog | undefined;
  try {
    if (outDir && !options.resume) await guardEarlierRun(outDir, options.overwrite);
    const fresh = (): TrainState => {
      const init = initialTensors(backbone, head, seed);
      return { ...init, state: initOptimizerState(config.optimizer, init.params) };
    };
    const state: TrainState = resumed
      ? { params: resumed.params, state: resumed.state, buffers: resumed.buffers }
      : fresh();
    const model: Model = {
      config,
      sampleShape: [...dataset.sampleShape],
      numClasses: dataset.numClasses,
      classNames: [...dataset.classNames],
      embeddingDim: config.backbone.embeddingDim,
      backbone,
      head,
      params: state.params,
      buffers: state.buffers,
    };

    const runtime: RuntimeOptions = {
      ...options.runtime,
      threads: options.threads ?? options.runtime?.threads,
    };
    const stepProgram = await compileStep(
      {
        backbone,
        head,
        optimizer: config.optimizer,
        batch: batchSize,
        sampleShape: dataset.sampleShape,
        sampleRate: config.sampleRate,
      },
      runtime,
    );
    let evalProgram: EvalProgram | undefined;

    let step = resumed?.meta.step ?? 0;
    let epoch = resumed?.meta.epoch ?? 0;
    let skip = resumed?.meta.batchInEpoch ?? 0;
    let lastLoss = resumed?.meta.lastLoss;
    // A resumed run starts from a good checkpoint: the one it was resumed from.
    let lastCheckpoint = options.resume;
    let lastSavedStep = resumed?.meta.step;
    let lastSaveTime = performance.now();
    const ckptPath = outDir ? join(outDir, CHECKPOINT_FILE) : undefined;

    if (outDir) {
      const mpath = join(outDir, METRICS_FILE);
      if (resumed) await trimMetrics(mpath, step);
      metrics = await openMetricsLog(mpath, resumed !== undefined, () =>
        lastCheckpoint
          ? `The last checkpoint (step ${lastSavedStep ?? '?'}) is intact at ${lastCheckpoint}`
          : 'No checkpoint was written yet',
      );
    }
    const log = async (obj: Record<string, unknown>): Promise<void> => {
      await metrics?.write(obj);
    };

    const save = async (ep: number, batchInEpoch: number, reason: CheckpointReason): Promise<void> => {
      if (!ckptPath) return;
      // A step whose loss was finite can still leave non-finite values behind (its update); such a
      // state must never replace the last good checkpoint.
      const bad =
        state.params.firstNonFinite() ?? state.buffers.firstNonFinite() ?? state.state.firstNonFinite();
      if (bad) {
        const lr = learningRate(config.schedule, step - 1, totalSteps);
        await log({ type: 'diverged', step, epoch: ep, tensor: bad, lr });
        throw new TrainingDivergedError(
          step,
          ep,
          `the update left non-finite values in '${bad}'`,
          lr,
          lastCheckpoint,
          lastSavedStep,
        );
      }
      const done = batchInEpoch >= stepsPerEpoch;
      await saveCheckpoint(ckptPath, {
        config,
        meta: {
          step,
          epoch: done ? ep + 1 : ep,
          batchInEpoch: done ? 0 : batchInEpoch,
          sampleShape: [...dataset.sampleShape],
          numClasses: dataset.numClasses,
          classNames: [...dataset.classNames],
          lastLoss,
          savedAt: new Date().toISOString(),
        },
        ...state,
      });
      lastCheckpoint = ckptPath;
      lastSavedStep = step;
      lastSaveTime = performance.now();
      await log({ type: 'checkpoint', step, reason });
      await options.onCheckpoint?.({ path: ckptPath, step, reason });
    };

    const history: StepRecord[] = [];
    const epochs: EpochRecord[] = [];
    let stopped: TrainResult['stopped'] = 'finished';
    const every = options.checkpointEvery ?? 0;
    const seconds = options.checkpointSeconds ?? 600;

    await options.onStart?.({
      totalSteps,
      startStep: step,
      stepsPerEpoch,
      epochs: config.epochs,
      classesPerStep: stepProgram.classesPerStep,
      classes,
      removedTmp: folder?.removedTmp ?? [],
      staleLockPid: folder?.staleLockPid,
    });

    outer: for (; epoch < config.epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let correctSum = 0;
      let seen = 0;
      let b = 0;
      const batches = dataset.batches({
        batchSize,
        seed,
        epoch,
        shuffle: true,
        augment: config.augment ?? false,
        dropLast: true,
      });
      for await (const batch of batches) {
        // A finished epoch goes on to its validation and record even when aborted meanwhile.
        if (b >= stepsPerEpoch) break;
        if (options.signal?.aborted) {
          // Aborted before this call's first step or during a validation: b batches of this epoch
          // are done (the skipped ones of a resumed run included).
          if (lastSavedStep !== step || !lastCheckpoint) await save(epoch, Math.max(b, skip), 'interrupt');
          stopped = 'interrupted';
          break outer;
        }
        b++;
        if (b <= skip) continue;
        validateLabels(batch.labels, dataset.numClasses, batchSize);
        const lr = learningRate(config.schedule, step, totalSteps);
        const t0 = performance.now();
        const r = await stepProgram.run(state, {
          x: batch.x,
          labels: batch.labels,
          lr,
          t: step + 1,
          seed: stepSeed(seed, step),
        });
        if (!Number.isFinite(r.loss)) {
          await log({ type: 'diverged', step: step + 1, epoch, loss: String(r.loss), lr });
          throw new TrainingDivergedError(
            step + 1,
            epoch,
            `the loss is ${r.loss}`,
            lr,
            lastCheckpoint,
            lastSavedStep,
          );
        }
        const ms = performance.now() - t0;
        step++;
        lastLoss = r.loss;
        const rows = batch.count;
        const rec: StepRecord = {
          step,
          epoch,
          batch: b,
          loss: r.loss,
          accuracy: r.correct / rows,
          lr,
          imagesPerSec: (rows * 1000) / ms,
        };
        history.push(rec);
        lossSum += r.loss;
        correctSum += r.correct;
        seen += rows;
        await log({ type: 'step', ...rec });
        await options.onStep?.(rec);
        if (options.stopAfterSteps !== undefined && step >= options.stopAfterSteps) {
          await save(epoch, b, 'stop');
          stopped = 'stopAfterSteps';
          break outer;
        }
        if (options.signal?.aborted) {
          await save(epoch, b, 'interrupt');
          stopped = 'interrupted';
          break outer;
        }
        if (b === stepsPerEpoch) await save(epoch, b, 'epoch');
        else if (every > 0 && step % every === 0) await save(epoch, b, 'steps');
        else if (seconds > 0 && performance.now() - lastSaveTime >= seconds * 1000)
          await save(epoch, b, 'time');
      }
      skip = 0;
      let valAccuracy: number | undefined;
      if (options.validation) {
        evalProgram ??= await compileEval(model, Math.min(256, options.validation.size), runtime);
        valAccuracy = (await embedDataset(model, options.validation, { program: evalProgram })).accuracy;
      }
      const rec: EpochRecord = {
        epoch,
        step,
        loss: seen ? lossSum / (seen / batchSize) : NaN,
        accuracy: seen ? correctSum / seen : NaN,
        valAccuracy,
        seconds: (performance.now() - epochStart) / 1000,
      };
      epochs.push(rec);
      await log({ type: 'epoch', ...rec });
      await options.onEpoch?.(rec, model);
    }
    if (stopped === 'finished' && lastSavedStep !== step) await save(config.epochs, 0, 'end');
    return { model, steps: step, history, epochs, checkpoint: lastCheckpoint, stopped };
  } finally {
    await metrics?.close();
    await folder?.release();
  }
}

/**
 * Continue a run from its checkpoint file with the checkpoint's own configuration.
 * @param epochs train until this many epochs (default: the checkpoint's)
 */
export async function resumeTraining(
  dataset: Dataset,
  checkpoint: string,
  options: Omit<TrainOptions, 'resume'> & { epochs?: number } = {},
): Promise<TrainResult> {
  const ck = await loadCheckpoint(checkpoint);
  const config = options.epochs ? { ...ck.config, epochs: options.epochs } : ck.config;
  return train(dataset, config, { ...options, resume: checkpoint });
}
