/**
 * Every switchable lowering (src/engine/lowering.ts) computes the same forward values and gradients:
 * finite-difference checks of each form, and each form against the other on one input.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { gradCheck, randomArray } from '../helpers/gradcheck.js';

const initial = E.lowerings();
afterEach(() => void E.setLowerings(initial));

/** Forward output and gradients of x and the per-channel inputs, under one lowering. */
async function valuesUnder(
  choice: Partial<E.Lowerings>,
  build: (x: E.Tensor, ...perChannel: E.Tensor[]) => E.Tensor,
  shape: readonly number[],
  perChannel: readonly (readonly number[])[],
  dtype: 'float32' | 'float64' = 'float64',
): Promise<number[][]> {
  const previous = E.setLowerings(choice);
  try {
    const x = E.input('x', shape, dtype);
    const ps = perChannel.map((_, i) => E.input(`p${i}`, [shape[1]], dtype));
    const y = build(x, ...ps);
    const r = E.constant(randomArray(y.size, 99), y.shape, dtype);
    const grads = E.grad(E.reduceSum(E.mul(y, r)), [x, ...ps]);
    const outputs: Record<string, E.Tensor> = { y };
    grads.forEach((g, i) => (outputs[`g${i}`] = g));
    const make = (v: readonly number[]): E.TypedArray =>
      dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v);
    const feeds: Record<string, E.TypedArray> = { x: make(randomArray(E.sizeOf(shape), 5, -2, 2)) };
    perChannel.forEach((v, i) => (feeds[`p${i}`] = make(v)));
    const out = await E.evaluate(outputs, feeds, { threads: 1 });
    return ['y', ...grads.map((_, i) => `g${i}`)].map((k) => Array.from(out[k] as Float64Array, Number));
  } finally {
    E.setLowerings(previous);
  }
}

function expectClose(a: number[][], b: number[][], digits: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(v).toEqual(b[i].map((w) => expect.closeTo(w, digits))));
}

describe('lowering switch', () => {
  it('parses fields joined by +, and names a bad field or value', () => {
    expect(E.parseLowerings('default')).toEqual({});
    expect(E.parseLowerings('prelu=min+bn=affine')).toEqual({ prelu: 'min', bn: 'affine' });
    expect(() => E.parseLowerings('relu=min')).toThrow(/unknown op 'relu'/);
    expect(() => E.parseLowerings('prelu=max')).toThrow(/prelu takes where or min, got 'max'/);
  });
  it('setLowerings returns the previous choice and keeps unnamed fields', () => {
    const before = E.lowerings();
    const prev = E.setLowerings({ prelu: 'min' });
    expect(prev).toEqual(before);
    expect(E.lowerings()).toEqual({ ...before, prelu: 'min' });
  });
});

describe.each(['where', 'min'] as const)('prelu lowered as %s', (prelu) => {
  it('VJP for x and slope with negative and above-one slopes, ranks 2 to 4 (float64)', async () => {
    E.setLowerings({ prelu });
    const slopes = { values: [undefined, [-0.5, 1.5, 0.25]] };
    await gradCheck((x, s) => E.prelu(x, s), [[2, 3, 2, 3], [3]], slopes);
    await gradCheck((x, s) => E.prelu(x, s), [[2, 3, 4], [3]], slopes);
    await gradCheck((x, s) => E.prelu(x, s), [[4, 3], [3]], slopes);
  });
  it('slope * x and the slope as gradient at x <= 0 (x = 0 included, as in PyTorch)', async () => {
    E.setLowerings({ prelu });
    const x = E.input('x', [1, 3, 1, 2]);
    const s = E.input('s', [3]);
    const y = E.prelu(x, s);
    const [dx, ds] = E.grad(y, [x, s], E.constant([1, 2, 3, 4, 5, 6], [1, 3, 1, 2]));
    const xv = Float32Array.from([-2, 0, -1, 3, 0.5, -4]);
    const sv = Float32Array.from([0.1, -0.5, 2]);
    const out = await E.evaluate({ y, dx, ds }, { x: xv, s: sv });
    const near = (v: number[]): unknown[] => v.map((w) => expect.closeTo(w, 5));
    expect(Array.from(out.y as Float32Array)).toEqual(near([-0.2, 0, 0.5, 3, 0.5, -8]));
    expect(Array.from(out.dx as Float32Array)).toEqual(near([0.1, 0.2, -1.5, 4, 5, 12]));
    expect(Array.from(out.ds as Float32Array)).toEqual(near([-2, -3, -24]));
  });
});

describe.each(['centred', 'affine'] as const)('batchNormTrain lowered as %s', (bn) => {
  it('VJP for x, gamma, beta through y, mean and var (4-D and 2-D, float64)', async () => {
    E.setLowerings({ bn });
    const all = (x: E.Tensor, g: E.Tensor, b: E.Tensor): E.Tensor => {
      const r = E.batchNormTrain(x, g, b);
      return E.concat([E.reshape(r.y, [-1]), r.mean, r.var], 0);
    };
    await gradCheck(all, [[3, 2, 3, 2], [2], [2]]);
    await gradCheck((x, g, b) => E.batchNormTrain(x, g, b).y, [[5, 4], [4], [4]]);
  });
  it('variance stays accurate when |mean| >> std (float32)', async () => {
    E.setLowerings({ bn });
    const xv = Float32Array.from(randomArray(72, 8), (v) => 1000 + 0.01 * v);
    const x = E.input('x', [4, 2, 3, 3]);
    const r = E.batchNormTrain(x, E.constant([1, 1], [2]), E.constant([0, 0], [2]));
    const out = await E.evaluate({ var: r.var }, { x: xv });
    for (let ch = 0; ch < 2; ch++) {
      const vals = Array.from(xv).filter((_, i) => Math.floor(i / 9) % 2 === ch);
      const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
      const variance = vals.reduce((s, v) => s + (v - mean) ** 2, 0) / vals.length;
      expect(Math.abs(Number(out.var[ch]) - variance) / variance).toBeLessThan(0.02);
    }
  });
});

describe('the lowerings agree with each other', () => {
  it('prelu: where and min give the same values and gradients', async () => {
    const f = (x: E.Tensor, s: E.Tensor): E.Tensor => E.prelu(x, s);
    const slopes = [[0.25, -0.5, 1.5, 0]];
    const a = await valuesUnder({ prelu: 'where' }, f, [3, 4, 5, 5], slopes);
    const b = await valuesUnder({ prelu: 'min' }, f, [3, 4, 5, 5], slopes);
    expectClose(a, b, 10);
  });
  it('batchNormTrain: centred and affine give the same values and gradients', async () => {
    const f = (x: E.Tensor, g: E.Tensor, b: E.Tensor): E.Tensor => {
      const r = E.batchNormTrain(x, g, b);
      return E.concat([E.reshape(r.y, [-1]), r.mean, r.var], 0);
    };
    const gb = [
      [1.5, -0.5, 2],
      [0.1, 0, -1],
    ];
    const a = await valuesUnder({ bn: 'centred' }, f, [4, 3, 6, 5], gb);
    const b = await valuesUnder({ bn: 'affine' }, f, [4, 3, 6, 5], gb);
    expectClose(a, b, 9);
  });
});
