/**
 * The paper's toy experiment: the same network with a 2-D embedding trained twice on the same
 * classes and split, once with a plain softmax classifier (FC with bias) and once with ArcFace, then
 * both measured on held-out data with the angular metrics of metrics.ts.
 */
import type { Dataset } from '../data/dataset.js';
import { type HeadConfig, presets } from '../heads/index.js';
import type { BackboneSpec } from '../nn/index.js';
import {
  type EpochRecord,
  type Model,
  type StepRecord,
  type TrainConfig,
  type TrainOptions,
  embedDataset,
  train as trainModel,
} from '../train/index.js';
import { type AngularLayout, angularLayout, classSpreads } from './metrics.js';
import { marginStart, trainFrom } from './warm-start.js';

/** How both runs train. */
export interface ToyTraining {
  readonly backbone: BackboneSpec;
  /** Epochs per method. ArcFace's first `warmupEpochs` of them train with softmax. */
  readonly epochs: number;
  /**
   * Softmax epochs that start the ArcFace run (its class centres are then initialised to the
   * directions of the class means). 2-D normalised features cannot pass each other on the circle,
   * so from random centres ArcFace often traps two classes in one sector; the warm-up orders them.
   */
  readonly warmupEpochs: number;
  /**
   * Whether the warm-up's softmax has a bias. Without one its decision regions are sectors around
   * the origin, so the classes it orders are already apart by angle when ArcFace takes over; with
   * one, a CNN may separate classes by radius instead (one class at the centre), which ArcFace's
   * normalised features cannot undo.
   */
  readonly warmupBias: boolean;
  readonly batchSize: number;
  /** SGD with momentum 0.9, or AdamW; both with a cosine decay after a one-epoch warm-up. */
  readonly optimizer: 'sgd' | 'adamw';
  /** Peak learning rate of runs from scratch (softmax, and ArcFace's softmax warm-up). */
  readonly lr: number;
  /**
   * Peak learning rate of the ArcFace epochs that follow the softmax warm-up. Lower than `lr`: the
   * margin loss of a freshly warmed-up model is large, and at full rate its first steps can fold
   * the class centres together.
   */
  readonly arcfaceLr: number;
  /** L2 weight decay (SGD) or decoupled weight decay (AdamW). */
  readonly weightDecay: number;
  /**
   * ArcFace scale s and additive angular margin m (radians). In 2-D keep s small (the toy uses 8):
   * the normalised feature's gradient is s / |f| and features near the origin are common, so a
   * large s puts plain SGD past its stability limit (see TOY_DEFAULTS in run.ts).
   */
  readonly scale: number;
  readonly margin: number;
  readonly seed: number;
  readonly augment: boolean;
  /** ONNX Runtime threads (default: all cores). */
  readonly threads?: number;
  /**
   * Called after every training step and every epoch (for a progress display; not recorded). Training
   * waits for a returned promise (the web page embeds the held-out digits after each epoch).
   */
  readonly onProgress?: (p: TrainingProgress) => void | Promise<void>;
}

/** The two ways the toy trains the same network. */
export type ToyMethod = 'softmax' | 'arcface';

/**
 * Where one method's training stands. Steps and epochs count over the method's whole run, so
 * ArcFace's softmax warm-up and margin epochs form one sequence of `totalSteps` steps.
 */
export type TrainingProgress =
  | {
      readonly kind: 'step';
      readonly method: ToyMethod;
      /** The loss that trains this step (ArcFace's warm-up epochs train with softmax). */
      readonly phase: ToyMethod;
      /** 1-based step of `totalSteps`. */
      readonly step: number;
      readonly totalSteps: number;
      /** 1-based epoch of `epochs`. */
      readonly epoch: number;
      readonly epochs: number;
      readonly loss: number;
      /** Share of the batch classified correctly before the step's update. */
      readonly accuracy: number;
    }
  | {
      readonly kind: 'epoch';
      readonly method: ToyMethod;
      /** 1-based epoch just finished, of `epochs`. */
      readonly epoch: number;
      readonly epochs: number;
      readonly heldOutAccuracy: number;
      /**
       * The model as the epoch left it (values change as training goes on: embed now, do not
       * mutate). The web page embeds the held-out digits with it to redraw the figure every epoch.
       */
      readonly model: Model;
    };

/** One training epoch as drawn in the curves. */
export interface CurvePoint {
  /** 1-based epoch within the method's run (warm-up epochs first). */
  readonly epoch: number;
  /** Which loss trained this epoch. */
  readonly phase: 'softmax' | 'arcface';
  /** Mean training loss of the epoch. */
  readonly loss: number;
  /** Training accuracy during the epoch (before each step's update). */
  readonly trainAccuracy: number;
  /** Held-out accuracy after the epoch. */
  readonly heldOutAccuracy: number;
}

/** The held-out outcome of one method. */
export interface MethodOutcome {
  readonly head: HeadConfig;
  readonly heldOutAccuracy: number;
  /** Held-out 2-D features [n, 2], dataset order. */
  readonly features: Float32Array;
  readonly labels: Int32Array;
  /** Class weight vectors [C, 2]. */
  readonly weights: Float32Array;
  /** Per-class spread (degrees). */
  readonly spreads: { count: number; meanDeg: number; maxDeg: number }[];
  /** Extents and gaps with every held-out feature. */
  readonly layout: AngularLayout;
  /** Extents and gaps of each class's `coverage` share of features nearest its centre. */
  readonly coreLayout: AngularLayout;
  readonly curves: CurvePoint[];
  readonly model: Model;
}

const curvePoint = (phase: CurvePoint['phase'], offset: number) => (r: EpochRecord) => ({
  epoch: offset + r.epoch + 1,
  phase,
  loss: r.loss,
  trainAccuracy: r.accuracy,
  heldOutAccuracy: r.valAccuracy ?? Number.NaN,
});

/** @param warmupSteps steps of linear learning-rate warm-up at the start of the run */
function trainConfig(
  t: ToyTraining,
  head: HeadConfig,
  epochs: number,
  warmupSteps: number,
  lr = t.lr,
): TrainConfig {
  return {
    backbone: t.backbone,
    head,
    optimizer:
      t.optimizer === 'adamw'
        ? { kind: 'adamw', weightDecay: t.weightDecay }
        : { kind: 'sgd', momentum: 0.9, weightDecay: t.weightDecay },
    schedule: { kind: 'cosine', lr, warmupSteps },
    epochs,
    batchSize: t.batchSize,
    seed: t.seed,
    augment: t.augment,
  };
}

/** Train with the plain softmax classifier (FC with bias). */
export async function trainSoftmax(
  trainSet: Dataset,
  heldOut: Dataset,
  t: ToyTraining,
): Promise<MethodOutcome> {
  const config = trainConfig(t, presets.softmax(), t.epochs, stepsPerEpoch(trainSet, t));
  const r = await trainModel(trainSet, config, trainOptions(t, heldOut, 'softmax', 'softmax', 0, trainSet));
  return measure(r.model, heldOut, r.epochs.map(curvePoint('softmax', 0)));
}

/** Train with ArcFace, after `warmupEpochs` of softmax when asked. */
export async function trainArcface(
  trainSet: Dataset,
  heldOut: Dataset,
  t: ToyTraining,
): Promise<MethodOutcome> {
  const head = presets.arcface({ s: t.scale, m2: t.margin });
  const warm = Math.min(t.warmupEpochs, t.epochs - 1);
  if (warm <= 0) {
    const opts = trainOptions(t, heldOut, 'arcface', 'arcface', 0, trainSet);
    const r = await trainModel(trainSet, trainConfig(t, head, t.epochs, stepsPerEpoch(trainSet, t)), opts);
    return measure(r.model, heldOut, r.epochs.map(curvePoint('arcface', 0)));
  }
  const w = await trainModel(
    trainSet,
    trainConfig(t, presets.softmax({ bias: t.warmupBias }), warm, stepsPerEpoch(trainSet, t)),
    trainOptions(t, heldOut, 'arcface', 'softmax', 0, trainSet),
  );
  const dim = t.backbone.embeddingDim;
  const seen = await embedDataset(w.model, trainSet, { threads: t.threads });
  const spreads = classSpreads(seen.embeddings, seen.labels, dim, trainSet.numClasses);
  const centres = Float32Array.from(
    spreads.flatMap((c) => c.centre.map((v) => (Number.isFinite(v) ? v : 0))),
  );
  const start = marginStart(w.model, centres, trainSet.numClasses, dim);
  const config = trainConfig(t, head, t.epochs - warm, stepsPerEpoch(trainSet, t), t.arcfaceLr);
  const r = await trainFrom(
    trainSet,
    config,
    start,
    trainOptions(t, heldOut, 'arcface', 'arcface', warm, trainSet),
  );
  const curves = [...w.epochs.map(curvePoint('softmax', 0)), ...r.epochs.map(curvePoint('arcface', warm))];
  return measure(r.model, heldOut, curves);
}

const stepsPerEpoch = (ds: Dataset, t: ToyTraining): number => Math.floor(ds.size / t.batchSize);

/**
 * Trainer options of one training call within a method's run: no trainer progress bar (the caller
 * draws its own from `onProgress`), steps and epochs shifted by the `epochOffset` epochs before it.
 */
function trainOptions(
  t: ToyTraining,
  heldOut: Dataset,
  method: ToyMethod,
  phase: ToyMethod,
  epochOffset: number,
  trainSet: Dataset,
): Omit<TrainOptions, 'resume' | 'start'> {
  const report = t.onProgress;
  const spe = stepsPerEpoch(trainSet, t);
  const base = { validation: heldOut, quiet: true, threads: t.threads };
  if (!report) return base;
  return {
    ...base,
    onStep: (r: StepRecord) =>
      report({
        kind: 'step',
        method,
        phase,
        step: epochOffset * spe + r.step,
        totalSteps: t.epochs * spe,
        epoch: epochOffset + r.epoch + 1,
        epochs: t.epochs,
        loss: r.loss,
        accuracy: r.accuracy,
      }),
    onEpoch: (r: EpochRecord, model: Model) =>
      report({
        kind: 'epoch',
        method,
        epoch: epochOffset + r.epoch + 1,
        epochs: t.epochs,
        heldOutAccuracy: r.valAccuracy ?? Number.NaN,
        model,
      }),
  };
}

/** Share of each class's held-out features, nearest its centre, that the core gap covers. */
export const CORE_COVERAGE = 0.9;

async function measure(model: Model, heldOut: Dataset, curves: CurvePoint[]): Promise<MethodOutcome> {
  const e = await embedDataset(model, heldOut);
  if (e.dim !== 2) throw new Error(`toy: the embedding must be 2-D, got ${e.dim}-D`);
  const c = model.numClasses;
  return {
    head: model.config.head,
    heldOutAccuracy: e.accuracy,
    features: e.embeddings,
    labels: e.labels,
    weights: model.params.get('head.weight').data.slice(),
    spreads: classSpreads(e.embeddings, e.labels, 2, c).map(({ count, meanDeg, maxDeg }) => ({
      count,
      meanDeg,
      maxDeg,
    })),
    layout: angularLayout(e.embeddings, e.labels, c, 1),
    coreLayout: angularLayout(e.embeddings, e.labels, c, CORE_COVERAGE),
    curves,
    model,
  };
}
