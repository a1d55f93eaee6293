/**
 * Facts about specific model files, keyed by SHA-256 so a renamed copy is still recognised: input
 * conventions that differ from InsightFace's, measured thresholds, and terms of use.
 */
import type { PixelNormalization } from './tensor-input.js';

/** What the project knows about one recogniser file. */
export interface KnownRecognizer {
  readonly name: string;
  readonly normalization: PixelNormalization;
  /**
   * Cosine threshold for same/different, with where it comes from. Measured through this project's
   * pipeline (SCRFD-500m landmarks, flip-augmented embeddings).
   */
  readonly threshold?: number;
  readonly terms: string;
}

/** InsightFace's ArcFace ONNX recognisers (buffalo_l, antelopev2, ...): RGB, (x - 127.5) / 127.5. */
export const INSIGHTFACE_NORMALIZATION: PixelNormalization = { mean: 127.5, std: 127.5, order: 'rgb' };

const RECOGNIZERS: Readonly<Record<string, KnownRecognizer>> = {
  f055d9c9a4d826d198c42666590fdefa0fdc1374a75ccb6306c3d1b1bf8f74c5: {
    name: 'MobileFaceNet 128-d (diandianti/photo_analyze models/mobilefacenet.onnx)',
    normalization: { mean: 127.5, std: 128, order: 'rgb' },
    // LFW pairs, 10-fold, SCRFD-500m landmarks: best-accuracy threshold 0.2885 on average with flip (98.92% +- 0.29),
    // 0.2840 without (99.02% +- 0.30). On LFW's 3000 impostor pairs (flip on) 0.25 gives FAR 1e-2 (TAR 98.6%) and
    // 0.33 gives FAR 1e-3 (TAR 97.8%).
    threshold: 0.29,
    terms: 'training data and licence not stated by its source: use for testing only',
  },
};

/** The known facts for a recogniser file, by its SHA-256 (hex), or undefined. */
export function knownRecognizer(sha256: string): KnownRecognizer | undefined {
  return RECOGNIZERS[sha256];
}
