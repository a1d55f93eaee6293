/** Option-value parsers shared by the sub-commands: each throws commander's InvalidArgumentError with the accepted range. */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { LANDMARK_SOURCES, type LandmarkSource } from '../face/landmarks-mesh.js';

/**
 * The number a flag's text spells, or NaN. `Number('')` and `Number('  ')` are 0, which made
 * `--threshold ''` a threshold of 0 (every pair "same"): blank text is no number.
 */
function numberOf(v: string): number {
  return v.trim() === '' ? NaN : Number(v);
}

/** An integer >= `min`, and <= `max` when given. */
export const integer =
  (min: number, max = Infinity) =>
  (v: string): number => {
    const n = numberOf(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Infinity ? `expected an integer >= ${min}` : `expected an integer in ${min}..${max}`,
      );
    }
    return n;
  };

/** Any finite number. */
export const finite = (v: string): number => {
  const n = numberOf(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};

/**
 * A number between `lo` and `hi`; `bounds` says which ends are included, in interval notation
 * (`'[)'`: lo included, hi excluded). `hi` may be Infinity.
 */
export const numberIn =
  (lo: number, hi: number, bounds: '[]' | '[)' | '(]' | '()') =>
  (v: string): number => {
    const n = numberOf(v);
    const aboveLo = bounds[0] === '[' ? n >= lo : n > lo;
    const belowHi = bounds[1] === ']' ? n <= hi : n < hi;
    if (!(Number.isFinite(n) && aboveLo && belowHi)) {
      const range =
        hi === Infinity
          ? bounds[0] === '['
            ? `>= ${lo}`
            : `> ${lo}`
          : `in ${bounds[0]}${lo}, ${hi}${bounds[1]}`;
      throw new InvalidArgumentError(`expected a number ${range}`);
    }
    return n;
  };

/**
 * Most ONNX Runtime threads a flag may ask for: 4 per core the machine reports. ONNX Runtime starts every
 * intra-op thread of every session up front (the face commands open two sessions). Measured with BlazeFace
 * alone on the 2-core development machine (loaded): 512 threads cost +0.7 s to load and +27 MB; 2,048 cost
 * 3.6 s, 270 MB and 19 s to exit; 10,000 had not detected anything after 60 s at 830 MB (the hang users
 * saw, 1.5 GB with a recogniser). Compute-bound kernels gain nothing past one thread per core; the
 * headroom over that is for containers whose reported core count is lower than what they can use.
 */
export const MAX_THREADS_PER_CORE = 4;

/** `--threads N`: an integer in 1..{@link MAX_THREADS_PER_CORE} x cores. */
export const threadCount = (v: string): number => {
  const max = MAX_THREADS_PER_CORE * availableParallelism();
  const n = numberOf(v);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new InvalidArgumentError(
      `expected an integer in 1..${max} (${MAX_THREADS_PER_CORE} per core on this machine's ${availableParallelism()}; ` +
        'ONNX Runtime starts every thread up front, and more than one per core only contend)',
    );
  }
  return n;
};

/** A --landmarks value: where the five alignment points come from. */
export const landmarkSource = (v: string): LandmarkSource => {
  if (!(LANDMARK_SOURCES as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`expected one of ${LANDMARK_SOURCES.join(', ')}`);
  }
  return v as LandmarkSource;
};
