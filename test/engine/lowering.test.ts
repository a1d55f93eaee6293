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
    expect(() => E.parseLowerings('prelu=max')).toThrow(/prelu takes where or min or lean, got 'max'/);
  });
  it('setLowerings returns the previous choice and keeps unnamed fields', () => {
    const before = E.lowerings();
    const prev = E.setLowerings({ prelu: 'min' });
    expect(prev).toEqual(before);
    expect(E.lowerings()).toEqual({ ...before, prelu: 'min' });
  });
});

describe.each(['where', 'min', 'lean'] as const)('prelu lowered as %s', (prelu) => {
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
  it('prelu: where, min and lean give the same values and gradients', async () => {
    const f = (x: E.Tensor, s: E.Tensor): E.Tensor => E.prelu(x, s);
    const slopes = [[0.25, -0.5, 1.5, 0]];
    const a = await valuesUnder({ prelu: 'where' }, f, [3, 4, 5, 5], slopes);
    const b = await valuesUnder({ prelu: 'min' }, f, [3, 4, 5, 5], slopes);
    const c = await valuesUnder({ prelu: 'lean' }, f, [3, 4, 5, 5], slopes);
    expectClose(a, b, 10);
    expectClose(a, c, 10);
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

/**
 * Which full-size float terms of the PReLU backward are functions of x alone: ONNX Runtime runs such a
 * node during the forward pass (its inputs exist there) and holds it until the backward, which raised
 * MobileFaceNet's peak by 0.7 GB at batch 64 without the arena (docs/TRAINING-SPEED.md). 'lean' has none
 * (only the bool x > 0); 'min' and 'where' trade them for fewer passes.
 */
describe('PReLU backward: full-size float terms of x alone', () => {
  const expected = { lean: [], min: ['Where', 'Min'], where: ['Min'] } as const;
  for (const prelu of ['lean', 'min', 'where'] as const) {
    it(`prelu=${prelu}`, () => {
      const previous = E.setLowerings({ prelu });
      try {
        const x = E.input('x', [2, 3, 4, 4]);
        const slope = E.input('slope', [3]);
        const y = E.prelu(x, slope);
        const g = E.input('g', y.shape);
        const [dx, ds] = E.grad(y, [x, slope], g);
        // Walk the backward's nodes (made after y) and record which tensors depend on g.
        const dependsOnG = new Map<number, boolean>();
        const visit = (t: E.Tensor): boolean => {
          const known = dependsOnG.get(t.id);
          if (known !== undefined) return known;
          const src = t.source;
          const d =
            src.kind === 'input'
              ? src.name === 'g'
              : src.kind === 'op' && src.node.inputs.map(visit).some(Boolean);
          dependsOnG.set(t.id, d);
          return d;
        };
        const offenders: string[] = [];
        const walk = (t: E.Tensor, seen = new Set<number>()): void => {
          if (seen.has(t.id) || t.source.kind !== 'op') return;
          seen.add(t.id);
          const fullSize = t.size === x.size && t.dtype === 'float32';
          if (t.id > y.id && fullSize && !visit(t)) offenders.push(`${t.source.node.op.name} [${t.shape}]`);
          for (const u of t.source.node.inputs) walk(u, seen);
        };
        walk(dx);
        walk(ds);
        expect(offenders.map((o) => o.split(' ')[0]).sort()).toEqual([...expected[prelu]].sort());
        // The check can fail: the product of x and the slope alone is such a term.
        const bad = E.mul(x, E.reshape(slope, [1, 3, 1, 1]));
        expect(bad.id > y.id && !visit(bad)).toBe(true);
      } finally {
        E.setLowerings(previous);
      }
    });
  }
});
