/** Small pieces the face routes and the gallery routes share. */
import type { AssessedFace, FaceEmbedding } from '../face/pipeline.js';
import { GalleryError } from '../gallery/errors.js';
import type { InferencePool } from './inference-pool.js';
import { ProblemError } from './problems.js';
import type { FaceOut, ModelsOut } from './schemas.js';

/** Either security scheme carries the API key (OpenAPI `security`). */
export const SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];

/** A detected face as the API returns it. */
export function faceOut(face: AssessedFace): FaceOut {
  const q = face.quality;
  return {
    box: face.box,
    score: face.score,
    landmarks: face.landmarks.map(([x, y]) => [x, y] as [number, number]),
    quality: {
      score: q.score,
      size: q.size,
      sharpness: q.sharpness,
      yaw: q.yaw,
      pitch: q.pitch,
      roll: q.roll,
      detectorScore: q.detectorScore,
      factors: q.factors,
    },
  };
}

/** The models every response names. */
export function modelsOut(pool: InferencePool): ModelsOut {
  const m = pool.models;
  return { detector: m.detector, recognizer: m.recognizer, dim: m.dim };
}

/** The threshold to use: the request's, else the recogniser's calibrated one. */
export function thresholdFor(pool: InferencePool, given: number | undefined): number {
  const t = given ?? pool.models.threshold;
  if (t === null || t === undefined) {
    throw new ProblemError(
      'bad-request',
      `no calibrated threshold is known for ${pool.models.recognizer}: pass ?threshold=T`,
    );
  }
  return t;
}

/** The image in `field`, or a 400 naming it. */
export function needImage(images: ReadonlyMap<string, Uint8Array>, field: string): Uint8Array {
  const image = images.get(field);
  if (!image) throw new ProblemError('bad-request', `the request has no image in field '${field}'`);
  return image;
}

/** The face an embedding came from (workers run with fallback off, so there always is one). */
export function embeddedFace(e: FaceEmbedding): AssessedFace {
  if (!e.face) throw new ProblemError('no-face', 'no face was found in the image');
  return e.face;
}

/** Cosine similarity of unit-length vectors, clamped to [-1, 1] against rounding. */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return Math.max(-1, Math.min(1, dot));
}

/** The problem a gallery failure is answered with. */
export function galleryProblem(err: GalleryError): ProblemError {
  switch (err.code) {
    case 'not-found':
      return new ProblemError('not-found', err.message);
    case 'name-taken':
      return new ProblemError('name-taken', err.message);
    case 'duplicate-image':
      return new ProblemError('duplicate-image', err.message);
    case 'model-mismatch':
      return new ProblemError('model-mismatch', err.message);
    case 'no-face':
      return new ProblemError('no-face', err.message);
    case 'bad-input':
    case 'bad-embedding':
      return new ProblemError('bad-request', err.message);
    case 'locked':
    case 'schema-newer':
    case 'unavailable':
      return new ProblemError('gallery-unavailable', err.message);
  }
}
