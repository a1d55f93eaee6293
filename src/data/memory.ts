/** A dataset held in memory as one float array: MNIST digits, precomputed embeddings. */
import { gatherBatch, planEpoch } from './batching.js';
import type { Batch, BatchOptions, Dataset } from './dataset.js';
import { seededRandom } from '../util/random.js';
import { Stream, mixSeed } from './shuffle.js';

/**
 * Training augmentation of one sample, in place.
 * @param sample the sample's values (a view into the batch), [...sampleShape]
 * @param rand uniform numbers in [0, 1), seeded by (seed, epoch)
 */
export type Augmentation = (sample: Float32Array, sampleShape: readonly number[], rand: () => number) => void;

/** What a MemoryDataset is made of. */
export interface MemoryDatasetInit {
  /** Samples, float32, [size, ...sampleShape] row-major, already normalised. */
  readonly x: Float32Array;
  /** Class of every sample, 0..classNames.length-1. */
  readonly labels: Int32Array;
  readonly sampleShape: readonly number[];
  readonly classNames: readonly string[];
  /** Applied to each sample of a batch that asks for augmentation (default: none). */
  readonly augmentation?: Augmentation;
}

/**
 * An in-memory Dataset. Batches are plain copies, cheap enough for the main thread. `augment` applies
 * the dataset's own augmentation, if it has one: none suits every kind of vector (flipping a digit
 * changes it).
 */
export class MemoryDataset implements Dataset {
  readonly size: number;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly sampleShape: readonly number[];
  readonly labels: Int32Array;
  /** Samples, [size, ...sampleShape]. */
  readonly x: Float32Array;
  readonly augmentation: Augmentation | undefined;
  private readonly sampleSize: number;

  constructor(init: MemoryDatasetInit) {
    this.sampleShape = [...init.sampleShape];
    this.sampleSize = this.sampleShape.reduce((a, b) => a * b, 1);
    this.size = init.labels.length;
    if (init.x.length !== this.size * this.sampleSize) {
      throw new Error(
        `MemoryDataset: ${init.x.length} values do not hold ${this.size} samples of [${this.sampleShape.join(',')}]`,
      );
    }
    this.classNames = [...init.classNames];
    this.numClasses = this.classNames.length;
    for (const l of init.labels) {
      if (!(l >= 0 && l < this.numClasses)) {
        throw new Error(`MemoryDataset: label ${l} outside 0..${this.numClasses - 1}`);
      }
    }
    this.x = init.x;
    this.labels = init.labels;
    this.augmentation = init.augmentation;
  }

  async *batches(opts: BatchOptions): AsyncIterable<Batch> {
    const augment = opts.augment ? this.augmentation : undefined;
    // One stream per epoch, drawn in serving order: the same (seed, epoch) gives the same batches.
    const rand = seededRandom(mixSeed(opts.seed, opts.epoch, Stream.augment));
    for (const indices of planEpoch(this.size, opts)) {
      const batch = gatherBatch(this.x, this.labels, this.sampleSize, indices, opts.batchSize);
      if (augment) {
        for (let r = 0; r < batch.count; r++) {
          augment(batch.x.subarray(r * this.sampleSize, (r + 1) * this.sampleSize), this.sampleShape, rand);
        }
      }
      yield batch;
    }
  }

  /** A new dataset of the given samples, in the given order (copies the rows). */
  subset(indices: ArrayLike<number>): MemoryDataset {
    const x = new Float32Array(indices.length * this.sampleSize);
    const labels = new Int32Array(indices.length);
    for (let r = 0; r < indices.length; r++) {
      const i = indices[r];
      if (!(i >= 0 && i < this.size)) throw new Error(`MemoryDataset.subset: index ${i} out of range`);
      x.set(this.x.subarray(i * this.sampleSize, (i + 1) * this.sampleSize), r * this.sampleSize);
      labels[r] = this.labels[i];
    }
    return new MemoryDataset({
      x,
      labels,
      sampleShape: this.sampleShape,
      classNames: this.classNames,
      augmentation: this.augmentation,
    });
  }
}
