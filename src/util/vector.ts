/** Vector helpers shared by the rooms that handle embeddings on the host (face/, eval/). */

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
