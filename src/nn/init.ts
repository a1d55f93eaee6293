/**
 * Seeded parameter initialisation. Each tensor draws from its own stream, seeded by the run seed and
 * the tensor's dotted name, so adding or renaming one layer leaves every other layer's values alone.
 */
import { seededRandom } from '../util/random.js';

/** How to fill a parameter at creation. `fanIn`/`fanOut` count the connections per output/input unit. */
export type Init =
  | { readonly kind: 'constant'; readonly value: number }
  /** N(0, std^2). */
  | { readonly kind: 'normal'; readonly std: number }
  /** He et al.: N(0, gain^2 / fanIn); gain sqrt(2) for ReLU. */
  | { readonly kind: 'kaiming-normal'; readonly fanIn: number; readonly gain?: number }
  /** U(-b, b), b = gain * sqrt(3 / fanIn) (PyTorch's default for Linear and Conv with gain 1/sqrt(3)). */
  | { readonly kind: 'kaiming-uniform'; readonly fanIn: number; readonly gain?: number }
  /** Glorot: U(-b, b), b = gain * sqrt(6 / (fanIn + fanOut)). */
  | {
      readonly kind: 'xavier-uniform';
      readonly fanIn: number;
      readonly fanOut: number;
      readonly gain?: number;
    };

/** 32-bit FNV-1a of a name mixed with a seed: the seed of one named random stream. */
export function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Values for one tensor.
 * @param name the tensor's dotted name (part of its random stream)
 * @param size number of values
 * @param seed run seed
 */
export function initValues(init: Init, name: string, size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  if (init.kind === 'constant') return out.fill(init.value);
  const rand = seededRandom(streamSeed(seed, name));
  if (init.kind === 'kaiming-uniform' || init.kind === 'xavier-uniform') {
    const gain = init.gain ?? 1;
    const bound =
      init.kind === 'kaiming-uniform'
        ? gain * Math.sqrt(3 / init.fanIn)
        : gain * Math.sqrt(6 / (init.fanIn + init.fanOut));
    for (let i = 0; i < size; i++) out[i] = (2 * rand() - 1) * bound;
    return out;
  }
  const std = init.kind === 'normal' ? init.std : (init.gain ?? Math.SQRT2) / Math.sqrt(init.fanIn);
  // Box-Muller, both outputs used.
  for (let i = 0; i < size; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < size) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}
