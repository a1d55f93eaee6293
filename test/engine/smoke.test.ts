import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';

describe('engine smoke', () => {
  it('runs a small graph with a gradient', async () => {
    const x = E.input('x', [2, 3]);
    const w = E.input('w', [3, 4]);
    const y = E.reduceSum(E.mul(E.matmul(x, w), E.matmul(x, w)));
    const [gx, gw] = E.grad(y, [x, w]);
    const xs = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const ws = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 10);
    const out = await E.evaluate({ y, gx, gw }, { x: xs, w: ws });
    // y = sum((xW)^2); dy/dx = 2 (xW) W^T
    const xw = [0, 1].map((r) =>
      [0, 1, 2, 3].map((c) => [0, 1, 2].reduce((s, k) => s + xs[r * 3 + k] * ws[k * 4 + c], 0)),
    );
    const yRef = xw.flat().reduce((s, v) => s + v * v, 0);
    expect(out.y[0]).toBeCloseTo(yRef, 4);
    const gx00 = [0, 1, 2, 3].reduce((s, c) => s + 2 * xw[0][c] * ws[0 * 4 + c], 0);
    expect(out.gx[0]).toBeCloseTo(gx00, 4);
  });
});
