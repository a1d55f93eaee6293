/** Finite-difference checks of the engine ops the heads added: Gemm (all transpose flags) and ReduceL2. */
import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { gradCheck } from '../helpers/gradcheck.js';

describe('Gemm', () => {
  for (const [ta, tb] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    it(`gradients with transA=${ta}, transB=${tb}`, async () => {
      const a = ta ? [4, 3] : [3, 4];
      const b = tb ? [5, 4] : [4, 5];
      await gradCheck((x, y) => E.gemm(x, y, ta, tb), [a, b]);
    });
  }

  it('rejects mismatched inner dimensions', () => {
    expect(() => E.gemm(E.input('a', [3, 4]), E.input('b', [5, 4]))).toThrow(/Gemm: inner dimensions differ/);
  });
});

describe('ReduceL2', () => {
  it('gradients over one axis and over all', async () => {
    await gradCheck((x) => E.reduceL2(x, 1, true), [[3, 5]]);
    await gradCheck((x) => E.reduceL2(x), [[2, 3]]);
  });

  it('an all-zero row has norm 0 and gradient 0, not NaN', async () => {
    const x = E.input('x', [2, 3]);
    const y = E.reduceSum(E.reduceL2(x, 1));
    const [g] = E.grad(y, [x]);
    const out = await E.evaluate({ y, g }, { x: Float32Array.from([0, 0, 0, 3, 4, 0]) }, { threads: 1 });
    expect(out.y[0]).toBeCloseTo(5, 6);
    const g0 = Array.from(out.g as Float32Array, (v) => Number(v.toFixed(6)));
    expect(g0).toEqual([0, 0, 0, 0.6, 0.8, 0]);
  });
});
