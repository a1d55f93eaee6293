/** The contract between datasets (data/) and the trainer (train/). */

/** One mini-batch, row-major, ready to feed. */
export interface Batch {
  /** Inputs, float32, [count, ...sampleShape] row-major (images NCHW, RGB, normalised). */
  readonly x: Float32Array;
  /** Class index per row, int64; -1 marks a padding row the loss ignores. */
  readonly labels: BigInt64Array;
  /** Rows that hold real samples (the rest, if any, are padding to the static batch size). */
  readonly count: number;
}

export interface BatchOptions {
  /** Static batch size: the last partial batch is padded with label -1 rows unless `dropLast`. */
  readonly batchSize: number;
  /** Shuffle seed; the order is a pure function of (seed, epoch). */
  readonly seed: number;
  readonly epoch: number;
  readonly shuffle?: boolean;
  /** Apply training augmentation (e.g. horizontal flip). */
  readonly augment?: boolean;
  readonly dropLast?: boolean;
}

/** A labelled dataset of fixed-shape samples. */
export interface Dataset {
  /** Number of samples. */
  readonly size: number;
  /** Number of classes; labels are 0..numClasses-1. */
  readonly numClasses: number;
  /** Class names by index (identity folder names, digit names). */
  readonly classNames: readonly string[];
  /** Shape of one sample, e.g. [1, 28, 28] or [3, 112, 112] (CHW) or [D]. */
  readonly sampleShape: readonly number[];
  /** Label of every sample, in index order. */
  readonly labels: Int32Array;
  /** Mini-batches for one epoch. */
  batches(opts: BatchOptions): AsyncIterable<Batch>;
}
