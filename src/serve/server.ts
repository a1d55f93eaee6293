/**
 * The HTTP service: a Fastify instance with versioned routes over the inference pool (and the gallery, when one
 * is attached), API keys with scopes, limits, problem+json errors, Prometheus metrics and an OpenAPI 3.1
 * document generated from the same zod schemas that validate requests.
 */
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { GalleryError } from '../gallery/errors.js';
import type { GalleryStore } from '../gallery/types.js';
import { registerClusterRoute } from './cluster-route.js';
import { registerGalleryRoutes, verifyAgainstSubject } from './gallery-routes.js';
import type { InferencePool } from './inference-pool.js';
import { readRequestImages } from './images.js';
import { type KeyFile, type KeyRecord, type Scope, grants } from './keys.js';
import { createMetrics } from './metrics.js';
import { PROBLEM_MEDIA_TYPE, ProblemError } from './problems.js';
import { registerPageRoutes } from './page-routes.js';
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
  detectResponse,
  embedResponse,
  healthResponse,
  imageBody,
  imageContent,
  problemSchema,
  readyResponse,
  verifyBody,
  verifyQuery,
  verifyResponse,
} from './schemas.js';
import {
  RequestValidationError,
  type ZodTypeProvider,
  toJsonSchema,
  zodSerializerCompiler,
  zodSwaggerTransform,
  zodValidatorCompiler,
} from './zod-fastify.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a key needs for this route; absent: no key needed. */
    scope?: Scope;
  }
  interface FastifyRequest {
    /** The authenticated key, when the route needs one. */
    apiKey: KeyRecord | null;
    /**
     * Aborted once the response has closed: sent, or the client went away first. Inference jobs still queued for
     * the request then leave the queue without running. (Not Fastify's `request.signal`: on Node 20 that aborts
     * as soon as the request body has been read, since it follows the request stream's 'close'.)
     */
    responseClosed: AbortSignal;
  }
}

/** Default request body limit: 20 MiB, above any phone photo, far below memory trouble. */
export const DEFAULT_BODY_LIMIT = 20 * 1024 * 1024;
/** Default pixel limit per image: 40 megapixels (a 40 MP photo decodes to 120 MB of RGB). */
export const DEFAULT_SERVE_MAX_PIXELS = 40_000_000;
/** Default per-request time limit. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface ServerOptions {
  /** Started inference workers (see InferencePool.start); closed with the server unless `keepPool`. */
  readonly pool: InferencePool;
  readonly keepPool?: boolean;
  /** API keys, or `'none'` to serve without authentication (development only; the CLI asks for a flag). */
  readonly auth: { readonly keys: KeyFile } | 'none';
  /** Largest request body (raw, JSON, each multipart file), bytes (default {@link DEFAULT_BODY_LIMIT}). */
  readonly bodyLimit?: number;
  /** Time allowed to receive a request and, separately, for its inference, ms (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Origins allowed by CORS; absent or empty: no CORS headers, browsers on other origins are refused. */
  readonly corsOrigins?: readonly string[];
  /** Fastify's logger (pino, to stdout): off by default, as library code must not print. */
  readonly logger?: boolean;
  /**
   * The gallery (subjects, faces, identify, verify against a subject); absent: those routes are not served.
   * Closed with the server unless `keepGallery`.
   */
  readonly gallery?: GalleryStore;
  readonly keepGallery?: boolean;
  /** Serve the web page (docs/WEB.md) at `/` (default true; it needs no key and computes in the browser). */
  readonly page?: boolean;
  /** The built page to serve (default: dist/web-page/ of this package, `webAssetsDir()`). */
  readonly pageAssetsDir?: string;
}

/** The service's Fastify instance, with the routes it registered (method + URL pattern, as in OpenAPI). */
export type ArcfaceServer = FastifyInstance & { readonly routeList: readonly string[] };

function presentedKey(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : null;
}

/** Map any error to a problem; unknown errors become a generic 500 that names the request id only. */
function asProblem(err: unknown, req: FastifyRequest): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof RequestValidationError) return new ProblemError('bad-request', err.message);
  if (err instanceof GalleryError) return galleryProblem(err);
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe.validation) return new ProblemError('bad-request', fe.message ?? 'invalid request');
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ProblemError('payload-too-large', fe.message ?? 'request body too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(
        'unsupported-media-type',
        `unsupported content type '${req.headers['content-type'] ?? ''}': send multipart/form-data, ` +
          'application/json (base64 images) or the image itself (image/jpeg, image/png, ...)',
      );
    default:
      break;
  }
  const status = fe.statusCode ?? 500;
  if (status === 404) return new ProblemError('not-found', fe.message ?? 'not found');
  if (status === 413) return new ProblemError('payload-too-large', fe.message ?? 'request body too large');
  if (status === 415)
    return new ProblemError('unsupported-media-type', fe.message ?? 'unsupported media type');
  if (status >= 400 && status < 500 && fe.code)
    return new ProblemError('bad-request', fe.message ?? 'bad request');
  return new ProblemError('internal', `internal error (request id ${req.id}); details are in the server log`);
}

/** The parts of an OpenAPI document that {@link finishDocument} edits. */
interface DocumentPaths {
  paths?: Record<string, Record<string, { responses?: Record<string, unknown> } | undefined> | undefined>;
}

/** Adds the problem+json error responses to every operation of the generated document. */
function finishDocument<T>(doc: T): T {
  const problem = {
    description: 'Problem details (RFC 9457)',
    content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
  for (const item of Object.values((doc as DocumentPaths).paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item?.[method];
      if (op) op.responses = { ...op.responses, '4XX': problem, '5XX': problem };
    }
  }
  return doc;
}

/**
 * Build the service. The instance is ready (plugins loaded) but not listening: call `listen`, or `inject` in
 * tests. `close()` stops accepting, lets in-flight requests finish, then stops the workers.
 */
export async function createServer(opts: ServerOptions): Promise<ArcfaceServer> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const pool = opts.pool;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    requestTimeout: timeout,
    // Keep-alive sockets are closed at once on shutdown; sockets with a request in flight finish it first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(zodSerializerCompiler);
  app.decorateRequest('apiKey', null);
  app.decorateRequest('responseClosed', null as unknown as AbortSignal);

  const routeList: string[] = [];
  app.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      if (!hidden && m !== 'HEAD') routeList.push(`${m} ${route.url}`);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const problem = asProblem(err, req);
    if (problem.status >= 500 && problem.slug === 'internal') req.log.error({ err }, 'request failed');
    void reply
      .code(problem.status)
      .headers(problem.headers)
      .type(PROBLEM_MEDIA_TYPE)
      .send(JSON.stringify(problem.body(req.url.split('?')[0])));
  });
  app.setNotFoundHandler((req, reply) => {
    const problem = new ProblemError('not-found', `no route ${req.method} ${req.url.split('?')[0]}`);
    void reply
      .code(404)
      .type(PROBLEM_MEDIA_TYPE)
      .send(JSON.stringify(problem.body(req.url.split('?')[0])));
  });

  // Raw image bodies arrive as bytes; the pixel limit is applied by the decoder from the image header.
  for (const type of [/^image\/[\w.+-]+$/i, 'application/octet-stream']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  }
  await app.register(multipart, {
    limits: { fileSize: bodyLimit, files: 2, fields: 8, parts: 10, fieldSize: bodyLimit },
    throwFileSizeLimit: true,
  });
  if (opts.corsOrigins && opts.corsOrigins.length > 0) {
    await app.register(cors, { origin: [...opts.corsOrigins] });
  }

  const metrics = createMetrics({
    queued: () => pool.queued,
    running: () => pool.running,
    jobs: () => pool.jobCounts,
    ...(opts.gallery
      ? {
          facesEnrolled: async () => (await opts.gallery!.recognizers()).reduce((n, r) => n + r.faceCount, 0),
        }
      : {}),
  });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(
      req.method,
      req.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  // 'close' on the response comes when it is finished or when the connection closed first (client gone).
  app.addHook('onRequest', (req, reply, done) => {
    const gone = new AbortController();
    req.responseClosed = gone.signal;
    reply.raw.once('close', () => gone.abort());
    done();
  });

  // Keys are checked before the body is read, so an unauthenticated upload is refused without being buffered.
  app.addHook('onRequest', async (req) => {
    const scope = req.routeOptions.config.scope;
    if (!scope || opts.auth === 'none') return;
    const bearer = { 'www-authenticate': 'Bearer' };
    const presented = presentedKey(req);
    if (!presented) {
      throw new ProblemError(
        'unauthorized',
        'this route needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
        {},
        bearer,
      );
    }
    const key = await opts.auth.keys.authenticate(presented);
    if (!key) throw new ProblemError('unauthorized', 'the API key is unknown or revoked', {}, bearer);
    if (!grants(key.scopes, scope)) {
      throw new ProblemError(
        'forbidden',
        `this route needs the '${scope}' scope; the key has ${key.scopes.join(', ')}`,
        { requiredScope: scope },
      );
    }
    req.apiKey = key;
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'arcface-ts face recognition service',
        version: '1',
        description:
          'Detect, embed and verify faces. Images go as multipart/form-data, as the raw body, or as JSON ' +
          'base64. Errors are RFC 9457 problem details with a stable `type`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
        schemas: { Problem: toJsonSchema(problemSchema, 'output') },
      },
    },
    transform: zodSwaggerTransform,
    transformObject: (doc) =>
      'openapiObject' in doc ? finishDocument(doc.openapiObject) : doc.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { tryItOutEnabled: false } });
  if (opts.page !== false) registerPageRoutes(app, opts.pageAssetsDir);
  app.get('/openapi.json', { schema: { hide: true } }, (_req, reply) => {
    void reply.type('application/json').send(JSON.stringify(app.swagger()));
  });

  const security = SECURITY;
  const models = (): ReturnType<typeof modelsOut> => modelsOut(pool);
  const store = opts.gallery;
  const galleryState = async (): Promise<'ok' | 'unreachable' | 'none'> => {
    if (!store) return 'none';
    try {
      await store.recognizers();
      return 'ok';
    } catch {
      return 'unreachable';
    }
  };

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['health'],
        response: { 200: healthResponse },
      },
    },
    () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: models loaded (and the gallery reachable)',
        tags: ['health'],
        response: { 200: readyResponse, 503: readyResponse },
      },
    },
    async (_req, reply) => {
      const gallery = await galleryState();
      const ready = pool.ready && gallery !== 'unreachable';
      void reply.code(ready ? 200 : 503);
      return {
        status: ready ? ('ready' as const) : ('not-ready' as const),
        workers: pool.size,
        queued: pool.queued,
        running: pool.running,
        models: pool.ready ? models() : null,
        gallery,
      };
    },
  );
  app.get(
    '/metrics',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['health'],
        security,
        produces: ['text/plain'],
      },
    },
    async (_req, reply) => {
      void reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );

  app.post(
    '/v1/detect',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Detect faces: boxes, scores and 5 landmarks',
        tags: ['faces'],
        security,
        body: imageContent(imageBody, ['image'], true),
        response: { 200: detectResponse },
      },
    },
    async (req) => {
      const { images } = await readRequestImages(req, ['image']);
      const d = await pool.detect(needImage(images, 'image'), req.responseClosed);
      return { models: models(), width: d.width, height: d.height, faces: d.faces.map(faceOut) };
    },
  );

  app.post(
    '/v1/embed',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Embed the largest face of an image',
        tags: ['faces'],
        security,
        body: imageContent(imageBody, ['image'], true),
        response: { 200: embedResponse },
      },
    },
    async (req) => {
      const { images } = await readRequestImages(req, ['image']);
      const e = await pool.embed(needImage(images, 'image'), req.responseClosed);
      return {
        models: models(),
        embedding: Array.from(e.embedding),
        face: faceOut(embeddedFace(e)),
        facesFound: e.facesFound,
        width: e.width,
        height: e.height,
      };
    },
  );

  app.post(
    '/v1/verify',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Same person or not: two images (image1, image2), or an image and a subject id',
        tags: ['faces'],
        security,
        querystring: verifyQuery,
        body: imageContent(verifyBody, ['image1', 'image2', 'image', 'subject'], true),
        response: { 200: verifyResponse },
      },
    },
    async (req) => {
      const threshold = thresholdFor(pool, req.query.threshold);
      const { images, fields } = await readRequestImages(req, ['image1', 'image2', 'image'], ['subject']);
      const subjectText = req.query.subject ?? fields.get('subject');
      if (subjectText !== undefined) {
        if (!store) throw new ProblemError('not-found', 'this service has no gallery: verify two images');
        const subjectId = Number(subjectText);
        if (!Number.isInteger(subjectId) || subjectId < 1) {
          throw new ProblemError('bad-request', `subject must be a subject id, got '${String(subjectText)}'`);
        }
        const e = await pool.embed(
          needImage(images, images.has('image') ? 'image' : 'image1'),
          req.responseClosed,
        );
        const v = await verifyAgainstSubject(store, pool.models.galleryId, e.embedding, subjectId);
        return {
          models: models(),
          similarity: v.similarity,
          threshold,
          same: v.similarity >= threshold,
          faces: [faceOut(embeddedFace(e))],
          subject: v.subject,
        };
      }
      // Both images are checked before either is queued: a job queued for a request that then fails would be
      // dropped when the response closes, its rejection unheard.
      const image1 = needImage(images, 'image1');
      const image2 = needImage(images, 'image2');
      // Both sides go to the pool at once: with two idle workers they are embedded in parallel.
      const [a, b] = await Promise.all([
        pool.embed(image1, req.responseClosed),
        pool.embed(image2, req.responseClosed),
      ]);
      const similarity = cosine(a.embedding, b.embedding);
      return {
        models: models(),
        similarity,
        threshold,
        same: similarity >= threshold,
        faces: [faceOut(embeddedFace(a)), faceOut(embeddedFace(b))],
      };
    },
  );

  registerClusterRoute(app, pool);
  if (store) registerGalleryRoutes(app, pool, store);

  app.addHook('onClose', async () => {
    await pool.drain();
    if (!opts.keepPool) await pool.close();
    if (store && !opts.keepGallery) await store.close();
  });

  await app.ready();
  return Object.assign(app, { routeList }) as unknown as ArcfaceServer;
}
