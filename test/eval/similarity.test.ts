import { describe, expect, it } from 'vitest';
import { evaluate, input, topK } from '../../src/engine/index.js';
import { auc, rocCurve } from '../../src/eval/roc.js';
import { allPairsScores, l2Normalize, pairScores, transposeRows } from '../../src/eval/similarity.js';
import { vectors } from './vectors.js';

describe('engine scoring', () => {
  it('scores listed pairs as cosine similarities, across chunk boundaries', async () => {
    const raw = Float32Array.from([3, 4, 0, 0, 0, 2, -1, 0, 0, 1, 1, 1]);
    const x = l2Normalize(raw, 3);
    const a = Int32Array.from([0, 1, 2, 3, 0, 0, 3]);
    const b = Int32Array.from([1, 2, 3, 0, 0, 2, 3]);
    const got = await pairScores(x, 3, a, b, { chunk: 3 });
    const cos = (i: number, j: number): number => {
      const u = raw.subarray(i * 3, i * 3 + 3);
      const v = raw.subarray(j * 3, j * 3 + 3);
      const dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
      return dot / Math.hypot(...u) / Math.hypot(...v);
    };
    [...a].forEach((ai, k) => expect(got[k]).toBeCloseTo(cos(ai, b[k]), 6));
    await expect(pairScores(x, 3, Int32Array.from([0]), Int32Array.from([9]))).rejects.toThrow(
      /row outside 0\.\.3/,
    );
  });

  it('refuses vectors with no direction, naming the row', () => {
    expect(() => l2Normalize(Float32Array.from([1, 0, 0, 0]), 2)).toThrow(
      'embedding 1 has norm 0: cannot normalise it',
    );
    expect(() => l2Normalize(Float32Array.from([1, 0]), 2, () => 'the embedding of A.jpg')).not.toThrow();
  });

  it('scores all pairs of a labelled set like scikit-learn cosine_similarity + roc_auc_score', async () => {
    const ap = vectors.allPairs;
    const x = l2Normalize(Float32Array.from(ap.embeddings), ap.dim);
    // A small maxElements forces several row chunks, the last one padded.
    const r = await allPairsScores(x, ap.dim, Int32Array.from(ap.labels), { maxElements: 40 * 7 });
    expect(r.genuine.length).toBe(ap.genuinePairs);
    expect(r.impostor.length).toBe(ap.impostorPairs);
    expect(r.genuine.reduce((s, v) => s + v, 0) / r.genuine.length).toBeCloseTo(ap.genuineMean, 6);
    expect(auc(rocCurve(r.genuine, r.impostor))).toBeCloseTo(ap.auc, 5);
  });

  it('transposes rows into columns', () => {
    expect([...transposeRows(Float32Array.from([1, 2, 3, 4, 5, 6]), 3)]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

describe('TopK primitive', () => {
  it('returns the k largest or smallest values and their int64 indices along an axis', async () => {
    const x = input('x', [2, 5]);
    const [v, i] = topK(x, 3, 1);
    const [vs, is] = topK(x, 2, -1, false);
    const [vc, ic] = topK(x, 1, 0);
    expect(v.shape).toEqual([2, 3]);
    expect(i.dtype).toBe('int64');
    const out = await evaluate(
      { v, i, vs, is, vc, ic },
      { x: Float32Array.from([0.1, 0.9, -2, 0.5, 0.3, 4, 3, 2, 1, 0]) },
    );
    expect([...(out.v as Float32Array)].map((n) => +n.toFixed(5))).toEqual([0.9, 0.5, 0.3, 4, 3, 2]);
    expect([...(out.i as BigInt64Array)]).toEqual([1n, 3n, 4n, 0n, 1n, 2n]);
    expect([...(out.is as BigInt64Array)]).toEqual([2n, 0n, 4n, 3n]);
    expect([...(out.ic as BigInt64Array)]).toEqual([1n, 1n, 1n, 1n, 0n]);
    expect((out.vc as Float32Array)[0]).toBe(4);
  });

  it('rejects k outside the axis and non-float input', () => {
    expect(() => topK(input('x', [2, 5]), 6, 1)).toThrow(/TopK: k = 6 must be in 1\.\.5/);
    expect(() => topK(input('x', [2, 5]), 0)).toThrow(/TopK/);
    expect(() => topK(input('n', [3], 'int64'), 1)).toThrow(/TopK: needs a float operand/);
  });
});
