/**
 * The k-nearest-neighbour graph of a set of embeddings, by cosine similarity, computed in the engine:
 * per block of rows one MatMul against all rows, then TopK, in-graph. Only [block, k + 1] results reach
 * JS, so memory is O(n k) rather than the O(n^2) of the full similarity matrix (13,233 LFW faces: 700 MB
 * of float32 for the matrix, 3.4 MB for k = 32).
 */
import { Program, input, matmul, topK } from '../engine/index.js';
import { type ScoreOptions, scoringRuntime, transposeRows } from '../eval/similarity.js';

/** Each row's k most similar other rows, best first. */
export interface NeighbourGraph {
  /** Rows. */
  readonly n: number;
  /** Neighbours kept per row (at most n - 1). */
  readonly k: number;
  /** [n * k] neighbour rows; row i's list is entries i*k .. i*k+k-1. */
  readonly index: Int32Array;
  /** [n * k] their cosine similarities, descending within a row. */
  readonly score: Float32Array;
}

/** Options for {@link neighbourGraph}. */
export interface NeighbourOptions extends ScoreOptions {
  /** Upper bound on block x n scores alive in one engine run (default 2^24, 64 MiB of float32). */
  readonly maxElements?: number;
}

/**
 * Build the k-nearest-neighbour graph.
 * @param normed L2-normalised rows, [n, dim]
 * @param k neighbours per row, clipped to n - 1
 * @throws when the floats do not make rows of `dim`, or k < 1
 */
export async function neighbourGraph(
  normed: Float32Array,
  dim: number,
  k: number,
  opts: NeighbourOptions = {},
): Promise<NeighbourGraph> {
  const n = normed.length / dim;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`neighbourGraph: ${normed.length} floats do not make rows of ${dim}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new Error(`neighbourGraph: k must be an integer >= 1, got ${k}`);
  const kk = Math.min(k, n - 1);
  if (kk === 0) return { n, k: 0, index: new Int32Array(0), score: new Float32Array(0) };
  // One more than asked, since a row is its own nearest neighbour (or ties with an identical row).
  const take = kk + 1;
  const rows = Math.max(1, Math.min(n, Math.floor((opts.maxElements ?? 1 << 24) / n)));
  const q = input('q', [rows, dim]);
  const allT = input('allT', [dim, n]);
  const [topScore, topIdx] = topK(matmul(q, allT), take, 1);
  const program = await Program.compile({ outputs: { topScore, topIdx } }, scoringRuntime(opts));
  const all = transposeRows(normed, dim);
  const index = new Int32Array(n * kk);
  const score = new Float32Array(n * kk);
  const block = new Float32Array(rows * dim);
  for (let start = 0; start < n; start += rows) {
    const m = Math.min(rows, n - start);
    block.fill(0);
    block.set(normed.subarray(start * dim, (start + m) * dim));
    const r = await program.run({ q: block, allT: all });
    const ti = r.topIdx as BigInt64Array;
    const ts = r.topScore as Float32Array;
    for (let b = 0; b < m; b++) {
      const i = start + b;
      let out = i * kk;
      // Drop the row itself wherever it sits among ties; if it is absent (k + 1 identical rows), the last.
      let skipped = false;
      for (let t = 0; t < take && out < (i + 1) * kk; t++) {
        const j = Number(ti[b * take + t]);
        if (!skipped && j === i) {
          skipped = true;
          continue;
        }
        index[out] = j;
        score[out++] = ts[b * take + t];
      }
    }
    opts.onProgress?.(start + m, n);
  }
  return { n, k: kk, index, score };
}

/** The same graph keeping only each row's first `k` neighbours (lists are sorted, so this is the k-NN graph). */
export function truncateGraph(g: NeighbourGraph, k: number): NeighbourGraph {
  if (!Number.isInteger(k) || k < 1) throw new Error(`truncateGraph: k must be an integer >= 1, got ${k}`);
  if (k >= g.k) return g;
  const index = new Int32Array(g.n * k);
  const score = new Float32Array(g.n * k);
  for (let i = 0; i < g.n; i++) {
    index.set(g.index.subarray(i * g.k, i * g.k + k), i * k);
    score.set(g.score.subarray(i * g.k, i * g.k + k), i * k);
  }
  return { n: g.n, k, index, score };
}
