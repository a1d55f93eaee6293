/**
 * `POST /v1/cluster`: a batch of photos grouped by person (the largest face of each photo), by the gallery
 * room's clustering (src/gallery/cluster.ts, Chinese whispers at the threshold measured on LFW by default).
 * Embeddings come from the inference workers in parallel; the k-NN graph and the grouping run here, which for
 * the at most {@link MAX_CLUSTER_IMAGES} photos of one request takes milliseconds.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FaceEmbedding } from '../face/pipeline.js';
import {
  CLUSTER_METHODS,
  type ClusterMethod,
  DEFAULT_CLUSTER_METHOD,
  DEFAULT_NEIGHBOURS,
  clusterEmbeddings,
  clusterThreshold,
} from '../gallery/cluster.js';
import type { InferencePool } from './inference-pool.js';
import { fromBase64 } from './images.js';
import { ProblemError } from './problems.js';
import { SECURITY, faceOut, modelsOut } from './route-kit.js';
import { base64Image, faceSchema, modelsSchema } from './schemas.js';
import type { ZodTypeProvider } from './zod-fastify.js';

/** Photos one request may cluster. */
export const MAX_CLUSTER_IMAGES = 64;

const clusterQuery = z.object({
  method: z.enum(CLUSTER_METHODS as [ClusterMethod, ...ClusterMethod[]]).default(DEFAULT_CLUSTER_METHOD),
  threshold: z.coerce
    .number()
    .min(-1)
    .max(1)
    .optional()
    .meta({ description: 'Cosine similarity that links faces; default: measured on LFW for the method' }),
});

const clusterBody = z.object({ images: z.array(base64Image).min(1).max(MAX_CLUSTER_IMAGES) });

const clusterResponse = z
  .object({
    models: modelsSchema,
    method: z.string(),
    threshold: z.number().nullable(),
    thresholdSource: z
      .string()
      .meta({ description: 'given, measured for clustering, verification threshold' }),
    groups: z
      .array(z.array(z.number().int()))
      .meta({ description: 'Image indices per person, largest first' }),
    unclustered: z.array(z.number().int()).meta({ description: 'Images whose face matched no other' }),
    noFace: z.array(z.number().int()).meta({ description: 'Images without a face (not clustered)' }),
    faces: z.array(faceSchema.nullable()).meta({ description: 'Per image, the face clustered (null: none)' }),
  })
  .meta({ title: 'ClusterResponse' });

async function readImages(req: FastifyRequest): Promise<Uint8Array[]> {
  const images: Uint8Array[] = [];
  if (req.isMultipart()) {
    for await (const part of req.parts({ limits: { files: MAX_CLUSTER_IMAGES } })) {
      if (part.type !== 'file' || part.fieldname !== 'images') {
        if (part.type === 'file') part.file.resume();
        throw new ProblemError(
          'bad-request',
          `unexpected form field '${part.fieldname}': send files as 'images'`,
        );
      }
      images.push(await part.toBuffer());
    }
  } else if (req.body && typeof req.body === 'object') {
    const list = (req.body as { images?: unknown }).images;
    if (Array.isArray(list)) list.forEach((s, i) => images.push(fromBase64(String(s), `images[${i}]`)));
  }
  if (images.length === 0)
    throw new ProblemError('bad-request', "no images: send files (or base64) as 'images'");
  return images;
}

/** Register `POST /v1/cluster`. */
export function registerClusterRoute(app: FastifyInstance, pool: InferencePool): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/cluster',
    {
      config: { scope: 'read' },
      schema: {
        summary: `Group up to ${MAX_CLUSTER_IMAGES} photos by person (largest face of each)`,
        tags: ['faces'],
        security: SECURITY,
        querystring: clusterQuery,
        body: {
          content: {
            'application/json': { schema: clusterBody },
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: { images: { type: 'array', items: { type: 'string', format: 'binary' } } },
              },
            },
          },
        },
        response: { 200: clusterResponse },
      },
    },
    async (req) => {
      const { method } = req.query;
      const m = pool.models;
      const { threshold, source } = clusterThreshold(
        method,
        m.recognizer,
        m.threshold ?? undefined,
        req.query.threshold,
      );
      if (threshold === undefined && method !== 'rank-order') {
        throw new ProblemError('bad-request', `no threshold is known for ${m.recognizer}: pass ?threshold=T`);
      }
      const images = await readImages(req);
      const settled = await Promise.allSettled(images.map((b) => pool.embed(b, req.responseClosed)));
      const faces: (FaceEmbedding | null)[] = settled.map((s) => {
        if (s.status === 'fulfilled') return s.value;
        const err: unknown = s.reason;
        if (err instanceof ProblemError && err.slug === 'no-face') return null;
        throw err;
      });
      const rows = faces.flatMap((f, i) => (f ? [i] : []));
      const noFace = faces.flatMap((f, i) => (f ? [] : [i]));
      let groups: number[][] = [];
      let unclustered: number[] = rows;
      if (rows.length >= 2) {
        const normed = new Float32Array(rows.length * m.dim);
        rows.forEach((img, r) => normed.set((faces[img] as FaceEmbedding).embedding, r * m.dim));
        const c = await clusterEmbeddings(normed, m.dim, {
          method,
          threshold,
          k: Math.min(DEFAULT_NEIGHBOURS, rows.length - 1),
        });
        groups = c.groups.map((g) => g.map((r) => rows[r]));
        unclustered = c.unclustered.map((r) => rows[r]);
      }
      return {
        models: modelsOut(pool),
        method,
        threshold: threshold ?? null,
        thresholdSource: source,
        groups,
        unclustered,
        noFace,
        faces: faces.map((f) => (f?.face ? faceOut(f.face) : null)),
      };
    },
  );
}
