/**
 * Central finite-difference gradient checks for engine ops: every VJP is compared against
 * (L(x + eps e_i) - L(x - eps e_i)) / 2 eps for a random linear functional L of the op's output.
 */
import { expect } from 'vitest';
import * as E from '../../src/engine/index.js';
import { seededRandom } from '../../src/util/random.js';

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export const rng = seededRandom;

/** Uniform values in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export interface GradCheckOptions {
  /** float64 where ONNX Runtime's CPU kernels have it (tighter check); float32 otherwise. */
  readonly dtype?: 'float32' | 'float64';
  readonly eps?: number;
  /** Allowed |analytic - numeric| <= atol + rtol * max(|numeric|, |analytic|). */
  readonly atol?: number;
  readonly rtol?: number;
  /** Check at most this many entries per input (chosen at random). */
  readonly maxEntries?: number;
  readonly seed?: number;
  /** Custom input values (default uniform in [-1, 1)). */
  readonly values?: readonly (readonly number[] | undefined)[];
}

/**
 * Check the VJPs of `f` against central finite differences.
 * @param f builds the op under test from symbolic inputs
 * @param shapes one shape per differentiable input
 */
export async function gradCheck(
  f: (...xs: E.Tensor[]) => E.Tensor,
  shapes: readonly (readonly number[])[],
  opts: GradCheckOptions = {},
): Promise<void> {
  const dtype = opts.dtype ?? 'float64';
  const eps = opts.eps ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const atol = opts.atol ?? (dtype === 'float64' ? 1e-7 : 2e-3);
  const rtol = opts.rtol ?? (dtype === 'float64' ? 1e-5 : 2e-2);
  const seed = opts.seed ?? 1;
  const xs = shapes.map((s, i) => E.input(`x${i}`, s, dtype));
  const y = f(...xs);
  // A random linear functional of the output makes every output element matter.
  const r = E.constant(randomArray(y.size, seed + 100), y.shape, dtype);
  const loss = E.reduceSum(E.mul(y, r));
  const grads = E.grad(loss, xs);
  const outputs: Record<string, E.Tensor> = { loss };
  grads.forEach((g, i) => (outputs[`g${i}`] = g));
  const prog = await E.Program.compile({ outputs }, { threads: 1 });
  const lossOnly = await E.Program.compile({ outputs: { loss } }, { threads: 1 });
  const make = (v: readonly number[]): E.TypedArray =>
    dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v);
  const values = shapes.map((s, i) => make(opts.values?.[i] ?? randomArray(E.sizeOf(s), seed + i)));
  const feeds = (): Record<string, E.TypedArray> => Object.fromEntries(values.map((v, i) => [`x${i}`, v]));
  const analytic = await prog.run(feeds());
  const pick = rng(seed + 7);
  for (let i = 0; i < shapes.length; i++) {
    const v = values[i];
    const g = analytic[`g${i}`];
    expect(g.length, `gradient ${i} size`).toBe(v.length);
    const max = opts.maxEntries ?? 48;
    const idx =
      v.length <= max
        ? [...Array(v.length).keys()]
        : Array.from({ length: max }, () => Math.floor(pick() * v.length));
    for (const j of idx) {
      const orig = Number(v[j]);
      (v as Float64Array)[j] = orig + eps;
      const lp = Number((await lossOnly.run(feeds())).loss[0]);
      (v as Float64Array)[j] = orig - eps;
      const lm = Number((await lossOnly.run(feeds())).loss[0]);
      (v as Float64Array)[j] = orig;
      const numeric = (lp - lm) / (2 * eps);
      const a = Number(g[j]);
      const tol = atol + rtol * Math.max(Math.abs(numeric), Math.abs(a));
      if (!(Math.abs(a - numeric) <= tol)) {
        throw new Error(
          `input ${i} entry ${j}: analytic ${a} vs numeric ${numeric} (tol ${tol.toExponential(2)})`,
        );
      }
    }
  }
}
