import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { gradCheck, randomArray, rng } from '../helpers/gradcheck.js';

const f32 = { dtype: 'float32' as const, maxEntries: 24 };

/** Distinct values spaced `gap` apart in random order, so finite differences never swap a maximum. */
function separated(n: number, seed: number, gap = 0.05): number[] {
  const r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * gap);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
}

describe('pooling', () => {
  it('maxPool2d VJP, overlapping windows, padding, odd sizes', async () => {
    await gradCheck((x) => E.maxPool2d(x, { kernel: 3, strides: 2, pads: 1 }), [[2, 3, 7, 6]], {
      ...f32,
      values: [separated(2 * 3 * 7 * 6, 3)],
    });
    await gradCheck((x) => E.maxPool2d(x, { kernel: 2 }), [[2, 2, 4, 4]], {
      ...f32,
      values: [separated(64, 4)],
    });
  });
  it('avgPool2d VJP with and without padded zeros in the divisor', async () => {
    await gradCheck((x) => E.avgPool2d(x, { kernel: 3, strides: 2, pads: 1 }), [[2, 3, 7, 6]], f32);
    await gradCheck(
      (x) => E.avgPool2d(x, { kernel: 3, strides: 1, pads: 1, countIncludePad: false }),
      [[1, 2, 5, 5]],
      f32,
    );
    await gradCheck((x) => E.avgPool2d(x, { kernel: 2 }), [[1, 2, 4, 6]], f32);
  });
  it('avgPool2d forward matches a direct loop in both divisor modes', async () => {
    const shape = [1, 2, 5, 4];
    const xv = Float32Array.from(randomArray(40, 11));
    const x = E.input('x', shape);
    const opts = { kernel: 3, strides: 2, pads: 1 } as const;
    const out = await E.evaluate(
      { inc: E.avgPool2d(x, opts), exc: E.avgPool2d(x, { ...opts, countIncludePad: false }) },
      { x: xv },
    );
    const [h, w] = [5, 4];
    const ref = (include: boolean): number[] => {
      const res: number[] = [];
      for (let c = 0; c < 2; c++)
        for (let oy = 0; oy < 3; oy++)
          for (let ox = 0; ox < 2; ox++) {
            let sum = 0;
            let n = 0;
            for (let i = 0; i < 3; i++)
              for (let j = 0; j < 3; j++) {
                const y = oy * 2 - 1 + i;
                const xx = ox * 2 - 1 + j;
                if (y >= 0 && y < h && xx >= 0 && xx < w) {
                  sum += xv[c * h * w + y * w + xx];
                  n++;
                }
              }
            res.push(sum / (include ? 9 : n));
          }
      return res;
    };
    expect(Array.from(out.inc as Float32Array)).toEqual(ref(true).map((v) => expect.closeTo(v, 5)));
    expect(Array.from(out.exc as Float32Array)).toEqual(ref(false).map((v) => expect.closeTo(v, 5)));
  });
  it('globalAvgPool2d', async () => {
    await gradCheck((x) => E.globalAvgPool2d(x), [[2, 3, 4, 5]]);
  });
});

describe('batch normalisation', () => {
  it('batchNormTrain forward: statistics over N, H, W; biased variance', async () => {
    const [n, c, h, w] = [3, 2, 2, 3];
    const xv = Float32Array.from(randomArray(n * c * h * w, 5, -2, 3));
    const x = E.input('x', [n, c, h, w]);
    const gamma = E.constant([1.5, -0.5], [2]);
    const beta = E.constant([0.25, 2], [2]);
    const r = E.batchNormTrain(x, gamma, beta, 1e-3);
    const out = await E.evaluate({ y: r.y, mean: r.mean, var: r.var }, { x: xv });
    for (let ch = 0; ch < c; ch++) {
      const vals: number[] = [];
      for (let i = 0; i < n; i++) for (let p = 0; p < h * w; p++) vals.push(xv[(i * c + ch) * h * w + p]);
      const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
      const variance = vals.reduce((s, v) => s + (v - mean) ** 2, 0) / vals.length;
      expect(out.mean[ch]).toBeCloseTo(mean, 5);
      expect(out.var[ch]).toBeCloseTo(variance, 5);
      const g = [1.5, -0.5][ch];
      const b = [0.25, 2][ch];
      for (let i = 0; i < n; i++)
        for (let p = 0; p < h * w; p++) {
          const k = (i * c + ch) * h * w + p;
          expect(out.y[k]).toBeCloseTo((g * (xv[k] - mean)) / Math.sqrt(variance + 1e-3) + b, 4);
        }
    }
  });
  it('batchNormTrain VJP for x, gamma, beta through y, mean and var (4-D and 2-D)', async () => {
    const all = (x: E.Tensor, g: E.Tensor, b: E.Tensor): E.Tensor => {
      const r = E.batchNormTrain(x, g, b);
      return E.concat([E.reshape(r.y, [-1]), r.mean, r.var], 0);
    };
    await gradCheck(all, [[3, 2, 3, 2], [2], [2]]);
    await gradCheck((x, g, b) => E.batchNormTrain(x, g, b).y, [[5, 4], [4], [4]]);
    // Only the statistics reach the loss: the x gradient comes from the mean and variance alone.
    await gradCheck(
      (x, g, b) => E.concat([E.batchNormTrain(x, g, b).var, E.batchNormTrain(x, g, b).mean], 0),
      [[4, 3], [3], [3]],
    );
  });
  it('batchNormInfer forward and VJP for every input', async () => {
    const rv = { values: [undefined, undefined, undefined, undefined, randomArray(3, 9, 0.5, 2)] };
    await gradCheck(
      (x, g, b, m, v) => E.batchNormInfer(x, g, b, m, v),
      [[2, 3, 2, 2], [3], [3], [3], [3]],
      rv,
    );
    const x = E.input('x', [2, 3]);
    const xv = Float32Array.from([1, 2, 3, -4, 5, 0.5]);
    const [gamma, beta, mean, variance] = [
      [1, 2, 3],
      [0, 1, -1],
      [0.5, 0, 1],
      [1, 4, 0.25],
    ];
    const c = (v: number[]): E.Tensor => E.constant(v, [3]);
    const y = E.batchNormInfer(x, c(gamma), c(beta), c(mean), c(variance), 0.01);
    const out = await E.evaluate({ y }, { x: xv });
    xv.forEach((v, i) => {
      const ch = i % 3;
      const want = (gamma[ch] * (v - mean[ch])) / Math.sqrt(variance[ch] + 0.01) + beta[ch];
      expect(out.y[i]).toBeCloseTo(want, 5);
    });
  });
  it('channelSum sums every axis but 1, ranks 2 to 4, and its VJP', async () => {
    for (const shape of [
      [3, 4],
      [2, 3, 5],
      [2, 3, 4, 5],
    ]) {
      const x = E.input('x', shape);
      const xv = Float32Array.from(randomArray(E.sizeOf(shape), 21));
      const out = await E.evaluate({ s: E.channelSum(x) }, { x: xv });
      const c = shape[1];
      const inner = E.sizeOf(shape.slice(2));
      const want = new Array<number>(c).fill(0);
      xv.forEach((v, i) => (want[Math.floor(i / inner) % c] += v));
      expect(Array.from(out.s as Float32Array)).toEqual(want.map((v) => expect.closeTo(v, 4)));
      await gradCheck((t) => E.channelSum(t), [shape]);
    }
  });
  it('batchNormTrain variance stays accurate when |mean| >> std (float32)', async () => {
    const [n, c, h, w] = [4, 2, 3, 3];
    const noise = randomArray(n * c * h * w, 8);
    const xv = Float32Array.from(noise, (v) => 1000 + 0.01 * v);
    const x = E.input('x', [n, c, h, w]);
    const r = E.batchNormTrain(x, E.constant([1, 1], [2]), E.constant([0, 0], [2]));
    const out = await E.evaluate({ var: r.var }, { x: xv });
    for (let ch = 0; ch < c; ch++) {
      const vals: number[] = [];
      for (let i = 0; i < n; i++) for (let p = 0; p < h * w; p++) vals.push(xv[(i * c + ch) * h * w + p]);
      const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
      const variance = vals.reduce((s, v) => s + (v - mean) ** 2, 0) / vals.length;
      expect(Math.abs(Number(out.var[ch]) - variance) / variance).toBeLessThan(0.02);
    }
  });
  it('channelAffine is x * scale + bias per channel', async () => {
    await gradCheck((x, s, b) => E.channelAffine(x, s, b), [[2, 3, 2, 2], [3], [3]]);
  });
});

describe('activations', () => {
  it('prelu VJP for x and slope, NCHW and [N, D]', async () => {
    await gradCheck((x, s) => E.prelu(x, s), [[2, 3, 2, 3], [3]], f32);
    await gradCheck((x, s) => E.prelu(x, s), [[4, 5], [5]], f32);
  });
  it('prelu forward uses one slope per channel', async () => {
    const x = E.input('x', [1, 2, 1, 2]);
    const out = await E.evaluate(
      { y: E.prelu(x, E.constant([0.1, 0.5], [2])) },
      { x: Float32Array.from([-1, 2, -4, 3]) },
    );
    expect(Array.from(out.y as Float32Array)).toEqual([-0.1, 2, -2, 3].map((v) => expect.closeTo(v, 6)));
  });
  it('prelu VJP with negative and above-one slopes, in float64, ranks 2 to 4', async () => {
    const slopes = { values: [undefined, [-0.5, 1.5, 0.25]] };
    await gradCheck((x, s) => E.prelu(x, s), [[2, 3, 2, 3], [3]], slopes);
    await gradCheck((x, s) => E.prelu(x, s), [[2, 3, 4], [3]], slopes);
    await gradCheck((x, s) => E.prelu(x, s), [[4, 3], [3]], slopes);
  });
  it('prelu forward and gradient: slope * x for x <= 0 (the slope at x = 0, as in PyTorch)', async () => {
    const x = E.input('x', [1, 3, 1, 2]);
    const s = E.input('s', [3]);
    const y = E.prelu(x, s);
    const dy = E.constant([1, 2, 3, 4, 5, 6], [1, 3, 1, 2]);
    const [dx, ds] = E.grad(y, [x, s], dy);
    const xv = Float32Array.from([-2, 0, -1, 3, 0.5, -4]);
    const out = await E.evaluate({ y, dx, ds }, { x: xv, s: Float32Array.from([0.25, -0.5, 1.5]) });
    expect(Array.from(out.y as Float32Array)).toEqual(
      [-0.5, 0, 0.5, 3, 0.5, -6].map((v) => expect.closeTo(v, 6)),
    );
    expect(Array.from(out.dx as Float32Array)).toEqual(
      [0.25, 0.5, -1.5, 4, 5, 9].map((v) => expect.closeTo(v, 6)),
    );
    expect(Array.from(out.ds as Float32Array)).toEqual([-2, -3, -24].map((v) => expect.closeTo(v, 6)));
  });
  it('leakyRelu VJP', async () => {
    await gradCheck((x) => E.leakyRelu(x, 0.2), [[3, 4]], f32);
  });
  it('rejects a slope that does not match the channels', () => {
    expect(() => E.prelu(E.input('x', [2, 3, 4, 4]), E.input('s', [4]))).toThrow(
      /PRelu.*float32\[2,3,4,4\].*float32\[4\]/,
    );
  });
});

describe('dropout', () => {
  it('drops about `rate` of the elements and scales the rest by 1 / (1 - rate)', async () => {
    const n = 20000;
    const rate = 0.3;
    const x = E.input('x', [n]);
    const m = E.dropoutMask(x, rate, 42);
    const prog = await E.Program.compile({ outputs: { m } });
    const first = (await prog.run({ x: new Float32Array(n) })).m as Float32Array;
    const scale = Math.fround(1 / (1 - rate));
    const zeros = first.filter((v) => v === 0).length;
    expect(first.every((v) => v === 0 || v === scale)).toBe(true);
    expect(Math.abs(zeros / n - rate)).toBeLessThan(0.02);
    const mean = first.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(mean - 1)).toBeLessThan(0.03);
    // The generator advances between runs: the next step draws a different mask.
    const second = (await prog.run({ x: new Float32Array(n) })).m as Float32Array;
    expect(second.some((v, i) => v !== first[i])).toBe(true);
  });
  it('the gradient is exactly mask * scale * g, with the mask of the forward pass', async () => {
    const n = 4000;
    const rate = 0.5;
    const x = E.input('x', [n]);
    const r = E.input('r', [n]);
    const y = E.dropout(x, rate, 7);
    const [g] = E.grad(E.reduceSum(E.mul(y, r)), [x]);
    const xv = Float32Array.from(randomArray(n, 1, 0.5, 2));
    const rv = Float32Array.from(randomArray(n, 2));
    const out = (await E.evaluate({ y, g }, { x: xv, r: rv })) as Record<'y' | 'g', Float32Array>;
    const scale = Math.fround(1 / (1 - rate));
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const keep = out.y[i] !== 0;
      kept += keep ? 1 : 0;
      // + 0 folds -0 (a negative g times a zero mask) into 0.
      expect(out.y[i] + 0).toBe(keep ? Math.fround(xv[i] * scale) : 0);
      expect(out.g[i] + 0).toBe(keep ? Math.fround(rv[i] * scale) : 0);
    }
    expect(kept).toBeGreaterThan(n * 0.45);
    expect(kept).toBeLessThan(n * 0.55);
  });
  it('rate 0 is the identity', () => {
    const x = E.input('x', [3]);
    expect(E.dropout(x, 0, 1)).toBe(x);
  });
});
