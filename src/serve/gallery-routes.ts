/**
 * The gallery over HTTP: subjects and their faces, and 1:N identification. Embeddings are computed by the
 * inference workers; the gallery store (PGlite or PostgreSQL) keeps everything else, so a service instance holds
 * no state of its own and instances scale out on one PostgreSQL database.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { identifyEmbedding } from '../gallery/enrol.js';
import { GalleryError } from '../gallery/errors.js';
import type { Face, GalleryStore, JsonObject, Subject } from '../gallery/types.js';
import type { InferencePool } from './inference-pool.js';
import { readRequestImages } from './images.js';
import { ProblemError } from './problems.js';
import {
  SECURITY,
  cosine,
  embeddedFace,
  faceOut,
  galleryProblem,
  modelsOut,
  needImage,
  thresholdFor,
} from './route-kit.js';
import {
  createSubjectBody,
  deletedResponse,
  faceParams,
  identifyQuery,
  identifyResponse,
  imageBody,
  imageContent,
  listQuery,
  patchSubjectBody,
  storedFaceSchema,
  subjectDetailSchema,
  subjectListResponse,
  subjectParams,
  subjectSchema,
} from './schemas.js';
import type { ZodTypeProvider } from './zod-fastify.js';

type SubjectOut = z.input<typeof subjectSchema>;
type FaceStored = z.input<typeof storedFaceSchema>;

function subjectOut(s: Subject): SubjectOut {
  return {
    id: s.id,
    name: s.name,
    metadata: s.metadata,
    createdAt: s.createdAt.toISOString(),
    faceCount: s.faceCount,
  };
}

function storedFaceOut(f: Face): FaceStored {
  return {
    id: f.id,
    subjectId: f.subjectId,
    recognizer: f.recognizer,
    dim: f.dim,
    imageSha256: f.imageSha256,
    source: f.source,
    box: f.box,
    landmarks: f.landmarks ? f.landmarks.map(([x, y]) => [x, y] as [number, number]) : null,
    detectorScore: f.detectorScore,
    quality: f.quality,
    createdAt: f.createdAt.toISOString(),
  };
}

/** Runs a gallery call, answering its expected failures as problems. */
async function gallery<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof GalleryError) throw galleryProblem(err);
    throw err;
  }
}

/**
 * Verify an embedding against a subject: the similarity to the subject's closest face of this recogniser.
 * @throws ProblemError not-found (no such subject), conflict (no face of this recogniser enrolled)
 */
export async function verifyAgainstSubject(
  store: GalleryStore,
  recognizer: string,
  embedding: Float32Array,
  subjectId: number,
): Promise<{ similarity: number; subject: { id: number; name: string; faceId: number } }> {
  const subject = await gallery(() => store.getSubject(subjectId));
  const ids = subject.faces.filter((f) => f.recognizer === recognizer).map((f) => f.id);
  if (ids.length === 0) {
    throw new ProblemError('conflict', `subject ${subjectId} has no face enrolled with ${recognizer}`);
  }
  const vectors = await gallery(() => store.faceEmbeddings(ids));
  let best = { similarity: -Infinity, faceId: ids[0] };
  for (const [faceId, v] of vectors) {
    const s = cosine(embedding, v);
    if (s > best.similarity) best = { similarity: s, faceId };
  }
  return {
    similarity: best.similarity,
    subject: { id: subject.id, name: subject.name, faceId: best.faceId },
  };
}

/** Register the subject, face and identify routes. */
export function registerGalleryRoutes(app: FastifyInstance, pool: InferencePool, store: GalleryStore): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['gallery'];

  r.get(
    '/v1/subjects',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List subjects by name, with face counts',
        tags,
        security: SECURITY,
        querystring: listQuery,
        response: { 200: subjectListResponse },
      },
    },
    async (req) => {
      const subjects = await gallery(() =>
        store.listSubjects({ limit: req.query.limit, offset: req.query.offset }),
      );
      return { subjects: subjects.map(subjectOut) };
    },
  );

  r.post(
    '/v1/subjects',
    {
      config: { scope: 'enrol' },
      schema: {
        summary: 'Create a subject (then add faces to it)',
        tags,
        security: SECURITY,
        body: createSubjectBody,
        response: { 201: subjectSchema },
      },
    },
    async (req, reply) => {
      const s = await gallery(() =>
        store.createSubject(req.body.name, (req.body.metadata ?? {}) as JsonObject),
      );
      void reply.code(201);
      return subjectOut(s);
    },
  );

  r.get(
    '/v1/subjects/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'A subject with its faces',
        tags,
        security: SECURITY,
        params: subjectParams,
        response: { 200: subjectDetailSchema },
      },
    },
    async (req) => {
      const s = await gallery(() => store.getSubject(req.params.id));
      return { ...subjectOut(s), faces: s.faces.map(storedFaceOut) };
    },
  );

  r.patch(
    '/v1/subjects/:id',
    {
      config: { scope: 'enrol' },
      schema: {
        summary: 'Rename a subject and/or replace its metadata',
        tags,
        security: SECURITY,
        params: subjectParams,
        body: patchSubjectBody,
        response: { 200: subjectSchema },
      },
    },
    async (req) => {
      const { name, metadata } = req.body;
      let s: Subject | undefined;
      if (name !== undefined) s = await gallery(() => store.renameSubject(req.params.id, name));
      if (metadata !== undefined) {
        s = await gallery(() => store.setMetadata(req.params.id, metadata as JsonObject));
      }
      if (!s) throw new ProblemError('bad-request', 'give name and/or metadata');
      return subjectOut(s);
    },
  );

  r.delete(
    '/v1/subjects/:id',
    {
      config: { scope: 'enrol' },
      schema: {
        summary: 'Delete a subject with all its faces and embeddings',
        tags,
        security: SECURITY,
        params: subjectParams,
        response: { 200: deletedResponse },
      },
    },
    async (req) => {
      // The store's removeSubject reports zero faces for an unknown subject; a DELETE of nothing is a 404.
      await gallery(() => store.getSubject(req.params.id));
      const { faces } = await gallery(() => store.removeSubject(req.params.id));
      return { deleted: true as const, faces };
    },
  );

  r.post(
    '/v1/subjects/:id/faces',
    {
      config: { scope: 'enrol' },
      schema: {
        summary: 'Enrol the largest face of an image for a subject',
        tags,
        security: SECURITY,
        params: subjectParams,
        body: imageContent(imageBody, ['image'], true),
        response: { 201: storedFaceSchema },
      },
    },
    async (req, reply) => {
      const { images } = await readRequestImages(req, ['image']);
      const bytes = needImage(images, 'image');
      // Fail fast, before the inference, when the subject does not exist.
      await gallery(() => store.getSubject(req.params.id));
      const e = await pool.embed(bytes, req.responseClosed);
      const face = embeddedFace(e);
      const [stored] = await gallery(() =>
        store.addFaces(req.params.id, [
          {
            embedding: e.embedding,
            recognizer: pool.models.galleryId,
            imageSha256: createHash('sha256').update(bytes).digest('hex'),
            source: null,
            box: face.box,
            landmarks: face.landmarks,
            detectorScore: face.score,
            quality: face.quality.score,
          },
        ]),
      );
      void reply.code(201);
      return storedFaceOut(stored);
    },
  );

  r.delete(
    '/v1/subjects/:id/faces/:faceId',
    {
      config: { scope: 'enrol' },
      schema: {
        summary: 'Delete one face (and its embedding) of a subject',
        tags,
        security: SECURITY,
        params: faceParams,
        response: { 200: deletedResponse },
      },
    },
    async (req) => {
      const s = await gallery(() => store.getSubject(req.params.id));
      if (!s.faces.some((f) => f.id === req.params.faceId)) {
        throw new ProblemError('not-found', `subject ${s.id} has no face ${req.params.faceId}`);
      }
      await gallery(() => store.removeFace(req.params.faceId));
      return { deleted: true as const, faces: 1 };
    },
  );

  r.delete(
    '/v1/subjects/:id/faces',
    {
      config: { scope: 'enrol' },
      schema: {
        summary: 'Delete every face of a subject (the subject stays)',
        tags,
        security: SECURITY,
        params: subjectParams,
        response: { 200: deletedResponse },
      },
    },
    async (req) => {
      const s = await gallery(() => store.getSubject(req.params.id));
      for (const f of s.faces) await gallery(() => store.removeFace(f.id));
      return { deleted: true as const, faces: s.faces.length };
    },
  );

  r.post(
    '/v1/identify',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Who is this? Rank-k candidates and an open-set decision',
        tags,
        security: SECURITY,
        querystring: identifyQuery,
        body: imageContent(imageBody, ['image'], true),
        response: { 200: identifyResponse },
      },
    },
    async (req) => {
      const threshold = thresholdFor(pool, req.query.threshold);
      const { images } = await readRequestImages(req, ['image']);
      const e = await pool.embed(needImage(images, 'image'), req.responseClosed);
      const face = embeddedFace(e);
      const id = await gallery(() =>
        identifyEmbedding(store, e.embedding, pool.models.galleryId, threshold, { k: req.query.top }),
      );
      return {
        models: modelsOut(pool),
        face: faceOut(face),
        facesFound: e.facesFound,
        known: id.known,
        match: id.match,
        candidates: [...id.candidates],
        threshold: id.threshold,
        mode: id.mode,
      };
    },
  );
}
