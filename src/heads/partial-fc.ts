/**
 * Partial FC (An et al., InsightFace partial_fc): each step the head sees only a fixed-size sample of
 * the class centres: every class present in the batch, then random other classes up to
 * ceil(rate * C). Sampling is done in JS per batch (seeded); the graph gathers the sampled rows of
 * the full W, runs the head on them, and their gradient belongs to those rows only.
 */
import * as E from '../engine/index.js';
import { type HeadOutputs, marginHead } from './margin.js';
import type { HeadConfig } from './presets.js';

/**
 * How many classes a Partial FC graph samples (its static size): ceil(rate * C), at least 1.
 * @param rate fraction of classes in (0, 1]
 */
export function sampledCount(numClasses: number, rate: number): number {
  if (!(rate > 0 && rate <= 1)) throw new Error(`partial FC: rate must be in (0, 1], got ${rate}`);
  // toPrecision drops float noise such as 0.07 * 100 = 7.000000000000001 before the ceiling.
  return Math.max(1, Math.min(numClasses, Math.ceil(Number((rate * numClasses).toPrecision(12)))));
}

/** One step's class sample. */
export interface ClassSample {
  /** int64 [S]: the sampled classes, the batch's classes first (ascending), then random others (ascending). */
  readonly index: BigInt64Array;
  /** int64 [B]: each label's position in `index`; -1 stays -1. */
  readonly remapped: BigInt64Array;
  /** How many of `index` are classes present in the batch. */
  readonly positives: number;
}

/**
 * Sample the classes for one step. Deterministic given the state of `random`.
 * @param labels class per row in [-1, C) (validate with validateLabels first)
 * @param numClasses C
 * @param rate fraction of classes to sample, in (0, 1]
 * @param random uniform numbers in [0, 1), e.g. seededRandom(seed)
 */
export function sampleClasses(
  labels: BigInt64Array | Int32Array | readonly number[],
  numClasses: number,
  rate: number,
  random: () => number,
): ClassSample {
  const size = sampledCount(numClasses, rate);
  const taken = new Uint8Array(numClasses);
  const positives: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const c = Number(labels[i]);
    if (c < 0) continue;
    if (c >= numClasses) throw new Error(`partial FC: label ${c} at row ${i} is not below ${numClasses}`);
    if (!taken[c]) {
      taken[c] = 1;
      positives.push(c);
    }
  }
  if (positives.length > size) {
    throw new Error(
      `partial FC: the batch has ${positives.length} distinct classes but the graph samples only ${size} ` +
        `(rate ${rate} of ${numClasses}); raise the rate or lower the batch size`,
    );
  }
  positives.sort((a, b) => a - b);
  const negatives = sampleOthers(taken, size - positives.length, random);
  const index = new BigInt64Array(size);
  const position = new Map<number, number>();
  positives.forEach((c, i) => {
    index[i] = BigInt(c);
    position.set(c, i);
  });
  negatives.forEach((c, i) => (index[positives.length + i] = BigInt(c)));
  const remapped = new BigInt64Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const c = Number(labels[i]);
    remapped[i] = BigInt(c < 0 ? -1 : position.get(c)!);
  }
  return { index, remapped, positives: positives.length };
}

/** `count` classes not yet taken, uniformly without replacement, ascending (a sequential gather). */
function sampleOthers(taken: Uint8Array, count: number, random: () => number): Int32Array {
  const n = taken.length;
  const out = new Int32Array(count);
  let free = 0;
  for (let c = 0; c < n; c++) if (!taken[c]) free++;
  if (count <= free / 2) {
    // Sparse draw: rejection is cheap while at most half of the free classes get taken.
    for (let i = 0; i < count;) {
      const c = Math.floor(random() * n);
      if (!taken[c]) {
        taken[c] = 1;
        out[i++] = c;
      }
    }
  } else {
    // Dense draw: a partial Fisher-Yates shuffle of the free classes.
    const pool = new Int32Array(free);
    for (let c = 0, j = 0; c < n; c++) if (!taken[c]) pool[j++] = c;
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(random() * (free - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
      out[i] = pool[i];
    }
  }
  return out.sort();
}

/** Symbolic inputs of a Partial FC head. */
export interface PartialFcInputs {
  /** Embeddings [B, D]. */
  readonly x: E.Tensor;
  /** The full class centres [C * k, D]. */
  readonly weight: E.Tensor;
  /** int64 [S]: sampled classes (ClassSample.index). */
  readonly index: E.Tensor;
  /** int64 [B]: labels remapped into the sample (ClassSample.remapped). */
  readonly labels: E.Tensor;
}

/** Outputs of a Partial FC head: the head's, over the S sampled classes, plus the sampled rows. */
export interface PartialFcOutputs extends HeadOutputs {
  /**
   * [S * k, D] the sampled rows of W. Differentiate the loss with respect to this tensor to get the
   * gradient of just those rows (InsightFace's form); differentiate with respect to the full W for
   * a dense gradient that is zero off the sample.
   */
  readonly weightSample: E.Tensor;
}

/**
 * The margin head over a sample of the classes.
 * @param config margin config (a softmax config would need the bias sampled too, so it is refused)
 */
export function partialFcHead(inputs: PartialFcInputs, config: HeadConfig): PartialFcOutputs {
  if (config.kind !== 'margin') throw new Error('partial FC: needs a margin head config, not softmax');
  const { x, weight, index, labels } = inputs;
  const k = config.subCenters;
  if (index.dtype !== 'int64' || index.rank !== 1) {
    throw new Error(`partial FC: index must be int64[S], got ${index}`);
  }
  if (weight.rank !== 2 || weight.shape[0] % k !== 0) {
    throw new Error(`partial FC: W must be [C*k, D] with k = ${k}, got ${weight}`);
  }
  const [rows, dim] = weight.shape;
  const s = index.shape[0];
  if (s > rows / k) throw new Error(`partial FC: ${s} sampled classes but W holds only ${rows / k}`);
  const byClass = k === 1 ? weight : E.reshape(weight, [rows / k, k, dim]);
  const weightSample = E.reshape(E.gather(byClass, index, 0), [s * k, dim]);
  return { ...marginHead({ x, weight: weightSample, labels }, config), weightSample };
}

/**
 * Write `rows` [S, D] into a copy of `full` [N, D] at the row positions `index` (int64 [S], no
 * repeats), e.g. to apply an update computed on the sampled rows. Differentiable in both.
 */
export function scatterRows(full: E.Tensor, index: E.Tensor, rows: E.Tensor): E.Tensor {
  const [s, d] = rows.shape;
  const at = E.expand(E.reshape(index, [s, 1]), [s, d]);
  return E.scatterElements(full, at, rows, 0);
}
