/**
 * A dataset of one folder per identity (root/<class>/<image>.jpg|png|webp), decoded with sharp,
 * resized or centre-cropped to the sample size, normalised, optionally flipped, and batched by
 * worker threads ahead of the consumer. Unreadable files are skipped and listed, never fatal.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import {
  type BatchRequest,
  type FailedSample,
  type PreparedBatch,
  type SampleCache,
  allocateCache,
  fillCache,
  prepareBatch,
} from './batch-prepare.js';
import { type Augmentation, augments, checkAugmentation, drawAugments } from './augment.js';
import { planEpoch } from './batching.js';
import type { Batch, BatchOptions, Dataset } from './dataset.js';
import { type SampleSpec, reasonOf, sampleSize } from './image-sample.js';
import { flipMask } from './shuffle.js';
import { WorkerPool } from './worker-pool.js';

/** File extensions read by default (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

/** Above this many cached bytes, 'auto' caching is off. */
const AUTO_CACHE_BYTES = 512 * 1024 * 1024;
/** Files per validation request: small enough to spread over workers, big enough to amortise messages. */
const FILL_CHUNK = 32;

export interface FolderDatasetOptions {
  /** Sample height and width in pixels: one number for a square (default 112). */
  readonly size?: number | readonly [height: number, width: number];
  /** 3 = RGB (default), 1 = grey. */
  readonly channels?: 1 | 3;
  /** 'cover' (default) centre-crops to the aspect ratio; 'fill' stretches. */
  readonly fit?: 'cover' | 'fill';
  /** Share of the short side kept as a centred square before resizing, in (0, 1] (default 1). */
  readonly crop?: number;
  /** Subtracted from 0..255 pixel values, one or per channel (default 127.5). */
  readonly mean?: number | readonly number[];
  /** Divisor after the mean, one or per channel (default 127.5). */
  readonly std?: number | readonly number[];
  /** Chance of a horizontal flip per sample when a batch asks for augmentation (default 0.5). */
  readonly flipProbability?: number;
  /**
   * Random crop and colour jitter applied, with the flip, when a batch asks for augmentation (default:
   * none, only the flip). Drawn per sample from (seed, epoch): see augment.ts.
   */
  readonly augmentation?: Augmentation;
  /** Worker threads preparing batches; 0 prepares them on the main thread (default 1). */
  readonly workers?: number;
  /** Batches prepared ahead of the one being consumed (default 2). */
  readonly prefetch?: number;
  /**
   * Keep decoded pixels (uint8) in shared memory after the first decode. 'auto' (default) caches
   * when the whole set fits in 512 MiB.
   */
  readonly cache?: boolean | 'auto';
  /**
   * Decode every file when opening, so unreadable ones are known (and left out) before training.
   * Default: on when caching (the decode fills the cache), off otherwise; files that fail later are
   * dropped from their batch and listed in `skipped` then.
   */
  readonly validate?: boolean;
  /** Extensions to read (default IMAGE_EXTENSIONS). */
  readonly extensions?: readonly string[];
  /** Called as files are validated: (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** A file left out, and why. */
export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

/** State shared by a dataset and its subsets: how to decode, the cache, the workers, the skips. */
interface Store {
  readonly spec: SampleSpec;
  readonly cache: SampleCache | null;
  readonly pool: WorkerPool | null;
  readonly prefetch: number;
  readonly flipProbability: number;
  readonly augmentation: Augmentation | undefined;
  /** Skipped files by cache slot, in the order found. */
  readonly skipped: Map<number, SkippedFile>;
}

interface Sample {
  readonly path: string;
  readonly label: number;
  /** Index in the folder listing; the cache slot. */
  readonly slot: number;
}

/** An identity-per-folder image dataset. Create with `FolderDataset.open`; call `close()` when done. */
export class FolderDataset implements Dataset {
  readonly size: number;
  readonly numClasses: number;
  readonly sampleShape: readonly number[];
  readonly labels: Int32Array;
  /** Image path of every sample, in index order. */
  readonly paths: readonly string[];

  private constructor(
    /** Absolute path of the root folder. */
    readonly root: string,
    readonly classNames: readonly string[],
    private readonly samples: readonly Sample[],
    private readonly store: Store,
  ) {
    this.size = samples.length;
    this.numClasses = classNames.length;
    this.sampleShape = [store.spec.channels, store.spec.height, store.spec.width];
    this.labels = Int32Array.from(samples, (s) => s.label);
    this.paths = samples.map((s) => s.path);
  }

  /**
   * List `root`'s class folders (sorted by name; label = position) and their image files (sorted),
   * start the workers, and validate the files when asked (see options).
   */
  static async open(root: string, opts: FolderDatasetOptions = {}): Promise<FolderDataset> {
    const abs = resolve(root);
    const spec = sampleSpec(opts);
    if (opts.augmentation) checkAugmentation(opts.augmentation);
    const skipped = new Map<number, SkippedFile>();
    const { classNames, samples, unlisted } = await listFolders(abs, opts.extensions ?? IMAGE_EXTENSIONS);
    if (samples.length === 0) {
      throw new Error(`folder dataset: no images under ${abs} (expected ${abs}/<class>/<image>)`);
    }
    const bytes = samples.length * sampleSize(spec);
    const useCache =
      opts.cache === 'auto' || opts.cache === undefined ? bytes <= AUTO_CACHE_BYTES : opts.cache;
    const cache = useCache ? allocateCache(samples.length, spec) : null;
    const workers = opts.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`folder dataset: workers must be >= 0`);
    const pool = workers > 0 ? new WorkerPool(workers, { spec, cache }) : null;
    const store: Store = {
      spec,
      cache,
      pool,
      prefetch: Math.max(0, Math.floor(opts.prefetch ?? 2)),
      flipProbability: opts.flipProbability ?? 0.5,
      augmentation: augments(opts.augmentation) ? opts.augmentation : undefined,
      skipped,
    };
    // Unlisted files get negative keys: they have no slot, only a place in the report.
    unlisted.forEach((s, i) => skipped.set(-1 - i, s));
    let kept = samples;
    try {
      if (opts.validate ?? useCache) {
        const failed = await validate(samples, spec, cache, pool, opts);
        for (const f of failed) skipped.set(f.slot, { path: f.path, reason: f.reason });
        kept = samples.filter((s) => !skipped.has(s.slot));
      }
    } catch (err) {
      await pool?.close();
      throw err;
    }
    return new FolderDataset(abs, classNames, kept, store);
  }

  /** Files left out so far (unreadable folders, undecodable images), each with a reason. */
  get skipped(): readonly SkippedFile[] {
    return [...this.store.skipped.values()];
  }

  /** Whether batches are prepared in worker threads. */
  get usesWorkers(): boolean {
    return this.store.pool !== null;
  }

  /** A dataset of some of these samples (e.g. one side of a split); shares cache and workers. */
  subset(indices: ArrayLike<number>): FolderDataset {
    const picked = Array.from(indices, (i) => {
      const s = this.samples[i];
      if (!s) throw new Error(`FolderDataset.subset: index ${i} out of range`);
      return s;
    });
    return new FolderDataset(this.root, this.classNames, picked, this.store);
  }

  /**
   * Mini-batches of one epoch, prepared `prefetch` batches ahead. A sample whose file fails to
   * decode is left out of its batch (count drops, padding grows) and listed in `skipped`; a batch
   * left with no samples is not yielded.
   */
  async *batches(opts: BatchOptions): AsyncIterable<Batch> {
    const plan = planEpoch(this.size, opts);
    const flips = opts.augment
      ? flipMask(this.size, opts.seed, opts.epoch, this.store.flipProbability)
      : null;
    const { augmentation, spec } = this.store;
    const augs =
      opts.augment && augmentation
        ? drawAugments(this.size, opts.seed, opts.epoch, augmentation, spec.height, spec.width)
        : null;
    const request = (k: number): BatchRequest => ({
      batchSize: opts.batchSize,
      rows: Array.from(plan[k], (i, r) => {
        const s = this.samples[i];
        const at = k * opts.batchSize + r;
        return { path: s.path, slot: s.slot, label: s.label, flip: flips?.[at] === 1, aug: augs?.[at] };
      }),
    });
    const queue: Promise<PreparedBatch>[] = [];
    let next = 0;
    const refill = (): void => {
      while (next < plan.length && queue.length <= this.store.prefetch) {
        const p = this.prepare(request(next++));
        // Batches still in flight when the consumer stops early must not surface as unhandled.
        p.catch(() => undefined);
        queue.push(p);
      }
    };
    refill();
    while (queue.length > 0) {
      const prepared = await (queue.shift() as Promise<PreparedBatch>);
      refill();
      for (const f of prepared.failed) {
        if (!this.store.skipped.has(f.slot))
          this.store.skipped.set(f.slot, { path: f.path, reason: f.reason });
      }
      if (prepared.count > 0) yield { x: prepared.x, labels: prepared.labels, count: prepared.count };
    }
  }

  /** Prepare one batch through the workers (or in this thread without them), with its thread id. */
  prepare(request: BatchRequest): Promise<PreparedBatch> {
    return this.store.pool
      ? this.store.pool.batch(request)
      : prepareBatch(request, this.store.spec, this.store.cache);
  }

  /** Stop the worker threads (shared with subsets: close once, after the last use). */
  async close(): Promise<void> {
    await this.store.pool?.close();
  }
}

function sampleSpec(opts: FolderDatasetOptions): SampleSpec {
  const [height, width] = typeof opts.size === 'number' ? [opts.size, opts.size] : (opts.size ?? [112, 112]);
  if (![height, width].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`folder dataset: size must be positive integers, got ${height}x${width}`);
  }
  const channels = opts.channels ?? 3;
  const perChannel = (v: number | readonly number[] | undefined, name: string): number[] => {
    const arr = v === undefined ? [127.5] : typeof v === 'number' ? [v] : [...v];
    if (!(arr.length === 1 || arr.length === channels) || !arr.every(Number.isFinite)) {
      throw new Error(`folder dataset: ${name} needs 1 or ${channels} finite numbers`);
    }
    return arr;
  };
  const std = perChannel(opts.std, 'std');
  if (std.some((s) => s === 0)) throw new Error('folder dataset: std must not be 0');
  const p = opts.flipProbability ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new Error(`folder dataset: flipProbability must be in [0, 1], got ${p}`);
  const crop = opts.crop ?? 1;
  if (!(crop > 0 && crop <= 1)) throw new Error(`folder dataset: crop must be in (0, 1], got ${crop}`);
  return {
    channels,
    height,
    width,
    fit: opts.fit ?? 'cover',
    crop,
    mean: perChannel(opts.mean, 'mean'),
    std,
  };
}

/** Class folders and their image files, both sorted by name so labels never depend on the file system. */
async function listFolders(
  root: string,
  extensions: readonly string[],
): Promise<{ classNames: string[]; samples: Sample[]; unlisted: SkippedFile[] }> {
  const exts = new Set(extensions.map((e) => e.toLowerCase()));
  const entries = (await readdir(root, { withFileTypes: true })).map((e) => e.name).sort(byCodePoint);
  const classNames: string[] = [];
  const samples: Sample[] = [];
  const unlisted: SkippedFile[] = [];
  for (const name of entries) {
    if (name.startsWith('.')) continue;
    const dir = join(root, name);
    let files: string[];
    try {
      // stat, not the dirent type: symlinked identity folders count as folders.
      if (!(await stat(dir)).isDirectory()) continue;
      files = (await readdir(dir)).filter((f) => !f.startsWith('.') && exts.has(extname(f).toLowerCase()));
    } catch (err) {
      unlisted.push({ path: dir, reason: reasonOf(err) });
      continue;
    }
    if (files.length === 0) continue;
    const label = classNames.length;
    classNames.push(name);
    for (const f of files.sort(byCodePoint))
      samples.push({ path: join(dir, f), label, slot: samples.length });
  }
  return { classNames, samples, unlisted };
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function validate(
  samples: readonly Sample[],
  spec: SampleSpec,
  cache: SampleCache | null,
  pool: WorkerPool | null,
  opts: FolderDatasetOptions,
): Promise<FailedSample[]> {
  const chunks: Sample[][] = [];
  for (let i = 0; i < samples.length; i += FILL_CHUNK) chunks.push(samples.slice(i, i + FILL_CHUNK));
  let done = 0;
  const run = async (chunk: Sample[]): Promise<FailedSample[]> => {
    const failed = pool ? await pool.fill(chunk) : await fillCache(chunk, spec, cache);
    done += chunk.length;
    opts.onProgress?.(done, samples.length);
    return failed;
  };
  // Sequential without workers (sharp queues the files itself); all at once with them, round-robin.
  if (!pool) {
    const failed: FailedSample[] = [];
    for (const chunk of chunks) failed.push(...(await run(chunk)));
    return failed;
  }
  return (await Promise.all(chunks.map(run))).flat();
}
