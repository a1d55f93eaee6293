/**
 * Input checks for the heads, in TypeScript, so bad batches fail with a message that names the
 * problem instead of an ONNX Runtime error or a silent NaN loss.
 */
import type { Tensor } from '../engine/index.js';

/** A head's static sizes. */
export interface HeadDims {
  /** Batch size. */
  readonly batch: number;
  /** Embedding dimension. */
  readonly dim: number;
  /** Number of classes. */
  readonly classes: number;
  /** Sub-centres per class (rows of W per class). */
  readonly subCenters: number;
}

/**
 * Check the symbolic shapes of a head's inputs before building its graph.
 * @param x embeddings [B, D], float
 * @param weight class centres [C * k, D], same dtype as x
 * @param labels int64 [B]
 * @param subCenters k
 * @param bias optional [C]
 */
export function checkHeadShapes(
  x: Tensor,
  weight: Tensor,
  labels: Tensor,
  subCenters: number,
  bias?: Tensor,
): HeadDims {
  const fail = (msg: string): never => {
    throw new Error(`head: ${msg}`);
  };
  if (x.rank !== 2) fail(`embeddings x must be [B, D], got ${x}`);
  if (weight.rank !== 2) fail(`class weights W must be [C*k, D], got ${weight}`);
  if (x.dtype !== weight.dtype || (x.dtype !== 'float32' && x.dtype !== 'float64')) {
    fail(`x and W must share a float dtype, got ${x} and ${weight}`);
  }
  const [batch, dim] = x.shape;
  if (weight.shape[1] !== dim) {
    fail(`embedding size mismatch: x is ${x} (D = ${dim}) but W is ${weight} (D = ${weight.shape[1]})`);
  }
  if (weight.shape[0] % subCenters !== 0 || weight.shape[0] === 0) {
    fail(`W has ${weight.shape[0]} rows, not a positive multiple of ${subCenters} sub-centres per class`);
  }
  if (labels.dtype !== 'int64' || labels.rank !== 1 || labels.shape[0] !== batch) {
    fail(`labels must be int64[${batch}] (one per row of x), got ${labels}`);
  }
  const classes = weight.shape[0] / subCenters;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== classes || bias.dtype !== x.dtype)) {
    fail(`bias must be ${x.dtype}[${classes}], got ${bias}`);
  }
  return { batch, dim, classes, subCenters };
}

/**
 * Check one batch of labels on the JS side: each label an integer in [-1, C), -1 meaning "ignore
 * this row", and at least one row not ignored (the mean loss over zero rows is undefined).
 * @param labels class indices, one per embedding row
 * @param numClasses C
 * @param batch expected length (the graph's static batch size), if known
 * @returns the number of rows that count (labels >= 0)
 */
export function validateLabels(
  labels: BigInt64Array | Int32Array | readonly number[],
  numClasses: number,
  batch?: number,
): number {
  if (batch !== undefined && labels.length !== batch) {
    throw new Error(`labels: expected ${batch} labels (the batch size), got ${labels.length}`);
  }
  let counted = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = Number(labels[i]);
    if (!Number.isInteger(v) || v < -1 || v >= numClasses) {
      throw new Error(
        `labels: label ${String(labels[i])} at row ${i} is out of range [-1, ${numClasses}) ` +
          `(${numClasses} classes; -1 marks an ignored row)`,
      );
    }
    if (v >= 0) counted++;
  }
  if (counted === 0) {
    throw new Error(`labels: all ${labels.length} labels are -1 (ignored); the loss needs at least one row`);
  }
  return counted;
}

/**
 * Throw if a float array holds NaN or an infinity, naming the input, row and column.
 * @param name what the array is (e.g. 'embeddings x')
 * @param cols row length, for the position in the message
 */
export function validateFinite(name: string, values: Float32Array | Float64Array, cols: number): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      const row = Math.floor(i / cols);
      throw new Error(`${name}: non-finite value ${values[i]} at row ${row}, column ${i - row * cols}`);
    }
  }
}
