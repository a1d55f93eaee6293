/**
 * The trainer: epochs over a Dataset, one step graph run per batch, progress bar, JSON-lines
 * metrics, atomic checkpoints, exact resume, and a clear stop on a non-finite loss.
 *
 * Public entry point (signature kept stable):
 *
 *   train(dataset: Dataset, config: TrainConfig, options?: TrainOptions): Promise<TrainResult>
 *
 * Exact resume: the batch order is a pure function of (seed, epoch), the dropout seed of a step is a
 * function of (seed, step), and a checkpoint holds every tensor a step reads, so a run resumed from
 * step k replays steps k+1, k+2, ... exactly as the uninterrupted run did.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import type { RuntimeOptions } from '../engine/index.js';
import { validateLabels } from '../heads/index.js';
import { progress } from '../util/progress.js';
import { writeFileAtomic } from '../util/fs.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
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

export interface TrainOptions {
  /** Directory for `last.ckpt` and `metrics.jsonl`; none = nothing written to disk. */
  readonly outDir?: string;
  /** Write a checkpoint every N steps (default 0: only at the end; needs outDir). */
  readonly checkpointEvery?: number;
  /**
   * Continue from this checkpoint file. Its config must equal `config` (epochs may grow); the run
   * continues with the same batches in the same order.
   */
  readonly resume?: string;
  /** Stop (with a checkpoint) after this global step, as if interrupted. */
  readonly stopAfterSteps?: number;
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
  /** No progress bar. */
  readonly quiet?: boolean;
  /** Called after every step. */
  readonly onStep?: (r: StepRecord) => void | Promise<void>;
  /** Called after every epoch with the model's current values (do not mutate them). */
  readonly onEpoch?: (r: EpochRecord, model: Model) => void | Promise<void>;
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
  /** Why training ended. */
  readonly stopped: 'finished' | 'stopAfterSteps';
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

/** Keep only the metrics lines up to `step`: a resumed run rewrites what came after its checkpoint. */
async function trimMetrics(path: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return;
  }
  // A crash can leave a half-written last line: it is dropped with everything after the checkpoint.
  const keep = (line: string): boolean => {
    try {
      return (JSON.parse(line) as { step?: number }).step! <= step;
    } catch {
      return false;
    }
  };
  const kept = text
    .split('\n')
    .filter((l) => l.trim() && keep(l))
    .map((l) => `${l}\n`)
    .join('');
  await writeFileAtomic(path, kept);
}

/**
 * Train a backbone and head on a dataset.
 * @param dataset training set; samples [sampleShape], labels 0..numClasses-1
 * @param config architecture, head, optimizer, schedule, epochs, batch size, seed
 * @returns the model and the run's records; throws TrainingDivergedError on a NaN/Inf loss
 */
export async function train(
  dataset: Dataset,
  config: TrainConfig,
  options: TrainOptions = {},
): Promise<TrainResult> {
  checkConfig(config);
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
  if (options.resume) {
    resumed = await loadCheckpoint(options.resume);
    const diffs = sameConfig(resumed.config, config);
    if (diffs.length) {
      throw new Error(`train: cannot resume ${options.resume}: its config differs in ${diffs.join(', ')}`);
    }
    if (
      resumed.meta.numClasses !== dataset.numClasses ||
      resumed.meta.sampleShape.join(',') !== dataset.sampleShape.join(',')
    ) {
      throw new Error(
        `train: cannot resume ${options.resume}: it was trained on ${resumed.meta.numClasses} classes of ` +
          `[${resumed.meta.sampleShape.join(',')}], the dataset has ${dataset.numClasses} of [${dataset.sampleShape.join(',')}]`,
      );
    }
  }
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
    { backbone, head, optimizer: config.optimizer, batch: batchSize, sampleShape: dataset.sampleShape },
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
  const ckptPath = outDir ? join(outDir, CHECKPOINT_FILE) : undefined;

  let metrics: WriteStream | undefined;
  if (outDir) {
    await mkdir(outDir, { recursive: true });
    const mpath = join(outDir, METRICS_FILE);
    if (resumed) await trimMetrics(mpath, step);
    metrics = createWriteStream(mpath, { flags: resumed ? 'a' : 'w' });
  }
  const log = (obj: Record<string, unknown>): void => {
    metrics?.write(`${JSON.stringify(obj)}\n`);
  };

  const save = async (ep: number, batchInEpoch: number): Promise<void> => {
    if (!ckptPath) return;
    // A step whose loss was finite can still leave non-finite values behind (its update); such a
    // state must never replace the last good checkpoint.
    const bad = state.params.firstNonFinite() ?? state.buffers.firstNonFinite();
    if (bad) {
      const lr = learningRate(config.schedule, step - 1, totalSteps);
      log({ type: 'diverged', step, epoch: ep, tensor: bad, lr });
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
  };

  const history: StepRecord[] = [];
  const epochs: EpochRecord[] = [];
  const bar = progress('train', totalSteps, {
    quiet: options.quiet,
    fields: ['epoch', 'loss', 'acc', 'lr', 'speed'],
  });
  bar.update(step);
  let stopped: TrainResult['stopped'] = 'finished';
  let speed = 0;

  try {
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
        if (b >= stepsPerEpoch) break;
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
          log({ type: 'diverged', step: step + 1, epoch, loss: String(r.loss), lr });
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
        speed = speed ? 0.9 * speed + 0.1 * rec.imagesPerSec : rec.imagesPerSec;
        history.push(rec);
        lossSum += r.loss;
        correctSum += r.correct;
        seen += rows;
        log({ type: 'step', ...rec });
        bar.update(step, {
          epoch: `${epoch + 1}/${config.epochs}`,
          loss: r.loss.toFixed(4),
          acc: rec.accuracy.toFixed(3),
          lr: lr.toPrecision(3),
          speed: `${speed.toFixed(0)} img/s`,
        });
        await options.onStep?.(rec);
        const every = options.checkpointEvery ?? 0;
        if (every > 0 && step % every === 0) await save(epoch, b);
        if (options.stopAfterSteps !== undefined && step >= options.stopAfterSteps) {
          await save(epoch, b);
          stopped = 'stopAfterSteps';
          break outer;
        }
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
      log({ type: 'epoch', ...rec });
      await options.onEpoch?.(rec, model);
    }
    if (stopped === 'finished') await save(config.epochs, 0);
  } finally {
    bar.stop();
    await new Promise<void>((resolve) => (metrics ? metrics.end(resolve) : resolve()));
  }
  return { model, steps: step, history, epochs, checkpoint: lastCheckpoint, stopped };
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
