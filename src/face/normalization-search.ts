/**
 * Finding the input normalisation of an unknown ONNX recogniser: embed the same aligned crops under each
 * candidate convention and keep the one whose pair scores separate genuine from impostor pairs best (AUC,
 * then d'). A wrong channel order or scale still gives embeddings, just worse ones, so the pairs
 * are the only judge.
 */
import { auc, rocCurve } from '../eval/roc.js';
import { bestThreshold } from '../eval/kfold.js';
import { loadOnnxRecognizer } from './embed-onnx.js';
import { NORMALIZATION_CANDIDATES } from './model-card.js';
import type { PixelNormalization } from './tensor-input.js';
import type { RgbImage } from './types.js';

/** One candidate's result on the search pairs. */
export interface NormalizationScore {
  readonly name: string;
  readonly normalization: PixelNormalization;
  /** Area under the ROC curve of the pair scores, in [0, 1]. */
  readonly auc: number;
  /** Accuracy at the best threshold on these pairs, in [0, 1] (optimistic: chosen on the same pairs). */
  readonly accuracy: number;
  /**
   * d': the gap between the genuine and impostor mean scores over their pooled standard deviation. Breaks
   * ties when a small search set is separated perfectly (AUC 1) by several candidates.
   */
  readonly separation: number;
}

/** Mean and population variance. */
function moments(s: Float32Array): [number, number] {
  let m = 0;
  for (const v of s) m += v;
  m /= s.length;
  let q = 0;
  for (const v of s) q += (v - m) * (v - m);
  return [m, q / s.length];
}

/**
 * Score each normalisation candidate on pairs of aligned crops.
 * @param modelPath the .onnx recogniser (loaded once per candidate, without any model card)
 * @param crops aligned crops at the model's input size
 * @param a,b crop indices of each pair
 * @param same 1 for a genuine pair, 0 for an impostor pair
 * @param opts.onProgress called after each candidate with the number done and the total
 * @returns the candidates, best first
 */
export async function searchNormalization(
  modelPath: string,
  crops: readonly RgbImage[],
  a: Int32Array,
  b: Int32Array,
  same: Uint8Array,
  opts: {
    readonly flip?: boolean;
    readonly threads?: number;
    readonly candidates?: Readonly<Record<string, PixelNormalization>>;
    readonly onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<NormalizationScore[]> {
  if (a.length !== b.length || a.length !== same.length || a.length === 0) {
    throw new Error(
      `normalization search: ${a.length}/${b.length}/${same.length} pair rows, expected equal and > 0`,
    );
  }
  if (!same.includes(1) || !same.includes(0)) {
    throw new Error('normalization search: the pairs need both genuine and impostor pairs');
  }
  const candidates = Object.entries(opts.candidates ?? NORMALIZATION_CANDIDATES);
  const results: NormalizationScore[] = [];
  for (const [name, normalization] of candidates) {
    const rec = await loadOnnxRecognizer(modelPath, {
      normalization,
      flip: opts.flip,
      threads: opts.threads,
    });
    let vectors: Float32Array[];
    try {
      vectors = await rec.embed(crops);
    } finally {
      await rec.dispose();
    }
    const scores = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const u = vectors[a[i]];
      const v = vectors[b[i]];
      let dot = 0;
      for (let k = 0; k < u.length; k++) dot += u[k] * v[k];
      scores[i] = dot;
    }
    const genuine = scores.filter((_, i) => same[i] === 1);
    const impostor = scores.filter((_, i) => same[i] !== 1);
    const [mg, vg] = moments(genuine);
    const [mi, vi] = moments(impostor);
    results.push({
      name,
      normalization,
      auc: auc(rocCurve(genuine, impostor)),
      accuracy: bestThreshold(scores, same).accuracy,
      separation: (mg - mi) / Math.sqrt((vg + vi) / 2 || Number.EPSILON),
    });
    opts.onProgress?.(results.length, candidates.length);
  }
  return results.sort((x, y) => y.auc - x.auc || y.separation - x.separation);
}
