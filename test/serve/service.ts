/** Starts the real service on a free local port for the serve tests, with one key per scope. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferencePool, type InferencePoolOptions } from '../../src/serve/inference-pool.js';
import { KeyFile } from '../../src/serve/keys.js';
import { type ArcfaceServer, type ServerOptions, createServer } from '../../src/serve/server.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const shared = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

/** face-api's sample photos (npm-shipped): sample1 is a group photo, sample2..6 portraits. */
export const sample = (n: number): string => `${repo}node_modules/@vladmandic/face-api/demo/sample${n}.jpg`;
export const LFW_DIR = `${shared}lfw/lfw-deepfunneled/`;

/** An LFW image by identity and 1-based number. */
export function lfw(name: string, n: number): string {
  return `${LFW_DIR}${name}/${name}_${String(n).padStart(4, '0')}.jpg`;
}

/** True when LFW is present; otherwise says why the tests that need it skip. */
export function haveLfw(): boolean {
  const ok = existsSync(LFW_DIR);
  if (!ok) console.warn(`serve LFW tests skipped: ${LFW_DIR} missing; see ../shared/data/README.md`);
  return ok;
}

export interface RunningService {
  readonly app: ArcfaceServer;
  readonly url: string;
  readonly pool: InferencePool;
  /** One key per scope. */
  readonly keys: { readonly read: string; readonly enrol: string; readonly admin: string };
  readonly keyFile: KeyFile;
  /** Authorization header for a key. */
  auth(key: string): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Start inference workers, a key file and the service, listening on 127.0.0.1 at a free port.
 * @param sameKeysAs another running service whose key file (and keys) this one shares, as instances behind one
 *   load balancer do
 */
export async function startService(
  pool: Partial<InferencePoolOptions> = {},
  server: Partial<Omit<ServerOptions, 'pool' | 'auth'>> = {},
  sameKeysAs?: RunningService,
): Promise<RunningService> {
  const dir = await mkdtemp(join(tmpdir(), 'arcface-serve-'));
  const keyFile = sameKeysAs?.keyFile ?? new KeyFile(join(dir, 'keys.json'), 0);
  const { read, enrol, admin } = sameKeysAs?.keys ?? {
    read: (await keyFile.create('reader', ['read'])).key,
    enrol: (await keyFile.create('enroller', ['read', 'enrol'])).key,
    admin: (await keyFile.create('admin', ['admin'])).key,
  };
  const workers = await InferencePool.start({
    size: 1,
    maxQueue: 16,
    timeoutMs: 60_000,
    pipeline: { threads: 1, maxPixels: 40_000_000 },
    ...pool,
  });
  const app = await createServer({ pool: workers, auth: { keys: keyFile }, ...server });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url,
    pool: workers,
    keys: { read, enrol, admin },
    keyFile,
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
