/**
 * The service's contract: zod schemas of requests and responses, from which validation, serialisation and the
 * OpenAPI document are all derived (zod-fastify.ts). Coordinates are image pixels after EXIF rotation;
 * similarities are cosine similarities of unit-length embeddings, in [-1, 1].
 */
import { z } from 'zod';

/** Base64 (standard or URL-safe alphabet), optionally as a `data:image/...;base64,` URL. */
export const base64Image = z
  .string()
  .min(1)
  .regex(
    /^(data:[\w.+/-]+;base64,)?[A-Za-z0-9+/_\-\s]+={0,2}\s*$/,
    'expected base64 image bytes (optionally a data: URL)',
  )
  .meta({ description: 'Encoded image (JPEG, PNG, WebP, ...) as base64, or a data: URL' });

export const boxSchema = z
  .object({ x1: z.number(), y1: z.number(), x2: z.number(), y2: z.number() })
  .meta({ description: 'Axis-aligned box, image pixels' });

export const pointSchema = z.tuple([z.number(), z.number()]).meta({ description: '[x, y], image pixels' });

const unit = z.number().min(0).max(1);
export const qualitySchema = z
  .object({
    score: unit.meta({ description: 'Combined quality in [0, 1]: the product of the factors' }),
    size: z.object({
      interOcular: z.number().meta({ description: 'Distance between the eyes, image pixels' }),
      boxShortSide: z.number().meta({ description: 'Shorter side of the box, image pixels' }),
    }),
    sharpness: z.number().meta({
      description: 'Laplacian variance over grey variance on a 112-px aligned crop (dimensionless)',
    }),
    yaw: z.number().meta({ description: 'Degrees, positive towards the image right (5-point estimate)' }),
    pitch: z.number().meta({ description: 'Degrees, positive face tilted up (5-point estimate)' }),
    roll: z.number().meta({ description: 'Degrees, eye line angle, positive clockwise' }),
    detectorScore: unit,
    factors: z
      .object({ size: unit, sharpness: unit, yaw: unit, pitch: unit, detector: unit })
      .meta({ description: 'Each measure mapped to [0, 1]; score is their product' }),
  })
  .meta({ title: 'FaceQuality' });

export const faceSchema = z
  .object({
    box: boxSchema,
    score: z.number().meta({ description: 'Detector confidence in [0, 1]' }),
    landmarks: z.array(pointSchema).length(5).meta({
      description: 'Eye (image left), eye (image right), nose tip, mouth corner (left), mouth corner (right)',
    }),
    quality: qualitySchema,
  })
  .meta({ title: 'Face' });

export const modelsSchema = z
  .object({
    detector: z.string().meta({ description: 'Detector model id (zoo spec)' }),
    recognizer: z.string().meta({ description: 'Recogniser model id (zoo spec)' }),
    dim: z.number().int().meta({ description: 'Embedding length' }),
  })
  .meta({ title: 'Models' });

/** A face as responses carry it. */
export type FaceOut = z.input<typeof faceSchema>;
/** The model ids responses carry. */
export type ModelsOut = z.input<typeof modelsSchema>;

export const detectResponse = z
  .object({
    models: modelsSchema,
    width: z.number().int(),
    height: z.number().int(),
    faces: z.array(faceSchema).meta({ description: 'By descending score' }),
  })
  .meta({ title: 'DetectResponse' });

export const embedResponse = z
  .object({
    models: modelsSchema,
    embedding: z.array(z.number()).meta({ description: 'Unit-length embedding of the largest face' }),
    face: faceSchema,
    facesFound: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
  })
  .meta({ title: 'EmbedResponse' });

export const verifyResponse = z
  .object({
    models: modelsSchema,
    similarity: z.number().meta({ description: 'Cosine similarity of the two faces' }),
    threshold: z
      .number()
      .meta({ description: 'Threshold used: the calibrated one unless the request gave one' }),
    same: z.boolean().meta({ description: 'similarity >= threshold' }),
    faces: z.array(faceSchema).meta({ description: 'The face used from each image' }),
    subject: z
      .object({ id: z.number().int(), name: z.string(), faceId: z.number().int() })
      .optional()
      .meta({ description: 'When verifying against a subject: the subject, and its closest face' }),
  })
  .meta({ title: 'VerifyResponse' });

export const imageBody = z.object({ image: base64Image }).meta({ title: 'ImageBody' });

export const verifyBody = z
  .union([
    z.object({ image1: base64Image, image2: base64Image }),
    z.object({ image: base64Image, subject: z.union([z.string().regex(/^\d+$/), z.number().int()]) }),
  ])
  .meta({ title: 'VerifyBody' });

export const thresholdQuery = z.object({
  threshold: z.coerce
    .number()
    .min(-1)
    .max(1)
    .optional()
    .meta({ description: 'Cosine threshold; default: the recogniser\u2019s calibrated one' }),
});

export const verifyQuery = thresholdQuery.extend({
  subject: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Subject id to verify a raw-body image against' }),
});

export const healthResponse = z.object({ status: z.literal('ok') });

export const readyResponse = z.object({
  status: z.enum(['ready', 'not-ready']),
  workers: z.number().int(),
  queued: z.number().int(),
  running: z.number().int(),
  models: modelsSchema.nullable(),
  gallery: z.enum(['ok', 'unreachable', 'none']),
});

/** Problem details (RFC 9457), as every error response carries. */
export const problemSchema = z
  .object({
    type: z.string().meta({ description: 'Stable URI naming the error class' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
  })
  .catchall(z.unknown())
  .meta({ title: 'Problem' });

/** A request body carrying images in any of the accepted forms, for the OpenAPI document. */
export function imageContent(
  json: z.ZodType,
  fields: readonly string[],
  raw: boolean,
): { content: Record<string, { schema: unknown }> } {
  const binary = { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream' };
  const multipart = {
    type: 'object',
    properties: Object.fromEntries(fields.map((f) => [f, f === 'subject' ? { type: 'string' } : binary])),
  };
  const content: Record<string, { schema: unknown }> = {
    'application/json': { schema: json },
    'multipart/form-data': { schema: multipart },
  };
  if (raw) {
    for (const t of ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream']) {
      content[t] = { schema: { type: 'string', format: 'binary' } };
    }
  }
  return { content };
}

const isoDate = z.string().meta({ description: 'ISO 8601 time' });
const metadataSchema = z
  .record(z.string(), z.unknown())
  .meta({ description: 'Any JSON object; stored and returned as given' });

export const subjectSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    metadata: metadataSchema,
    createdAt: isoDate,
    faceCount: z.number().int(),
  })
  .meta({ title: 'Subject' });

export const storedFaceSchema = z
  .object({
    id: z.number().int(),
    subjectId: z.number().int(),
    recognizer: z.string(),
    dim: z.number().int(),
    imageSha256: z.string().nullable(),
    source: z.string().nullable(),
    box: boxSchema.nullable(),
    landmarks: z.array(pointSchema).nullable(),
    detectorScore: z.number().nullable(),
    quality: z
      .number()
      .nullable()
      .meta({ description: 'Face quality score in [0, 1] at enrolment (null for faces enrolled before it)' }),
    createdAt: isoDate,
  })
  .meta({ title: 'StoredFace' });

export const subjectDetailSchema = subjectSchema.extend({ faces: z.array(storedFaceSchema) });

export const subjectListResponse = z.object({ subjects: z.array(subjectSchema) });

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export const subjectParams = z.object({ id: z.coerce.number().int().positive() });
export const faceParams = subjectParams.extend({ faceId: z.coerce.number().int().positive() });

export const createSubjectBody = z
  .object({
    name: z.string().min(1).max(200).meta({ description: 'Unique; stored as data, any characters' }),
    metadata: metadataSchema.optional(),
  })
  .strict();

export const patchSubjectBody = z
  .object({ name: z.string().min(1).max(200).optional(), metadata: metadataSchema.optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.metadata !== undefined, 'give name and/or metadata');

export const deletedResponse = z.object({ deleted: z.literal(true), faces: z.number().int() });

export const identifyQuery = thresholdQuery.extend({
  top: z.coerce.number().int().min(1).max(100).default(5).meta({ description: 'Candidates to return' }),
});

export const candidateSchema = z.object({
  subjectId: z.number().int(),
  name: z.string(),
  faceId: z.number().int(),
  similarity: z.number(),
});

export const identifyResponse = z
  .object({
    models: modelsSchema,
    face: faceSchema,
    facesFound: z.number().int(),
    known: z.boolean().meta({ description: 'The best candidate reaches the threshold (open-set decision)' }),
    match: candidateSchema.nullable(),
    candidates: z.array(candidateSchema).meta({ description: 'Best first, one per subject' }),
    threshold: z.number(),
    mode: z.enum(['exact', 'hnsw']).meta({ description: 'How the gallery was searched' }),
  })
  .meta({ title: 'IdentifyResponse' });
