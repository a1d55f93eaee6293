/** Cutting an epoch's order into static-size batches, and padding the last one. */
import type { Batch, BatchOptions } from './dataset.js';
import { epochOrder } from './shuffle.js';

/**
 * The sample indices of each batch of one epoch. Every slice has at most `batchSize` entries; the
 * last is shorter (and padded later) unless `dropLast` drops it.
 */
export function planEpoch(size: number, opts: BatchOptions): Int32Array[] {
  checkBatchOptions(opts);
  const order = epochOrder(size, opts.seed, opts.epoch, opts.shuffle ?? true);
  const plan: Int32Array[] = [];
  for (let start = 0; start < size; start += opts.batchSize) {
    const end = Math.min(size, start + opts.batchSize);
    if (end - start < opts.batchSize && opts.dropLast) break;
    plan.push(order.subarray(start, end));
  }
  return plan;
}

function checkBatchOptions(opts: BatchOptions): void {
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new Error(`batches: batchSize must be a positive integer, got ${opts.batchSize}`);
  }
  if (!Number.isInteger(opts.epoch) || opts.epoch < 0) {
    throw new Error(`batches: epoch must be a non-negative integer, got ${opts.epoch}`);
  }
}

/**
 * An empty batch of `batchSize` rows of `sampleSize` floats, every label -1 (padding) until filled.
 */
export function emptyBatch(
  batchSize: number,
  sampleSize: number,
): { x: Float32Array; labels: BigInt64Array } {
  return { x: new Float32Array(batchSize * sampleSize), labels: new BigInt64Array(batchSize).fill(-1n) };
}

/** Gather rows of an in-memory [N, sampleSize] array into a padded batch. */
export function gatherBatch(
  data: Float32Array,
  labels: Int32Array,
  sampleSize: number,
  indices: ArrayLike<number>,
  batchSize: number,
): Batch {
  const out = emptyBatch(batchSize, sampleSize);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    out.x.set(data.subarray(i * sampleSize, (i + 1) * sampleSize), r * sampleSize);
    out.labels[r] = BigInt(labels[i]);
  }
  return { x: out.x, labels: out.labels, count: indices.length };
}
