/**
 * Turning a list of files into one padded batch, reading and filling a shared pixel cache. Runs in
 * a worker thread (batch-worker.ts) or, with no workers, on the main thread: same code, same bytes.
 */
import { threadId } from 'node:worker_threads';
import { type SampleAugment, writeAugmentedSample } from './augment.js';
import { emptyBatch } from './batching.js';
import { type SampleSpec, decodeSample, reasonOf, sampleSize, writeSample } from './image-sample.js';

/** One row to prepare. */
export interface PrepareRow {
  readonly path: string;
  /** The sample's slot in the cache (its index in the folder listing). */
  readonly slot: number;
  readonly label: number;
  readonly flip: boolean;
  /** Crop and colour jitter for this row (training augmentation); absent: none. */
  readonly aug?: SampleAugment;
}

export interface BatchRequest {
  readonly rows: readonly PrepareRow[];
  /** Static batch size; rows past the prepared ones are padding (label -1). */
  readonly batchSize: number;
}

/** A file that could not be decoded. */
export interface FailedSample {
  readonly slot: number;
  readonly path: string;
  readonly reason: string;
}

export interface PreparedBatch {
  /** [batchSize, C, H, W], decoded rows first, padding after. */
  readonly x: Float32Array;
  readonly labels: BigInt64Array;
  /** Rows that hold samples; failed files are left out, so count can be below rows.length. */
  readonly count: number;
  readonly failed: FailedSample[];
  /** The thread that did the work (tests check that workers really are used). */
  readonly threadId: number;
}

/** Cache slot states. */
export const SlotState = { unknown: 0, ok: 1, failed: 2 } as const;

/**
 * Decoded pixels of every file, [slots, C, H, W] uint8, and each slot's state, on
 * SharedArrayBuffers so workers fill and read them without copies. A slot is written once, by
 * whichever thread decodes it first, and its state set after its pixels.
 */
export interface SampleCache {
  readonly pixels: Uint8Array;
  readonly state: Int8Array;
}

/** Shared buffers for a cache of `slots` samples. */
export function allocateCache(slots: number, spec: SampleSpec): SampleCache {
  return {
    pixels: new Uint8Array(new SharedArrayBuffer(slots * sampleSize(spec))),
    state: new Int8Array(new SharedArrayBuffer(slots)),
  };
}

/** Cached pixels of a slot, decoding (and caching) on a miss; throws when the file is unreadable. */
async function pixelsOf(
  row: { path: string; slot: number },
  spec: SampleSpec,
  cache: SampleCache | null,
): Promise<Uint8Array> {
  const size = sampleSize(spec);
  if (cache) {
    const state = Atomics.load(cache.state, row.slot);
    if (state === SlotState.ok) return cache.pixels.subarray(row.slot * size, (row.slot + 1) * size);
    if (state === SlotState.failed) throw new Error('could not be decoded earlier');
  }
  try {
    const pixels = await decodeSample(row.path, spec);
    if (cache) {
      cache.pixels.set(pixels, row.slot * size);
      Atomics.store(cache.state, row.slot, SlotState.ok);
    }
    return pixels;
  } catch (err) {
    if (cache) Atomics.store(cache.state, row.slot, SlotState.failed);
    throw err;
  }
}

/** Prepare one batch: decode (or read from cache), normalise, flip, pad. Never throws on bad files. */
export async function prepareBatch(
  req: BatchRequest,
  spec: SampleSpec,
  cache: SampleCache | null,
): Promise<PreparedBatch> {
  const size = sampleSize(spec);
  const out = emptyBatch(req.batchSize, size);
  const decoded = await Promise.allSettled(req.rows.map((row) => pixelsOf(row, spec, cache)));
  const failed: FailedSample[] = [];
  let count = 0;
  decoded.forEach((res, i) => {
    const row = req.rows[i];
    if (res.status === 'rejected') {
      failed.push({ slot: row.slot, path: row.path, reason: reasonOf(res.reason) });
      return;
    }
    if (row.aug) writeAugmentedSample(res.value, out.x, count * size, spec, row.flip, row.aug);
    else writeSample(res.value, out.x, count * size, spec, row.flip);
    out.labels[count] = BigInt(row.label);
    count++;
  });
  return { x: out.x, labels: out.labels, count, failed, threadId };
}

/**
 * Decode files into the cache (or, without one, just check that they decode): validation up front.
 * Resolves to the files that failed.
 */
export async function fillCache(
  rows: readonly { path: string; slot: number }[],
  spec: SampleSpec,
  cache: SampleCache | null,
): Promise<FailedSample[]> {
  const results = await Promise.allSettled(rows.map((row) => pixelsOf(row, spec, cache)));
  const failed: FailedSample[] = [];
  results.forEach((res, i) => {
    if (res.status === 'rejected') failed.push({ ...rows[i], reason: reasonOf(res.reason) });
  });
  return failed;
}
