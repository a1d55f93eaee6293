/** Synthetic unit vectors for the gallery tests: seeded identities and noisy samples of them. */
import { seededRandom } from '../../src/util/random.js';

function gauss(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** A seeded unit vector of `dim` floats. */
export function unitVector(dim: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const v = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = gauss(rand);
    n += v[i] * v[i];
  }
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i] *= s;
  return v;
}

/** `base` plus seeded noise of relative size `noise`, renormalised: another "photo" of the same identity. */
export function near(base: Float32Array, noise: number, seed: number): Float32Array {
  const e = unitVector(base.length, seed);
  const v = new Float32Array(base.length);
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = base[i] + noise * e[i];
    n += v[i] * v[i];
  }
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] *= s;
  return v;
}

/** Cosine of two unit vectors, in float64. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] * b[i];
  return d;
}
