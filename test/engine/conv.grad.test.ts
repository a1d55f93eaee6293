import { afterEach, describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { setUnfoldChunkBytesForTesting } from '../../src/engine/ops/conv-chunks.js';
import { gradCheck, randomArray } from '../helpers/gradcheck.js';

// ONNX Runtime's CPU Conv and ConvTranspose are float32-only.
const f32 = { dtype: 'float32' as const, maxEntries: 20 };

interface Case {
  readonly name: string;
  readonly x: readonly number[];
  readonly w: readonly number[];
  readonly opts: E.Conv2dOptions;
}

const cases: readonly Case[] = [
  { name: '3x3 stride 1 pad 1', x: [2, 3, 5, 5], w: [4, 3, 3, 3], opts: { pads: 1 } },
  { name: '3x3 stride 2 pad 1, odd sizes', x: [2, 3, 7, 6], w: [4, 3, 3, 3], opts: { pads: 1, strides: 2 } },
  { name: '3x3 stride 2 pad 0, unread last rows', x: [1, 2, 8, 7], w: [3, 2, 3, 3], opts: { strides: 2 } },
  {
    name: 'dilation 2, asymmetric pads',
    x: [1, 2, 7, 6],
    w: [3, 2, 3, 3],
    opts: { pads: [2, 1, 0, 1], dilations: 2 },
  },
  { name: 'group 2, stride 2', x: [2, 4, 5, 5], w: [6, 2, 3, 3], opts: { pads: 1, group: 2, strides: 2 } },
  { name: 'depthwise 3x3', x: [2, 4, 5, 5], w: [4, 1, 3, 3], opts: { pads: 1, group: 4 } },
  {
    name: 'depthwise 3x3 stride 2',
    x: [2, 3, 7, 7],
    w: [3, 1, 3, 3],
    opts: { pads: 1, group: 3, strides: 2 },
  },
  { name: 'depthwise multiplier 2', x: [1, 2, 5, 4], w: [4, 1, 3, 3], opts: { pads: 1, group: 2 } },
  { name: '1x1', x: [2, 4, 3, 5], w: [6, 4, 1, 1], opts: {} },
  { name: '1x1 stride 2', x: [2, 4, 5, 5], w: [3, 4, 1, 1], opts: { strides: 2 } },
  { name: '1x1 with padding', x: [1, 3, 3, 3], w: [2, 3, 1, 1], opts: { pads: 1 } },
  {
    name: 'rectangular kernel, mixed strides',
    x: [1, 2, 6, 7],
    w: [3, 2, 2, 3],
    opts: { strides: [2, 1], pads: [1, 0] },
  },
];

/** Direct loops over the definition of ONNX Conv (cross-correlation with zero padding). */
function referenceConv(
  x: Float32Array,
  [n, c, h, wd]: readonly number[],
  w: Float32Array,
  [o, cg, kh, kw]: readonly number[],
  { strides: [sh, sw], pads: [pt, pl, pb, pr], dilations: [dh, dw], group }: E.ConvGeometry,
): { y: Float64Array; shape: number[] } {
  const ho = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const wo = Math.floor((wd + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const y = new Float64Array(n * o * ho * wo);
  const og = o / group;
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og);
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++) {
          let sum = 0;
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const iy = oy * sh - pt + i * dh;
                const ix = ox * sw - pl + j * dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                sum += x[((b * c + g * cg + ci) * h + iy) * wd + ix] * w[((oc * cg + ci) * kh + i) * kw + j];
              }
          y[((b * o + oc) * ho + oy) * wo + ox] = sum;
        }
    }
  return { y, shape: [n, o, ho, wo] };
}

describe('conv2d forward', () => {
  it('matches direct loops with strides, asymmetric pads, dilations and groups', async () => {
    const xs = [2, 4, 7, 6];
    const ws = [6, 2, 3, 2];
    const opts: E.Conv2dOptions = { strides: [2, 1], pads: [1, 0, 2, 1], dilations: [1, 2], group: 2 };
    const xv = Float32Array.from(randomArray(E.sizeOf(xs), 1));
    const wv = Float32Array.from(randomArray(E.sizeOf(ws), 2));
    const y = E.conv2d(E.input('x', xs), E.input('w', ws), opts);
    const ref = referenceConv(xv, xs, wv, ws, E.convGeometry(opts));
    expect(y.shape).toEqual(ref.shape);
    const out = await E.evaluate({ y }, { x: xv, w: wv });
    expect(Array.from(out.y as Float32Array)).toEqual(Array.from(ref.y, (v) => expect.closeTo(v, 5)));
  });
  it('names Conv and both shapes when the channel counts disagree', () => {
    const x = E.input('x', [1, 3, 8, 8]);
    const w = E.input('w', [4, 2, 3, 3]);
    expect(() => E.conv2d(x, w)).toThrow(E.ShapeError);
    expect(() => E.conv2d(x, w)).toThrow(/^Conv: .*float32\[1,3,8,8\], float32\[4,2,3,3\]/);
    expect(() => E.conv2d(x, E.input('w', [4, 3, 9, 9]))).toThrow(/Conv: .*does not fit/);
  });
});

describe('conv2d VJPs match finite differences', () => {
  for (const c of cases) {
    for (const lowering of ['auto', 'reference'] as const) {
      it(`${c.name} (${lowering} lowering)`, async () => {
        await gradCheck((x, w) => E.conv2d(x, w, { ...c.opts, lowering }), [c.x, c.w], f32);
      });
    }
  }
});

describe('the gradient primitives are differentiable too (second order)', () => {
  for (const c of cases.filter((k) =>
    ['3x3 stride 2 pad 1, odd sizes', 'group 2, stride 2', '1x1'].includes(k.name),
  )) {
    it(c.name, async () => {
      const y = E.conv2d(E.input('x', c.x), E.input('w', c.w), c.opts);
      await gradCheck((dy, w) => E.convGradInput(dy, w, c.x, c.opts), [y.shape, c.w], f32);
      await gradCheck((x, dy) => E.convGradWeight(x, dy, c.w, c.opts), [c.x, y.shape], f32);
    });
  }
});

// The weight gradient unfolds x in batch chunks to bound its memory (conv-chunks.ts); the budget is
// 96 MB, so these small shapes shrink it to force one or two images per chunk.

const chunkCases: readonly Case[] = [
  // O <= Ho*Wo: batched per-image MatMuls summed over the chunk.
  { name: '3x3 pad 1', x: [5, 2, 6, 6], w: [3, 2, 3, 3], opts: { pads: 1 } },
  // O > Ho*Wo: images folded into one MatMul's contraction.
  { name: '3x3 pad 1, more channels than pixels', x: [5, 2, 2, 2], w: [6, 2, 3, 3], opts: { pads: 1 } },
  {
    name: 'depthwise 3x3 stride 2',
    x: [5, 4, 5, 5],
    w: [4, 1, 3, 3],
    opts: { pads: 1, group: 4, strides: 2 },
  },
  // Groups of 2 channels with 3 outputs each (MobileFaceNet's conv2_dw has 2 and 2).
  { name: 'group 2, 2 channels per group', x: [5, 4, 5, 5], w: [6, 2, 3, 3], opts: { pads: 1, group: 2 } },
];

async function gradWeight(c: Case): Promise<Float32Array> {
  const y = E.conv2d(E.input('x', c.x), E.input('w', c.w), c.opts);
  const dw = E.convGradWeight(E.input('x', c.x), E.input('dy', y.shape), c.w, c.opts);
  const out = await E.evaluate(
    { dw },
    {
      x: Float32Array.from(randomArray(E.sizeOf(c.x), 3)),
      dy: Float32Array.from(randomArray(E.sizeOf(y.shape), 4)),
    },
    { threads: 1 },
  );
  return out.dw as Float32Array;
}

describe('chunked convolution weight gradients', () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  for (const c of chunkCases) {
    it(`${c.name}: same result in one chunk, per image and two images per chunk`, async () => {
      const whole = await gradWeight(c);
      const perImage = (E.sizeOf(c.x) / c.x[0]) * 4 * c.w[2] * c.w[3];
      for (const images of [1, 2]) {
        restore = setUnfoldChunkBytesForTesting(images * perImage);
        const chunked = await gradWeight(c);
        restore();
        expect(chunked.length).toBe(whole.length);
        for (let i = 0; i < whole.length; i++) expect(chunked[i]).toBeCloseTo(whole[i], 4);
      }
    });
  }

  it('matches finite differences with one image per chunk', async () => {
    restore = setUnfoldChunkBytesForTesting(1);
    for (const c of chunkCases) {
      await gradCheck((x, w) => E.conv2d(x, w, c.opts), [c.x, c.w], { dtype: 'float32', maxEntries: 16 });
    }
  });
});
