/**
 * The web page (docs/WEB.md) served at `/` by the service: the files `npm run build` put in dist/web-page/,
 * the MNIST pack the page trains on and the face models it runs (under /models/). Public (no key: the page
 * computes in the browser and calls the API with the user's key), hidden from the OpenAPI document, and cross-origin isolated so the page gets WASM threads.
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { faceModelFiles } from '../web/face-models.js';
import { FACE_MODELS_DIR } from '../web/face-web.js';
import { MNIST_PACK_FILE, mnistPackBytes, webAssetsDir } from '../web/write-page.js';
import { ProblemError } from './problems.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Headers that make the page cross-origin isolated (SharedArrayBuffer, so ONNX Runtime Web can use threads). */
const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/** Page files by URL path; anything else under `/` stays a 404 problem (no path from the URL reaches the disk). */
const FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/page.css': 'page.css',
  '/page.js': 'page.js',
  '/ort/ort-wasm-simd-threaded.wasm': 'ort/ort-wasm-simd-threaded.wasm',
  '/ort/ort-wasm-simd-threaded.mjs': 'ort/ort-wasm-simd-threaded.mjs',
};

/**
 * Register the page's routes on `app`.
 * @param assetsDir the built page (default {@link webAssetsDir}); a missing file answers 404 naming the build step
 */
export function registerPageRoutes(app: FastifyInstance, assetsDir: string = webAssetsDir()): void {
  for (const [url, file] of Object.entries(FILES)) {
    app.get(url, { schema: { hide: true } }, async (_req, reply) => {
      const bytes = await readFile(join(assetsDir, file)).catch(() => null);
      if (!bytes) {
        throw new ProblemError(
          'not-found',
          `the web page is not built (${file} missing): run \`npm run build\``,
        );
      }
      return reply
        .headers(ISOLATION)
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .send(bytes);
    });
  }
  // The face models are built by the importer on first request and kept (about 23 MB, mostly ResNet-34).
  let faces: Promise<Map<string, Uint8Array>> | undefined;
  app.get(`/${FACE_MODELS_DIR}/:file`, { schema: { hide: true } }, async (req, reply) => {
    const { file } = req.params as { file: string };
    faces ??= faceModelFiles();
    const bytes = (await faces).get(file);
    if (!bytes) throw new ProblemError('not-found', `the page has no model file ${file}`);
    return reply
      .headers(ISOLATION)
      .type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream')
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  });
  let pack: Promise<Uint8Array> | undefined;
  app.get(`/${MNIST_PACK_FILE}`, { schema: { hide: true } }, async (_req, reply) => {
    pack ??= mnistPackBytes();
    return reply
      .headers(ISOLATION)
      .type('application/gzip')
      .send(Buffer.from(await pack));
  });
}
