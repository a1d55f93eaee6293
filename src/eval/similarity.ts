/**
 * Cosine similarity scores computed by the engine (ONNX Runtime) rather than JS loops: per listed
 * pair by Gather + Mul + ReduceSum, and all pairs of a set by chunked matrix products.
 * Inputs are L2-normalised first, so a dot product is the cosine similarity.
 */
import { Program, type RuntimeOptions, gather, input, matmul, mul, reduceSum } from '../engine/index.js';

/** L2-normalise each row into a new array (one implementation for face/ and eval/: util/vector.ts). */
export { l2normalizeRows as l2Normalize } from '../util/vector.js';

/**
 * Cosine similarity of two embeddings, in [-1, 1].
 *
 * A zero vector has no direction and a non-finite one no meaning: both are refused rather than scored, since
 * the score would be NaN and a NaN compared with a threshold is silently "different" (or, written to JSON,
 * null).
 * @throws RangeError naming `names[0]` or `names[1]` on different lengths, an empty, zero or non-finite vector
 */
export function cosineSimilarity(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  names: readonly [string, string] = ['the first embedding', 'the second embedding'],
): number {
  if (a.length !== b.length) {
    throw new RangeError(`${names[0]} and ${names[1]} differ in length (${a.length} vs ${b.length})`);
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  for (const [norm2, name] of [
    [na, names[0]],
    [nb, names[1]],
  ] as const) {
    if (!(norm2 > 0 && Number.isFinite(norm2))) {
      const why =
        a.length === 0 ? 'is empty' : Number.isNaN(norm2) ? 'holds NaN' : `has norm ${Math.sqrt(norm2)}`;
      throw new RangeError(`${name} ${why}: it has no direction to compare`);
    }
  }
  // Rounding can put a vector and itself a hair above 1; the decision compares against thresholds up to 1.
  return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

/**
 * Check a cosine-similarity decision threshold.
 * @returns the threshold
 * @throws RangeError unless it is a number in [-1, 1] (NaN would make every pair "different", 5 too)
 */
export function checkThreshold(threshold: number): number {
  if (!(typeof threshold === 'number' && threshold >= -1 && threshold <= 1)) {
    throw new RangeError(
      `a cosine-similarity threshold must be a number in [-1, 1], got ${String(threshold)}`,
    );
  }
  return threshold;
}

/**
 * Same person or not: cosine similarity against a threshold (accept when similarity >= threshold).
 * @throws RangeError for a bad threshold or a vector {@link cosineSimilarity} refuses
 */
export function decideSame(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  threshold: number,
  names?: readonly [string, string],
): { readonly similarity: number; readonly same: boolean } {
  checkThreshold(threshold);
  const similarity = cosineSimilarity(a, b, names);
  return { similarity, same: similarity >= threshold };
}

/** Rows as columns: [n, dim] -> [dim, n], so the engine's MatMul needs no Transpose per chunk. */
export function transposeRows(rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim;
  const out = new Float32Array(rows.length);
  for (let r = 0; r < n; r++) for (let k = 0; k < dim; k++) out[k * n + r] = rows[r * dim + k];
  return out;
}

/** Options shared by the scoring functions. */
export interface ScoreOptions {
  /** ONNX Runtime intra-op threads (default: all cores). */
  readonly threads?: number;
  /** Where the engine runs the products (default 'cpu'; 'cuda' or 'auto' where the runtime has CUDA). */
  readonly device?: RuntimeOptions['device'];
  /** Called after each chunk with the work done and the total (rows or pairs). */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Runtime options for scoring graphs. The feeds' finiteness scan is off: inputs come through
 * {@link l2Normalize}, which rejects non-finite rows once, instead of rescanning a 100k-row gallery per chunk.
 */
export const scoringRuntime = (o: ScoreOptions): RuntimeOptions => ({
  threads: o.threads,
  device: o.device,
  checkFinite: false,
});

/**
 * Cosine similarity of listed pairs of rows.
 * @param normed L2-normalised rows, [n, dim]
 * @param indexA first row of each pair; `indexB` the second
 * @returns one score per pair, in [-1, 1]
 */
export async function pairScores(
  normed: Float32Array,
  dim: number,
  indexA: Int32Array,
  indexB: Int32Array,
  opts: ScoreOptions & { readonly chunk?: number } = {},
): Promise<Float32Array> {
  const n = normed.length / dim;
  const total = indexA.length;
  if (indexB.length !== total)
    throw new Error(`pairScores: ${total} first rows but ${indexB.length} second rows`);
  const chunk = Math.max(1, Math.min(opts.chunk ?? 65536, total));
  const x = input('rows', [n, dim]);
  const ia = input('a', [chunk], 'int64');
  const ib = input('b', [chunk], 'int64');
  const score = reduceSum(mul(gather(x, ia), gather(x, ib)), [1]);
  const program = await Program.compile({ outputs: { score } }, scoringRuntime(opts));
  // Each call builds its own graph, so its session is never reused: release it when done.
  try {
    const out = new Float32Array(total);
    const a = new BigInt64Array(chunk);
    const b = new BigInt64Array(chunk);
    for (let start = 0; start < total; start += chunk) {
      const m = Math.min(chunk, total - start);
      a.fill(0n);
      b.fill(0n);
      for (let i = 0; i < m; i++) {
        const [ra, rb] = [indexA[start + i], indexB[start + i]];
        if (!(ra >= 0 && ra < n && rb >= 0 && rb < n))
          throw new Error(`pairScores: pair ${start + i} names a row outside 0..${n - 1}`);
        a[i] = BigInt(ra);
        b[i] = BigInt(rb);
      }
      const r = await program.run({ rows: normed, a, b });
      out.set((r.score as Float32Array).subarray(0, m), start);
      opts.onProgress?.(start + m, total);
    }
    return out;
  } finally {
    await program.dispose();
  }
}

/** Genuine and impostor scores of every unordered pair of distinct rows. */
export interface AllPairsScores {
  readonly genuine: Float32Array;
  readonly impostor: Float32Array;
}

/** Above this many impostor pairs the score arrays (and their sort) stop fitting comfortably in memory. */
export const MAX_ALL_PAIRS = 200_000_000;

/**
 * Score all n(n-1)/2 pairs of a labelled set, by chunks of rows multiplied against all rows in the
 * engine; JS only files each score as genuine (same label) or impostor.
 * @param normed L2-normalised rows, [n, dim]
 * @param labels identity id per row
 */
export async function allPairsScores(
  normed: Float32Array,
  dim: number,
  labels: Int32Array,
  opts: ScoreOptions & { readonly maxElements?: number } = {},
): Promise<AllPairsScores> {
  const n = labels.length;
  if (normed.length !== n * dim)
    throw new Error(`allPairsScores: ${normed.length} floats for ${n} rows of ${dim}`);
  const perLabel = new Map<number, number>();
  for (const l of labels) perLabel.set(l, (perLabel.get(l) ?? 0) + 1);
  let genuineCount = 0;
  for (const c of perLabel.values()) genuineCount += (c * (c - 1)) / 2;
  const impostorCount = (n * (n - 1)) / 2 - genuineCount;
  if (impostorCount > MAX_ALL_PAIRS) {
    throw new Error(
      `all-pairs verification of ${n} embeddings makes ${impostorCount} impostor pairs (limit ${MAX_ALL_PAIRS}): use a subset`,
    );
  }
  const rows = Math.max(1, Math.min(n, Math.floor((opts.maxElements ?? 1 << 24) / n)));
  const q = input('q', [rows, dim]);
  const allT = input('allT', [dim, n]);
  const program = await Program.compile({ outputs: { s: matmul(q, allT) } }, scoringRuntime(opts));
  try {
    const all = transposeRows(normed, dim);
    const genuine = new Float32Array(genuineCount);
    const impostor = new Float32Array(impostorCount);
    let gi = 0;
    let ii = 0;
    const block = new Float32Array(rows * dim);
    for (let start = 0; start < n; start += rows) {
      const m = Math.min(rows, n - start);
      block.fill(0);
      block.set(normed.subarray(start * dim, (start + m) * dim));
      const s = (await program.run({ q: block, allT: all })).s as Float32Array;
      for (let r = 0; r < m; r++) {
        const i = start + r;
        const li = labels[i];
        const row = r * n;
        for (let j = i + 1; j < n; j++) {
          if (labels[j] === li) genuine[gi++] = s[row + j];
          else impostor[ii++] = s[row + j];
        }
      }
      opts.onProgress?.(start + m, n);
    }
    return { genuine, impostor };
  } finally {
    await program.dispose();
  }
}
