/** Vector helpers shared by the rooms that handle embeddings on the host (face/, eval/, gallery/): normalisation and cosine decisions. */

/**
 * L2-normalise each `dim`-long row of `vectors`: row / |row|, the norm summed in double precision.
 * @param name how to name a row in the error (default `embedding R`)
 * @param out where to write (default a new array; pass `vectors` itself to normalise in place)
 * @returns `out`
 * @throws naming the row, on a zero or non-finite row (it has no direction to compare)
 */
export function l2normalizeRows(
  vectors: Float32Array,
  dim: number,
  name: (row: number) => string = (r) => `embedding ${r}`,
  out: Float32Array = new Float32Array(vectors.length),
): Float32Array {
  for (let r = 0; r * dim < vectors.length; r++) {
    let ss = 0;
    for (let k = r * dim; k < (r + 1) * dim; k++) ss += vectors[k] * vectors[k];
    const n = Math.sqrt(ss);
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name(r)} has norm ${n}: cannot normalise it`);
    for (let k = r * dim; k < (r + 1) * dim; k++) out[k] = vectors[k] / n;
  }
  return out;
}

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
