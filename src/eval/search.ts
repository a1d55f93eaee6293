/**
 * 1:N search of probes against a gallery in the engine: per chunk of probes, one MatMul against the
 * whole gallery, then TopK, the mate's score and the mate's rank, all in-graph. Only [chunk, k]
 * results cross into JS, never the [probes, gallery] score matrix.
 */
import {
  Program,
  cast,
  gatherElements,
  greaterOrEqual,
  input,
  matmul,
  reduceSum,
  topK,
} from '../engine/index.js';
import { type ScoreOptions, scoringRuntime, transposeRows } from './similarity.js';

/** What a search returns per probe. */
export interface SearchResult {
  /** Candidates kept per probe. */
  readonly k: number;
  /** [probes * k] gallery rows, best first. */
  readonly topIndex: Int32Array;
  /** [probes * k] their cosine similarities. */
  readonly topScore: Float32Array;
  /**
   * 1-based rank of the probe's mate: 1 + the number of other gallery rows scoring at least as high
   * (ties count against the mate, so identical embeddings cannot look perfect). 0 for probes
   * without a mate.
   */
  readonly rank: Int32Array;
  /** Score against the mate; NaN for probes without one. */
  readonly matedScore: Float32Array;
}

/** Search options. */
export interface SearchOptions extends ScoreOptions {
  /** Candidates to keep per probe (default 5, at most the gallery size). */
  readonly k?: number;
  /** Upper bound on probes x gallery scores alive in one run (default 2^24, 64 MiB of float32). */
  readonly maxElements?: number;
}

/**
 * Search L2-normalised probes against an L2-normalised gallery.
 * @param probes [p, dim]
 * @param gallery [g, dim]
 * @param mate per probe, the gallery row of the same identity, or -1 when it has none (open set)
 */
export async function searchGallery(
  probes: Float32Array,
  gallery: Float32Array,
  dim: number,
  mate: Int32Array,
  opts: SearchOptions = {},
): Promise<SearchResult> {
  const p = probes.length / dim;
  const g = gallery.length / dim;
  if (!Number.isInteger(p) || !Number.isInteger(g) || g < 1) {
    throw new Error(
      `search: ${probes.length} probe and ${gallery.length} gallery floats do not make rows of ${dim}`,
    );
  }
  if (mate.length !== p) throw new Error(`search: ${mate.length} mates for ${p} probes`);
  const k = Math.min(opts.k ?? 5, g);
  const rows = Math.max(1, Math.min(p, Math.floor((opts.maxElements ?? 1 << 24) / g)));

  const q = input('probes', [rows, dim]);
  const galleryT = input('galleryT', [dim, g]);
  const mateIdx = input('mate', [rows, 1], 'int64');
  const s = matmul(q, galleryT);
  const matedScore = gatherElements(s, mateIdx, 1);
  const rank = reduceSum(cast(greaterOrEqual(s, matedScore), 'float32'), [1]);
  const [topScore, topIdx] = topK(s, k, 1);
  const program = await Program.compile(
    { outputs: { topScore, topIdx, matedScore, rank } },
    scoringRuntime(opts),
  );

  // Each call builds its own graph, so its session is never reused: release it when done.
  try {
    const gT = transposeRows(gallery, dim);
    const out: SearchResult = {
      k,
      topIndex: new Int32Array(p * k),
      topScore: new Float32Array(p * k),
      rank: new Int32Array(p),
      matedScore: new Float32Array(p),
    };
    const block = new Float32Array(rows * dim);
    const mates = new BigInt64Array(rows);
    for (let start = 0; start < p; start += rows) {
      const m = Math.min(rows, p - start);
      block.fill(0);
      block.set(probes.subarray(start * dim, (start + m) * dim));
      mates.fill(0n);
      for (let i = 0; i < m; i++) {
        const t = mate[start + i];
        if (t >= g || t < -1) throw new Error(`search: probe ${start + i} names gallery row ${t} of ${g}`);
        if (t >= 0) mates[i] = BigInt(t);
      }
      const r = await program.run({ probes: block, galleryT: gT, mate: mates });
      const ti = r.topIdx as BigInt64Array;
      for (let i = 0; i < m * k; i++) out.topIndex[start * k + i] = Number(ti[i]);
      out.topScore.set((r.topScore as Float32Array).subarray(0, m * k), start * k);
      const rk = r.rank as Float32Array;
      const ms = r.matedScore as Float32Array;
      for (let i = 0; i < m; i++) {
        const has = mate[start + i] >= 0;
        out.rank[start + i] = has ? rk[i] : 0;
        out.matedScore[start + i] = has ? ms[i] : NaN;
      }
      opts.onProgress?.(start + m, p);
    }
    return out;
  } finally {
    await program.dispose();
  }
}
