/** Seeded randomness for data order and augmentation: every draw is a pure function of its seeds. */
import { mixSeed, seededRandom } from '../util/random.js';

export { mixSeed };

/** Which stream a draw belongs to, so shuffling and flipping never share numbers. */
export const Stream = { shuffle: 1, flip: 2, split: 3, augment: 4 } as const;

/** A Fisher-Yates permutation of 0..n-1, a pure function of `seed`. */
export function permutation(n: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** The sample order of one epoch: shuffled by (seed, epoch), or 0..n-1 when `shuffle` is false. */
export function epochOrder(n: number, seed: number, epoch: number, shuffle: boolean): Int32Array {
  if (shuffle) return permutation(n, mixSeed(seed, epoch, Stream.shuffle));
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order;
}

/**
 * Horizontal-flip decisions for one epoch, by position in the epoch's order (so the i-th sample
 * served is flipped or not regardless of which thread prepares it).
 * @param probability chance of a flip, in [0, 1]
 */
export function flipMask(n: number, seed: number, epoch: number, probability: number): Uint8Array {
  const rand = seededRandom(mixSeed(seed, epoch, Stream.flip));
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = rand() < probability ? 1 : 0;
  return mask;
}
