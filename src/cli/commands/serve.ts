/**
 * `arcface serve`: the HTTP service (src/serve/), and `arcface serve keys create|list|revoke` for its API keys.
 * Logs are JSON lines on stdout (Fastify's logger); the start-up line and errors go to stderr.
 */
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { integer, numberIn } from '../parse.js';
import {
  DEFAULT_DETECTOR,
  DEFAULT_RECOGNIZER,
  parseDetectorSpec,
  parseRecognizerSpec,
} from '../../face/zoo.js';
import { defaultGalleryDir, openGallery } from '../../gallery/open.js';
import type { GalleryStore } from '../../gallery/types.js';
import { InferencePool } from '../../serve/inference-pool.js';
import { KeyFile, SCOPES, parseScopes } from '../../serve/keys.js';
import {
  DEFAULT_BODY_LIMIT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SERVE_MAX_PIXELS,
  createServer,
} from '../../serve/server.js';

/** Where API keys live unless --keys says otherwise: beside the default gallery. */
export function defaultKeysFile(): string {
  return join(dirname(defaultGalleryDir()), 'keys.json');
}

interface ServeFlags {
  port: number;
  host: string;
  db?: string;
  gallery: boolean;
  keys?: string;
  insecureNoAuth?: boolean;
  workers?: number;
  threads: number;
  queue?: number;
  timeout: number;
  bodyLimit: number;
  maxPixels: number;
  cors?: string[];
  detector?: string;
  recognizer?: string;
  log: boolean;
}

const positiveInt = integer(1);

function origins(v: string): string[] {
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const o of list) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new InvalidArgumentError(`'${o}' is not an origin (scheme://host[:port], no path)`);
    }
  }
  return list;
}

function scopesArg(v: string): string[] {
  try {
    return parseScopes(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

async function serve(flags: ServeFlags): Promise<void> {
  if (!flags.insecureNoAuth && flags.keys === undefined) flags.keys = defaultKeysFile();
  const keys = flags.insecureNoAuth ? null : new KeyFile(flags.keys as string);
  if (keys && (await keys.list()).filter((k) => !k.revoked).length === 0) {
    console.error(
      `arcface serve: no API key in ${keys.path} yet: every route but /healthz, /readyz and /docs will answer 401.\n` +
        `  Create one: arcface serve keys create --name NAME --scopes read,enrol --keys ${keys.path}`,
    );
  }
  const workers = flags.workers ?? availableParallelism();
  const pool = await InferencePool.start({
    size: workers,
    maxQueue: flags.queue ?? workers * 8,
    timeoutMs: flags.timeout,
    pipeline: {
      detector: flags.detector ? parseDetectorSpec(flags.detector) : DEFAULT_DETECTOR,
      recognizer: flags.recognizer ? parseRecognizerSpec(flags.recognizer) : DEFAULT_RECOGNIZER,
      threads: flags.threads,
      maxPixels: flags.maxPixels,
    },
  });
  let gallery: GalleryStore | undefined;
  try {
    gallery = flags.gallery ? await openGallery(flags.db) : undefined;
  } catch (err) {
    await pool.close();
    throw err;
  }
  const app = await createServer({
    pool,
    auth: keys ? { keys } : 'none',
    gallery,
    bodyLimit: flags.bodyLimit,
    requestTimeoutMs: flags.timeout,
    corsOrigins: flags.cors,
    logger: flags.log,
  });
  const url = await app.listen({ port: flags.port, host: flags.host });
  const where = gallery
    ? `gallery ${gallery.location} (${gallery.backend}${gallery.backend === 'embedded' ? ': this instance only' : ''})`
    : 'no gallery';
  console.error(
    `arcface serve: listening on ${url} (${workers} inference workers, ${where}, ` +
      `${keys ? `keys ${keys.path}` : 'NO AUTHENTICATION'}); docs at ${url}/docs`,
  );

  // Graceful shutdown: stop accepting, let in-flight requests finish, stop the workers, close the gallery.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      console.error(`arcface serve: ${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    console.error(`arcface serve: ${signal}: draining in-flight requests`);
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`arcface serve: shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export function registerServeCommand(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the HTTP service: detect, embed, verify, identify, subjects (OpenAPI at /openapi.json)')
    .option('--port <n>', 'TCP port (0: any free port)', integer(0), 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option(
      '--db <path|url>',
      `gallery: a directory (embedded, one instance) or postgres://… (instances scale out) (default: ${defaultGalleryDir()})`,
    )
    .option('--no-gallery', 'serve detect/embed/verify only, without subjects and identify')
    .option('--keys <file>', `API key file (default: ${defaultKeysFile()})`)
    .option('--insecure-no-auth', 'serve without API keys (development only)')
    .option('--workers <n>', 'inference worker threads (default: one per core)', positiveInt)
    .option('--threads <n>', 'ONNX Runtime threads per worker and model', positiveInt, 1)
    .option(
      '--queue <n>',
      'requests that may wait for a worker before 503 (default: 8 per worker)',
      integer(0),
    )
    .option('--timeout <ms>', 'per-request time limit, ms', positiveInt, DEFAULT_REQUEST_TIMEOUT_MS)
    .option(
      '--body-limit <mb>',
      'largest request body or uploaded file, MiB',
      (v) => Math.round(numberIn(0, 1024, '(]')(v) * 1024 * 1024),
      DEFAULT_BODY_LIMIT,
    )
    .option(
      '--max-pixels <n>',
      'largest image, width x height, checked before decoding',
      positiveInt,
      DEFAULT_SERVE_MAX_PIXELS,
    )
    .option('--cors <origins>', 'comma-separated origins allowed by CORS (default: none)', origins)
    .option('--detector <spec>', 'face detector: blazeface:back|front, scrfd:PATH or yunet:PATH')
    .option('--recognizer <spec>', 'recogniser: faceapi:resnet34, human:…, or onnx:PATH')
    .option('--no-log', 'no request log (JSON lines on stdout)')
    .action(async (flags: ServeFlags) => serve(flags));

  // `--keys` is also an option of `serve` itself, which commander gives it wherever it appears on the line: the
  // key commands read it from their parents (optsWithGlobals).
  const keyFile = (command: Command): KeyFile =>
    new KeyFile((command.optsWithGlobals() as { keys?: string }).keys ?? defaultKeysFile());
  const keys = cmd.command('keys').description('manage API keys (stored hashed in a JSON file; see --keys)');
  keys
    .command('create')
    .description('create a key and print it once (it is stored only as a hash)')
    .requiredOption('--name <label>', 'who or what uses the key')
    .requiredOption(
      '--scopes <list>',
      `comma-separated: ${SCOPES.join(', ')} (admin includes all)`,
      scopesArg,
    )
    .action(async (flags: { name: string; scopes: ReturnType<typeof parseScopes> }, command: Command) => {
      const file = keyFile(command);
      const { key, record } = await file.create(flags.name, flags.scopes);
      console.log(key);
      console.error(
        `created key ${record.id} '${record.name}' (${record.scopes.join(', ')}) in ${file.path}`,
      );
    });
  keys
    .command('list')
    .description('list keys (never their secrets): id, scopes, state, created, name')
    .action(async (_flags: unknown, command: Command) => {
      for (const k of await keyFile(command).list()) {
        const state = k.revoked ? `revoked ${k.revoked}` : 'active';
        console.log(
          `${k.id}  ${k.scopes.join(',').padEnd(16)}  ${state.padEnd(32)}  ${k.created}  ${k.name}`,
        );
      }
    });
  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'key id (see list)')
    .action(async (id: string, _flags: unknown, command: Command) => {
      const k = await keyFile(command).revoke(id);
      console.error(`revoked key ${k.id} '${k.name}'`);
    });
}
