/** Seeded randomness for data order and augmentation: every draw is a pure function of its seeds. */

/**
 * Mix integers into one 32-bit seed (a murmur3-style finaliser per part), so that (seed, epoch,
 * stream) triples give unrelated sequences even when they differ by one.
 */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Uniform numbers in [0, 1) from a 32-bit seed (mulberry32: fast, not for cryptography). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Which stream a draw belongs to, so shuffling and flipping never share numbers. */
export const Stream = { shuffle: 1, flip: 2, split: 3, augment: 4 } as const;

/** A Fisher-Yates permutation of 0..n-1, a pure function of `seed`. */
export function permutation(n: number, seed: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rand = mulberry32(seed);
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
  const rand = mulberry32(mixSeed(seed, epoch, Stream.flip));
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = rand() < probability ? 1 : 0;
  return mask;
}
