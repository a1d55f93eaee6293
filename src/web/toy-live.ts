/**
 * The paper's toy experiment as the web page runs it: MNIST digits from any pixel source, softmax then
 * ArcFace with `arcface toy`'s defaults (TOY_DEFAULTS, LeNet++), the figure redrawn after every epoch.
 * It needs no Node: the page runs it on onnxruntime-web, and test/web runs the same function on
 * onnxruntime-node to compare the numbers.
 */
import { mnistSplit } from '../data/mnist.js';
import { embedDataset, type Model } from '../train/index.js';
import {
  CORE_COVERAGE,
  type MethodOutcome,
  type ToyMethod,
  type ToyTraining,
  type TrainingProgress,
  trainArcface,
  trainSoftmax,
} from '../toy/experiment.js';
import { type FigureColumn, toyFigureSvg } from '../toy/figure.js';
import { angularLayout } from '../toy/metrics.js';
import { type MethodReport, methodLabel, methodReport } from '../toy/report.js';
import { TOY_DEFAULTS, backboneSpec } from '../toy/run.js';

/** What the page lets a visitor choose; everything else is `arcface toy`'s default. */
export interface ToyLiveOptions {
  /** Pixels of one MNIST digit, [images * 784] values in [0, 1] (see mnist-pack.ts). */
  readonly source: (digit: number) => ArrayLike<number>;
  /** Epochs per method (default TOY_DEFAULTS.epochs, 30); ArcFace's first min(5, epochs - 1) train softmax. */
  readonly epochs?: number;
  /** Images per digit kept before the 80 / 20 split (default: all the package ships, about 1,000). */
  readonly perClass?: number;
  /** Seed of the split, the initialisation and the batch order (default 0). */
  readonly seed?: number;
  /** ONNX Runtime threads (Node: default all cores; the page sets onnxruntime-web's own). */
  readonly threads?: number;
  /**
   * Every training step and epoch (for a progress display). Training waits for a returned promise:
   * the page yields to the browser there, so it can paint while training runs on the main thread.
   */
  readonly onProgress?: (p: TrainingProgress) => void | Promise<void>;
  /**
   * After every epoch of either method: the figure (an SVG document, `toyFigureSvg`'s) with the
   * held-out features of the model as it stands, one column per method trained so far.
   */
  readonly onFigure?: (
    svg: string,
    epoch: { method: ToyMethod; epoch: number; epochs: number },
  ) => void | Promise<void>;
}

/** The outcome: each method's report, as `arcface toy` writes it to report.json, and the last figure. */
export interface ToyLiveResult {
  readonly trainSize: number;
  readonly heldOutSize: number;
  readonly softmax: MethodReport;
  readonly arcface: MethodReport;
  readonly figureSvg: string;
}

const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7];

/** Train softmax then ArcFace on MNIST 0-7 in 2-D and measure both on the held-out digits. */
export async function runToyLive(opts: ToyLiveOptions): Promise<ToyLiveResult> {
  const d = TOY_DEFAULTS;
  const seed = opts.seed ?? d.seed;
  const { train, heldOut } = mnistSplit({
    classes: DIGITS,
    perClass: opts.perClass,
    heldOutFraction: d.heldOutFraction,
    seed,
    source: opts.source,
  });
  const names = train.classNames;
  const columns = new Map<ToyMethod, FigureColumn>();
  let figureSvg = '';
  const draw = (): string => {
    figureSvg = toyFigureSvg(
      (['softmax', 'arcface'] as const).flatMap((m) => columns.get(m) ?? []),
      names,
      'MNIST 0-7, 2-D features: held-out digits',
    );
    return figureSvg;
  };
  const training: ToyTraining = {
    backbone: backboneSpec('lenet++'),
    epochs: opts.epochs ?? d.epochs,
    warmupEpochs: d.warmupEpochs,
    // The same choices run.ts makes for MNIST on lenet++ (CNN warm-up without bias, its own ArcFace lr).
    warmupBias: d.cnnWarmupBias,
    batchSize: Math.min(d.batchSize, train.size),
    optimizer: d.optimizer,
    lr: d.lr,
    arcfaceLr: d.lenetArcfaceLr,
    weightDecay: d.weightDecay,
    scale: d.scale,
    margin: d.margin,
    seed,
    augment: true,
    threads: opts.threads,
    // Training waits for each epoch's drawing, so it shows the model as that epoch left it.
    onProgress: async (p) => {
      await opts.onProgress?.(p);
      if (p.kind !== 'epoch' || !opts.onFigure) return;
      columns.set(p.method, await column(p.model, p.method, p.epoch, p.epochs));
      await opts.onFigure(draw(), { method: p.method, epoch: p.epoch, epochs: p.epochs });
    },
  };
  const column = async (
    model: Model,
    method: ToyMethod,
    epoch: number,
    epochs: number,
  ): Promise<FigureColumn> => {
    const e = await embedDataset(model, heldOut, { threads: opts.threads });
    return {
      title: `${methodLabel(method, training)}, epoch ${epoch} of ${epochs}`,
      notes: [`held-out accuracy ${(100 * e.accuracy).toFixed(1)}%`],
      features: e.embeddings,
      labels: e.labels,
      weights: model.params.get('head.weight').data.slice(),
      layout: angularLayout(e.embeddings, e.labels, model.numClasses, 1),
    };
  };
  const softmax = await trainSoftmax(train, heldOut, training);
  const arcface = await trainArcface(train, heldOut, training);
  const final = (method: ToyMethod, o: MethodOutcome): FigureColumn => ({
    title: methodLabel(method, training),
    notes: [
      `held-out accuracy ${(100 * o.heldOutAccuracy).toFixed(1)}%`,
      `mean spread ${(o.spreads.reduce((a, s) => a + s.meanDeg, 0) / o.spreads.length).toFixed(1)} deg`,
    ],
    features: o.features,
    labels: o.labels,
    weights: o.weights,
    layout: o.layout,
  });
  columns.set('softmax', final('softmax', softmax));
  columns.set('arcface', final('arcface', arcface));
  draw();
  return {
    trainSize: train.size,
    heldOutSize: heldOut.size,
    softmax: methodReport('softmax', softmax, names, training, CORE_COVERAGE),
    arcface: methodReport('arcface', arcface, names, training, CORE_COVERAGE),
    figureSvg,
  };
}
