/**
 * Running an unknown ONNX recogniser under each candidate input normalisation on the same aligned pair
 * crops. A wrong channel order or scale still gives embeddings, just worse ones, so only the pairs can
 * judge: the caller ranks the score sets (eval's `rankScoreSets`; face does not import eval).
 */
import { loadOnnxRecognizer } from './embed-onnx.js';
import { NORMALIZATION_CANDIDATES } from './model-card.js';
import type { PixelNormalization } from './tensor-input.js';
import type { RgbImage } from './types.js';

/** One candidate's cosine scores on the pairs. */
export interface CandidateScores {
  readonly name: string;
  readonly normalization: PixelNormalization;
  /** Cosine similarity per pair, in pair order. */
  readonly scores: Float32Array;
}

/**
 * Pair scores under each normalisation candidate.
 * @param modelPath the .onnx recogniser (loaded once per candidate, without any model card)
 * @param crops aligned crops at the model's input size
 * @param a,b crop indices of each pair
 * @param opts.candidates default: {@link NORMALIZATION_CANDIDATES}
 * @param opts.onProgress called after each candidate with the number done and the total
 */
export async function scoreNormalizations(
  modelPath: string,
  crops: readonly RgbImage[],
  a: Int32Array,
  b: Int32Array,
  opts: {
    readonly flip?: boolean;
    readonly threads?: number;
    readonly candidates?: Readonly<Record<string, PixelNormalization>>;
    readonly onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<CandidateScores[]> {
  if (a.length !== b.length || a.length === 0) {
    throw new Error(`normalization search: ${a.length} and ${b.length} pair ends, expected equal and > 0`);
  }
  const candidates = Object.entries(opts.candidates ?? NORMALIZATION_CANDIDATES);
  const results: CandidateScores[] = [];
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
    results.push({ name, normalization, scores });
    opts.onProgress?.(results.length, candidates.length);
  }
  return results;
}
