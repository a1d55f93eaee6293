/** `arcface toy` as a function: load the data, train softmax and ArcFace, write the report folder. */
import { resolve } from 'node:path';
import { DEFAULT_RECOGNIZER } from '../face/index.js';
import type { BackboneSpec } from '../nn/index.js';
import { type DataProgress, type ToyDataSpec, loadToyData } from './data.js';
import {
  CORE_COVERAGE,
  type ToyMethod,
  type ToyTraining,
  type TrainingProgress,
  trainArcface,
  trainSoftmax,
} from './experiment.js';
import { type ToyReport, DEFINITIONS, methodReport, writeToyReport } from './report.js';
import { checkOutputPath } from '../util/fs.js';

/**
 * Backbones the toy can train to 2-D: a slim LeNet++ (MNIST), the small CNN (--data images), an MLP
 * (--features), or a linear map.
 */
export const TOY_BACKBONES = ['lenet++', 'small-cnn', 'mlp', 'linear'] as const;
export type ToyBackbone = (typeof TOY_BACKBONES)[number];

export interface ToyOptions {
  /** Identity-per-folder images instead of MNIST digits 0-7. */
  readonly data?: string;
  /**
   * Train a 2-D projection of frozen face embeddings of the --data images from this recogniser spec
   * (any the face pipeline parses, e.g. onnx:PATH or faceapi:resnet34); `true` = the face
   * pipeline's default recogniser.
   */
  readonly features?: string | true;
  /** Face detector spec for --features (default: the face pipeline's). */
  readonly detector?: string;
  /** Default: lenet++ for MNIST, small-cnn for --data images, mlp for --features. */
  readonly backbone?: ToyBackbone;
  /** Epochs per method (default 20; 30 with --features). */
  readonly epochs?: number;
  readonly warmupEpochs?: number;
  /** Give ArcFace's softmax warm-up a bias (default: not for lenet++ and small-cnn; see ToyTraining.warmupBias). */
  readonly warmupBias?: boolean;
  readonly seed?: number;
  readonly scale?: number;
  readonly margin?: number;
  readonly lr?: number;
  /** Learning rate of ArcFace's epochs after the softmax warm-up (default 0.005; 0.01 with --features). */
  readonly arcfaceLr?: number;
  readonly batchSize?: number;
  readonly weightDecay?: number;
  readonly optimizer?: 'sgd' | 'adamw';
  /** MNIST: train on randomly shifted digits (default: with the small CNN only). */
  readonly augment?: boolean;
  /** Keep at most this many samples per class. */
  readonly perClass?: number;
  readonly heldOutFraction?: number;
  /** Side of --data images in pixels (default 64). */
  readonly imageSize?: number;
  /** Centre crop of --data images before resizing, share of the short side (default 0.5: LFW's face). */
  readonly crop?: number;
  /** Report folder (default ./reports/toy-<timestamp>). */
  readonly out?: string;
  readonly threads?: number;
  /** Called as the run advances (for a progress display; the library itself prints nothing). */
  readonly onProgress?: (p: ToyProgress) => void;
}

/**
 * What `runToy` reports while it works, in order: `data` while a folder is decoded or faces are
 * embedded, `loaded` once, then per method one `method` followed by its `step` and `epoch` events.
 */
export type ToyProgress =
  | ({ readonly kind: 'data' } & DataProgress)
  | {
      readonly kind: 'loaded';
      readonly description: string;
      readonly trainSize: number;
      readonly heldOutSize: number;
    }
  | {
      readonly kind: 'method';
      readonly method: ToyMethod;
      /** One line saying what trains, e.g. "ArcFace (s = 8, m = 0.3), 30 epochs, ...". */
      readonly title: string;
      readonly totalSteps: number;
    }
  | TrainingProgress;

/**
 * Defaults, chosen by measurement on MNIST 0-7.
 *
 * Backbone, epochs, warm-up (seed 0, 20 epochs, 5 of them ArcFace's softmax warm-up; held-out
 * accuracy / 90%-core gap): the MLP gave softmax 96.0% and ArcFace 95.4% / +10.7 degrees (30
 * epochs). The small CNN reached 97.2% with softmax, but its ArcFace fell to 88.8% / -38.9 after a
 * warm-up softmax *with* bias: a CNN separates some classes by radius (core gap -140 degrees), and
 * normalised features cannot undo that. A bias-free warm-up (sectors around the origin) lifted it
 * to 94.4% / -5.3 (ArcFace rate 0.005) and 95.3% / +2.8 (0.02). The slim LeNet++ (TOY_LENET)
 * gave softmax 97.7% and ArcFace 96.8% / +10.7 at rate 0.005, so it is the MNIST default, with
 * the ArcFace rate 0.02 the small CNN preferred: seeds 0, 1, 2 gave ArcFace 97.6 / 96.8 / 95.6%
 * with core gaps +16.5 / +12.2 / +9.5 degrees (softmax 97.7 / 97.5 / 96.2%). 20 epochs, not 30,
 * for `npm start`'s time on 2 cores; over the last five epochs the held-out accuracy moved
 * within 0.3 points (ArcFace seed 2: 1.0).
 *
 * Why s = 8 (measured with the MLP) and not 16: ArcFace normalises the 2-D feature f, so the gradient reaching the network
 * is (s / |f|) times a unit-size term and the loss curvature grows as s^2 / |f|^2. After the
 * softmax warm-up many 2-D features lie near the origin (|f| down to ~0.02 where the median is
 * ~10), so at s = 16 plain SGD sat at the edge of stability: the training loss climbed after the
 * hand-over even at an ArcFace rate of 0.0005, and with --epochs 60 (the rate stays high for
 * longer) one climb went on to kill the ReLUs and every feature became the last layer's bias
 * (13.9% accuracy, spread 0). Halving s quarters the curvature: s = 8 trained stably for 60 and
 * 100 epochs, and at 30 epochs it allowed a 2.5x higher ArcFace rate (0.005), which gave 90%-core
 * gaps of +10.7, +14.9, +9.7 degrees on seeds 0, 1, 2 (s = 16 at 0.002: +1.9, +11.9, +12.8).
 * s = 8 with rate 0.01 was unstable again (seed 0: -4.8 degrees); m = 0.5 gave -3.6 on seed 0.
 */
export const TOY_DEFAULTS = {
  epochs: 20,
  warmupEpochs: 5,
  /** CNNs on pixels: none (see above); the MLP and --features keep the bias they were measured with. */
  cnnWarmupBias: false,
  seed: 0,
  /** ArcFace scale s: see above; 16 and more make 2-D training on pixels unstable. */
  scale: 8,
  margin: 0.3,
  optimizer: 'sgd',
  lr: 0.05,
  /** MLP and small CNN on pixels, after the softmax warm-up; 0.01 already folded MLP classes together at s = 8. */
  arcfaceLr: 0.005,
  /** lenet++ (BatchNorm on the 2-D embedding) after the bias-free warm-up; see TOY_LENET. */
  lenetArcfaceLr: 0.02,
  /**
   * With --features, measured on the 8 LFW identities with the most images (faceapi:resnet34
   * embeddings, centred; seeds 0, 1, 2; 90%-core gap, ArcFace against softmax): a linear map left
   * classes overlapping whatever the scale (s = 16: -15.2, -28.9, -13.8 degrees, held-out accuracy
   * 89.6-95.9%), the MLP separated them (s = 16: +17.3, -1.3, +0.4 against softmax's -4.2, -6.6,
   * -3.0; accuracy 96.3-99.3%). Frozen unit-length embeddings do not put features near the origin
   * the way pixels do, so s = 16 trains stably here, and beat s = 8 (+11.2, -1.2, -13.8).
   */
  withFeatures: { backbone: 'mlp', scale: 16, arcfaceLr: 0.01, epochs: 30 },
  batchSize: 64,
  weightDecay: 5e-4,
  heldOutFraction: 0.2,
  imageSize: 64,
  crop: 0.5,
} as const;

/**
 * The toy's LeNet++: the shape of Wen et al.'s (three stages of convolution + PReLU + 2x2 max
 * pooling, FC to 2-D), slimmed so `npm start` trains both methods in minutes on 2 cores.
 */
export const TOY_LENET: BackboneSpec = {
  name: 'lenet++',
  embeddingDim: 2,
  channels: [16, 32, 64],
  convsPerStage: 1,
  kernel: 3,
  batchNorm: true,
};

export interface ToyRun {
  readonly dir: string;
  readonly report: ToyReport;
}

/** The 2-D backbone `arcface toy --backbone NAME` trains (the web page trains the default, lenet++). */
export function backboneSpec(name: ToyBackbone): BackboneSpec {
  switch (name) {
    case 'lenet++':
      return TOY_LENET;
    case 'small-cnn':
      return { name: 'small-cnn', embeddingDim: 2 };
    case 'mlp':
      return { name: 'mlp', embeddingDim: 2, hidden: [256, 64] };
    case 'linear':
      return { name: 'mlp', embeddingDim: 2, hidden: [] };
  }
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
}

/** Run the experiment and write its report; resolves to the folder and the report. */
export async function runToy(opts: ToyOptions = {}): Promise<ToyRun> {
  const o = { ...TOY_DEFAULTS, ...definedOnly(opts) };
  if (opts.features && !opts.data) throw new Error('toy: --features needs --data DIR (the images to embed)');
  // Measured defaults: on the mnist package's ~800 training digits per class the MLP generalises
  // better than the small CNN (and is ~6x faster); face crops need the CNN; embeddings the MLP.
  const backbone =
    opts.backbone ??
    (opts.features ? TOY_DEFAULTS.withFeatures.backbone : opts.data ? 'small-cnn' : 'lenet++');
  const scale = opts.scale ?? (opts.features ? TOY_DEFAULTS.withFeatures.scale : o.scale);
  const epochs = opts.epochs ?? (opts.features ? TOY_DEFAULTS.withFeatures.epochs : o.epochs);
  const cnn = backbone === 'lenet++' || backbone === 'small-cnn';
  const warmupBias = opts.warmupBias ?? (cnn ? TOY_DEFAULTS.cnnWarmupBias : true);
  const spec: ToyDataSpec = opts.features
    ? {
        kind: 'features',
        root: resolve(opts.data ?? ''),
        recognizer: opts.features === true ? DEFAULT_RECOGNIZER : opts.features,
        detector: opts.detector,
        perClass: opts.perClass,
      }
    : opts.data
      ? { kind: 'folder', root: resolve(opts.data), size: o.imageSize, crop: o.crop, perClass: opts.perClass }
      : {
          kind: 'mnist',
          digits: [0, 1, 2, 3, 4, 5, 6, 7],
          perClass: opts.perClass,
          augment: opts.augment ?? cnn,
        };
  const dir = resolve(opts.out ?? `reports/toy-${timestamp()}`);
  await checkOutputPath(dir, 'dir');
  const report = opts.onProgress;
  const data = await loadToyData(spec, o.heldOutFraction, o.seed, (p) => report?.({ kind: 'data', ...p }));
  try {
    const training: ToyTraining = {
      backbone: backboneSpec(backbone),
      epochs,
      warmupEpochs: o.warmupEpochs,
      warmupBias,
      batchSize: Math.min(o.batchSize, data.train.size),
      optimizer: o.optimizer,
      lr: o.lr,
      arcfaceLr:
        opts.arcfaceLr ??
        (opts.features
          ? TOY_DEFAULTS.withFeatures.arcfaceLr
          : backbone === 'lenet++'
            ? TOY_DEFAULTS.lenetArcfaceLr
            : o.arcfaceLr),
      weightDecay: o.weightDecay,
      scale,
      margin: o.margin,
      seed: o.seed,
      augment: data.augment,
      threads: opts.threads,
      onProgress: report,
    };
    const totalSteps = epochs * Math.floor(data.train.size / training.batchSize);
    report?.({
      kind: 'loaded',
      description: data.description,
      trainSize: data.train.size,
      heldOutSize: data.heldOut.size,
    });
    report?.({
      kind: 'method',
      method: 'softmax',
      title: `softmax (FC with bias), ${epochs} epochs`,
      totalSteps,
    });
    const softmax = await trainSoftmax(data.train, data.heldOut, training);
    report?.({
      kind: 'method',
      method: 'arcface',
      title:
        `ArcFace (s = ${scale}, m = ${o.margin}), ${epochs} epochs` +
        (o.warmupEpochs > 0 ? `, the first ${Math.min(o.warmupEpochs, epochs - 1)} with softmax` : ''),
      totalSteps,
    });
    const arcface = await trainArcface(data.train, data.heldOut, training);
    const names = data.classNames;
    const { threads: _threads, onProgress: _onProgress, ...recorded } = training;
    const written = await writeToyReport(
      dir,
      {
        experiment: 'arcface toy: softmax vs ArcFace on 2-D features',
        data: {
          description: data.description,
          classes: names,
          trainSize: data.train.size,
          heldOutSize: data.heldOut.size,
          heldOutFraction: o.heldOutFraction,
          skipped: data.skipped,
        },
        training: recorded,
        definitions: DEFINITIONS,
        methods: {
          softmax: methodReport('softmax', softmax, names, training, CORE_COVERAGE),
          arcface: methodReport('arcface', arcface, names, training, CORE_COVERAGE),
        },
      },
      { softmax, arcface },
    );
    return { dir, report: written };
  } finally {
    await data.close();
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
