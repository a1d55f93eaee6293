/**
 * Images to gallery faces through the face pipeline: enrolment (hash, de-duplicate, detect, embed, store one
 * subject's faces in one transaction) and identification (embed a probe, search, open-set decision).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { FacePipeline } from '../face/pipeline.js';
import { type FaceQuality, checkMinQuality, qualityShortfall } from '../face/quality.js';
import type { DetectedFace, FaceRecognizer } from '../face/types.js';
import { GalleryError } from './errors.js';
import type { GalleryStore, JsonObject, NewFace, SearchHit, SearchMode, Subject } from './types.js';

/**
 * The id a recogniser's faces are stored under: its zoo spec (`faceapi:resnet34`), or for a user's ONNX file the
 * file's SHA-256 (`onnx:sha256:<hex>`), so a moved or renamed copy of the same model still matches its gallery.
 */
export async function recognizerId(rec: FaceRecognizer): Promise<string> {
  if (!rec.spec.startsWith('onnx:')) return rec.spec;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(rec.spec.slice('onnx:'.length))) hash.update(chunk as Buffer);
  return `onnx:sha256:${hash.digest('hex')}`;
}

function needRecognizer(pipeline: FacePipeline): FaceRecognizer {
  if (!pipeline.recognizer) throw new GalleryError('bad-input', 'the face pipeline has no recogniser');
  return pipeline.recognizer;
}

/** What happened to one image of an enrolment. */
export type EnrolStatus =
  | 'enrolled'
  /** The same file was already enrolled for this subject: nothing to do. */
  | 'already-enrolled'
  /** The same file is enrolled for another subject, or given twice: not enrolled. */
  | 'duplicate'
  /** No face detected: not enrolled (a whole-image embedding would pollute the gallery). */
  | 'no-face'
  /** The face's quality score is below {@link EnrolOptions.minQuality}: not enrolled. */
  | 'low-quality'
  /** Unreadable or not an image. */
  | 'failed';

export interface EnrolOutcome {
  readonly image: string;
  readonly status: EnrolStatus;
  /** What was done, for the user. */
  readonly message: string;
  /** Faces the detector found (the largest one is enrolled). */
  readonly facesFound?: number;
  readonly faceId?: number;
  /** The face's quality (enrolled or refused as low-quality). */
  readonly quality?: FaceQuality;
}

export interface EnrolResult {
  /** The subject after enrolment; null when it did not exist and nothing was enrolled. */
  readonly subject: Subject | null;
  /** One per image, in input order. */
  readonly outcomes: readonly EnrolOutcome[];
}

export interface EnrolOptions {
  /** Metadata for a subject created by this enrolment. */
  readonly metadata?: JsonObject;
  /** Images embedded per recogniser batch (default 16). */
  readonly batchSize?: number;
  /** Called with images done and total. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Lowest face quality score (src/face/quality.ts, [0, 1]) enrolled; a face below it is reported as
   * 'low-quality' with the measure that failed, and not enrolled. Default 0: every face.
   */
  readonly minQuality?: number;
}

/**
 * Enrol image files as faces of subject `name` (created if new): every face or none is stored, in one
 * transaction. Images that cannot be enrolled (no face, duplicate, unreadable) are reported, not fatal.
 * @throws GalleryError for gallery-level failures (another recogniser's gallery, a bad name).
 */
export async function enrolImages(
  store: GalleryStore,
  pipeline: FacePipeline,
  name: string,
  images: readonly string[],
  opts: EnrolOptions = {},
): Promise<EnrolResult> {
  const rec = needRecognizer(pipeline);
  const minQuality = opts.minQuality ?? 0;
  try {
    checkMinQuality(minQuality);
  } catch (err) {
    throw new GalleryError('bad-input', (err as Error).message);
  }
  const recognizer = await recognizerId(rec);
  const outcomes: (EnrolOutcome | undefined)[] = new Array(images.length);
  const files: { i: number; bytes: Uint8Array; sha: string }[] = [];
  const firstOf = new Map<string, number>();
  for (let i = 0; i < images.length; i++) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(images[i]);
    } catch (err) {
      outcomes[i] = { image: images[i], status: 'failed', message: `cannot read: ${(err as Error).message}` };
      continue;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    const first = firstOf.get(sha);
    if (first !== undefined) {
      outcomes[i] = {
        image: images[i],
        status: 'duplicate',
        message: `same file as ${images[first]}: enrolled once`,
      };
      continue;
    }
    firstOf.set(sha, i);
    files.push({ i, bytes, sha });
  }
  const held = await store.findImages(
    recognizer,
    files.map((f) => f.sha),
  );
  const todo = files.filter((f) => {
    const where = held.get(f.sha);
    if (!where) return true;
    outcomes[f.i] =
      where.subject === name
        ? { image: images[f.i], status: 'already-enrolled', message: `already enrolled for '${name}'` }
        : {
            image: images[f.i],
            status: 'duplicate',
            message: `this image is already enrolled as '${where.subject}': not enrolled again`,
          };
    return false;
  });
  const embedded = await pipeline.embedMany(
    todo.map((f) => f.bytes),
    { batchSize: opts.batchSize, onProgress: opts.onProgress },
  );
  const faces: NewFace[] = [];
  const faceOf: number[] = [];
  for (const r of embedded) {
    const f = todo[r.index];
    const image = images[f.i];
    if (!r.ok) {
      const noFace = r.error.name === 'NoFaceError';
      outcomes[f.i] = noFace
        ? { image, status: 'no-face', message: 'no face found: not enrolled', facesFound: 0 }
        : { image, status: 'failed', message: r.error.message };
      continue;
    }
    if (r.fallback || !r.face) {
      outcomes[f.i] = { image, status: 'no-face', message: 'no face found: not enrolled', facesFound: 0 };
      continue;
    }
    const face = r.face;
    const short = qualityShortfall(face.quality, minQuality);
    if (short) {
      outcomes[f.i] = {
        image,
        status: 'low-quality',
        message: `${short.message}: not enrolled`,
        facesFound: r.facesFound,
        quality: face.quality,
      };
      continue;
    }
    faces.push({
      embedding: r.embedding,
      recognizer,
      imageSha256: f.sha,
      source: image,
      box: face.box,
      landmarks: face.landmarks,
      detectorScore: face.score,
      quality: face.quality.score,
    });
    faceOf.push(f.i);
    outcomes[f.i] = {
      image,
      status: 'enrolled',
      message: r.facesFound > 1 ? `${r.facesFound} faces found: enrolled the largest` : 'enrolled',
      facesFound: r.facesFound,
      quality: face.quality,
    };
  }
  if (faces.length > 0) {
    const stored = await store.addFaces(name, faces, { create: { metadata: opts.metadata ?? {} } });
    stored.forEach((s, k) => {
      const i = faceOf[k];
      outcomes[i] = { ...(outcomes[i] as EnrolOutcome), faceId: s.id };
    });
  }
  const subject = await store.getSubject(name).catch((err: unknown) => {
    if (err instanceof GalleryError && err.code === 'not-found') return null;
    throw err;
  });
  return {
    subject,
    outcomes: outcomes.map((o, i) => o ?? { image: images[i], status: 'failed', message: '?' }),
  };
}

export interface IdentifyOptions {
  /** Candidates to return (default 5). */
  readonly k?: number;
  /** Similarity at or above which the best candidate is accepted; default the recogniser's calibrated one. */
  readonly threshold?: number;
  readonly mode?: SearchMode;
}

/** An open-set identification. */
export interface Identification {
  /** True when the best candidate's similarity reaches `threshold`. */
  readonly known: boolean;
  /** The accepted subject, or null ("unknown"). */
  readonly match: SearchHit | null;
  /** Up to k candidates, best first, whether or not above the threshold. */
  readonly candidates: readonly SearchHit[];
  readonly threshold: number;
  /** How the gallery was searched. */
  readonly mode: 'exact' | 'hnsw';
}

/** Open-set decision over a search for one embedding. */
export async function identifyEmbedding(
  store: GalleryStore,
  embedding: Float32Array,
  recognizer: string,
  threshold: number,
  opts: Omit<IdentifyOptions, 'threshold'> = {},
): Promise<Identification> {
  if (!Number.isFinite(threshold) || threshold < -1 || threshold > 1) {
    throw new GalleryError('bad-input', `bad threshold ${threshold}: a cosine similarity in [-1, 1]`);
  }
  const { hits, mode } = await store.search(embedding, recognizer, { k: opts.k ?? 5, mode: opts.mode });
  const best = hits[0];
  const known = best !== undefined && best.similarity >= threshold;
  return { known, match: known ? best : null, candidates: hits, threshold, mode };
}

/** An identification of an image's face. */
export interface ImageIdentification extends Identification {
  /** The face identified (the largest when there are several). */
  readonly face: DetectedFace;
  readonly facesFound: number;
}

/**
 * Detect, embed and identify the largest face of an image.
 * @throws GalleryError 'no-face' when no face is found (nothing is identified), 'bad-input' when the recogniser
 *   has no calibrated threshold and none is given.
 */
export async function identifyImage(
  store: GalleryStore,
  pipeline: FacePipeline,
  image: string | Uint8Array,
  opts: IdentifyOptions = {},
): Promise<ImageIdentification> {
  const rec = needRecognizer(pipeline);
  const threshold = opts.threshold ?? rec.threshold;
  if (threshold === undefined) {
    throw new GalleryError(
      'bad-input',
      `no calibrated threshold is known for ${rec.spec}: give one (CLI: --threshold T)`,
    );
  }
  const [r] = await pipeline.embedMany([image]);
  const label = typeof image === 'string' ? image : 'the image';
  if (!r.ok) {
    if (r.error.name === 'NoFaceError') {
      throw new GalleryError('no-face', `no face found in ${label}: nothing was identified`);
    }
    throw r.error;
  }
  if (r.fallback || !r.face) {
    throw new GalleryError('no-face', `no face found in ${label}: nothing was identified`);
  }
  const id = await identifyEmbedding(store, r.embedding, await recognizerId(rec), threshold, opts);
  return { ...id, face: r.face, facesFound: r.facesFound };
}
