/** Seeded randomness shared by every room: each draw is a pure function of its seeds, so runs replay. */

/**
 * Uniform numbers in [0, 1) from a 32-bit seed (mulberry32: fast, 2^32 period, fine for sampling
 * and shuffling, not for cryptography).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
