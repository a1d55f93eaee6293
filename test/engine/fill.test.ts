import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { gradCheck, randomArray } from '../helpers/gradcheck.js';

// Large fills are built at run time, so ONNX Runtime cannot constant-fold them into initializers
// (the [C, D] zeros of a Gather gradient would otherwise live in the session for its whole life).
describe('fill', () => {
  it('keeps large fills out of the model and fills them at run time', async () => {
    const shape = [512, 300];
    const outputs = {
      f32: E.fill(shape, 3),
      f64: E.fill(shape, -0.5, 'float64'),
      i64: E.fill(shape, 7, 'int64'),
      small: E.fill([4], 2),
    };
    // Each output is 153,600 values; the model holds only shapes and scalars.
    expect(E.lower({ outputs }).bytes.length).toBeLessThan(4096);
    const out = await E.evaluate(outputs);
    expect(out.f32.length).toBe(512 * 300);
    expect((out.f32 as Float32Array).every((v) => v === 3)).toBe(true);
    expect((out.f64 as Float64Array).every((v) => v === -0.5)).toBe(true);
    expect((out.i64 as BigInt64Array).every((v) => v === 7n)).toBe(true);
    expect(Array.from(out.small as Float32Array)).toEqual([2, 2, 2, 2]);
  });

  it('gives exact Gather gradients through a large runtime fill (repeated rows accumulate)', async () => {
    const [c, d] = [1000, 128];
    const rows = [3, 998, 3, 0, 512];
    const w = E.input('w', [c, d]);
    const r = randomArray(rows.length * d, 5);
    const loss = E.reduceSum(
      E.mul(E.gather(w, E.constant(rows, [rows.length], 'int64')), E.constant(r, [rows.length, d])),
    );
    const [gw] = E.grad(loss, [w]);
    // The gradient does not depend on w's values, so w is not even a graph input.
    const out = await E.evaluate({ gw });
    const want = new Float32Array(c * d);
    rows.forEach((row, i) => {
      for (let j = 0; j < d; j++) want[row * d + j] += Math.fround(r[i * d + j]);
    });
    const got = out.gw as Float32Array;
    let maxErr = 0;
    for (let i = 0; i < got.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
    expect(maxErr).toBeLessThan(1e-6);
  });

  it('gather / gatherElements VJPs at runtime-fill sizes match finite differences', async () => {
    const idx = E.constant([599, 0, 599, 17], [4], 'int64');
    await gradCheck((a) => E.gather(a, idx, 0), [[600, 128]], { maxEntries: 12 });
    const idx2 = E.constant(
      Array.from({ length: 128 }, (_, i) => (i * 37) % 600),
      [128, 1],
      'int64',
    );
    await gradCheck((a) => E.gatherElements(a, idx2, 1), [[128, 600]], { maxEntries: 12 });
  });
});
