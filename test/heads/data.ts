/** Seeded test data for the head tests. */
import { seededRandom } from '../../src/heads/index.js';

/** Uniform values in [-1, 1) as float32. */
export function uniform(n: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

/** Labels in [0, classes), with the given rows set to -1. */
export function randomLabels(
  n: number,
  classes: number,
  seed: number,
  ignored: readonly number[] = [],
): BigInt64Array {
  const r = seededRandom(seed);
  const out = BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * classes)));
  for (const i of ignored) out[i] = -1n;
  return out;
}

/** max |a - b| / max |b| */
export function maxNormError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
