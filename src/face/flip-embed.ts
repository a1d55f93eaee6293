/**
 * The recognisers' shared last step: run each crop (and, with flip, its mirror image), sum the rows
 * of one crop and L2-normalise. Summing before normalising is InsightFace's evaluation practice.
 */
import { l2normalizeRows } from '../util/vector.js';
import type { RgbImage } from './types.js';

/** One recogniser input row: a crop, mirrored or not. */
export interface CropRow {
  readonly crop: RgbImage;
  readonly flip: boolean;
}

/**
 * Embed `crops`, each with its mirror image when `flip`.
 * @param runRows model outputs for the rows, one `dim`-vector per row, in order
 * @returns one unit-length `dim`-vector per crop
 */
export async function embedCrops(
  crops: readonly RgbImage[],
  flip: boolean,
  dim: number,
  spec: string,
  runRows: (rows: readonly CropRow[]) => Promise<Float32Array[]>,
): Promise<Float32Array[]> {
  const rows: CropRow[] = crops.flatMap((crop) =>
    flip
      ? [
          { crop, flip: false },
          { crop, flip: true },
        ]
      : [{ crop, flip: false }],
  );
  const out = await runRows(rows);
  const copies = flip ? 2 : 1;
  return crops.map((_, i) => {
    const v = new Float32Array(dim);
    for (let r = 0; r < copies; r++) {
      const row = out[i * copies + r];
      for (let j = 0; j < dim; j++) v[j] += row[j];
    }
    return l2normalizeRows(v, dim, () => `${spec}: the embedding`, v);
  });
}
