/**
 * The HTTP service under load: autocannon against `POST /v1/embed`, `/v1/verify` and `/v1/identify` at several
 * concurrencies (requests/s, p50/p99 latency, errors, the server's peak RSS), next to the same work without
 * HTTP: the in-process pipeline on the main thread (one pipeline, all cores: what a script calling the library
 * gets) and the inference worker pool driven directly (the service's own ceiling).
 *
 *   npm run bench:serve [-- --duration 10 --connections 1,8,32 --gallery 10000 --workers N --images 8]
 *
 * The server runs as a child process (`arcface serve`, embedded gallery, no request log) so that autocannon's
 * own work does not share its event loop. The gallery holds one real face per LFW person used plus `--gallery`
 * synthetic identities (seeded unit vectors). Needs ../shared/data/lfw (skips with a message when missing).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createFacePipeline } from '../src/face/pipeline.js';
import { openEmbeddedGallery } from '../src/gallery/embedded.js';
import type { GalleryRecord } from '../src/gallery/types.js';
import { InferencePool } from '../src/serve/inference-pool.js';
import { KeyFile } from '../src/serve/keys.js';
import { seededRandom } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '1,8,32' },
    gallery: { type: 'string', default: '10000' },
    workers: { type: 'string' },
    images: { type: 'string', default: '8' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    routes: { type: 'string', default: 'embed,verify,identify' },
  },
});
const duration = Number(values.duration);
const connections = values.connections.split(',').map(Number);
const gallerySize = Number(values.gallery);
const workers = values.workers ? Number(values.workers) : availableParallelism();
const routes = values.routes.split(',');
const lfwDir = join(values.lfw, 'lfw-deepfunneled');
if (!existsSync(lfwDir)) {
  console.log(`bench:serve skipped: LFW not found at ${values.lfw} (see ../shared/data/README.md)`);
  process.exit(0);
}
const BIN = fileURLToPath(new URL('../bin/arcface.mjs', import.meta.url));

// People with at least two photos: photo 1 is enrolled, photo 2 is the probe.
const people = readdirSync(lfwDir)
  .sort()
  .filter((p) => existsSync(join(lfwDir, p, `${p}_0002.jpg`)))
  .slice(0, Number(values.images));
const photo = (p: string, n: number): Buffer => readFileSync(join(lfwDir, p, `${p}_000${n}.jpg`));
const enrolled = people.map((p) => photo(p, 1));
const probes = people.map((p) => photo(p, 2));
const log = (msg: string): void => console.error(`[bench:serve] ${msg}`);

/** Runs `work` over the images round-robin for `seconds` with `parallel` in flight; images per second. */
async function throughput(
  seconds: number,
  parallel: number,
  work: (i: number) => Promise<unknown>,
): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < end) {
        await work(next++ % probes.length);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

// 1. In-process: one pipeline on the main thread, all cores for ONNX Runtime.
log(`in-process pipeline (threads ${availableParallelism()}), ${people.length} LFW probes`);
const pipeline = await createFacePipeline({ threads: availableParallelism(), fallback: false });
await pipeline.embed(probes[0]);
const inProcess = await throughput(duration, 1, (i) => pipeline.embed(probes[i]));
const realFaces = await Promise.all(enrolled.map((b) => pipeline.embed(b)));
await pipeline.dispose();

// 2. The worker pool without HTTP: the service's own ceiling.
log(`worker pool (${workers} workers x 1 thread), no HTTP`);
const pool = await InferencePool.start({
  size: workers,
  maxQueue: 1024,
  timeoutMs: 0,
  pipeline: { threads: 1, maxPixels: 40_000_000 },
});
// Warm-up: every worker's first run pays ONNX Runtime's one-off costs.
await Promise.all(Array.from({ length: workers * 2 }, (_, i) => pool.embed(probes[i % probes.length])));
const poolRate = await throughput(duration, workers * 2, (i) => pool.embed(probes[i]));
await pool.close();

// 3. A gallery: the real faces plus synthetic identities.
const dir = await mkdtemp(join(tmpdir(), 'arcface-bench-serve-'));
const dbDir = join(dir, 'gallery');
log(`gallery: ${people.length} real + ${gallerySize} synthetic identities in ${dbDir}`);
const tFill = performance.now();
const store = await openEmbeddedGallery(dbDir);
function* records(): Generator<GalleryRecord> {
  const now = new Date();
  yield { type: 'gallery', format: 'arcface-ts-gallery', version: 1 };
  for (let i = 0; i < people.length; i++) {
    yield { type: 'subject', name: people[i], metadata: {}, createdAt: now };
    const e = realFaces[i];
    yield {
      type: 'face',
      subject: people[i],
      createdAt: now,
      embedding: e.embedding,
      recognizer: 'faceapi:resnet34',
    };
  }
  const rand = seededRandom(1);
  for (let i = 0; i < gallerySize; i++) {
    const v = new Float32Array(128);
    let n = 0;
    for (let k = 0; k < 128; k++) {
      v[k] = rand() - 0.5;
      n += v[k] * v[k];
    }
    for (let k = 0; k < 128; k++) v[k] /= Math.sqrt(n);
    yield { type: 'subject', name: `synthetic-${i}`, metadata: {}, createdAt: now };
    yield {
      type: 'face',
      subject: `synthetic-${i}`,
      createdAt: now,
      embedding: v,
      recognizer: 'faceapi:resnet34',
    };
  }
}
await store.importRecords(records());
const recognizers = await store.recognizers();
await store.close();
log(
  `gallery filled in ${((performance.now() - tFill) / 1000).toFixed(0)} s (${JSON.stringify(recognizers)})`,
);

// 4. The service as a child process.
const keys = new KeyFile(join(dir, 'keys.json'));
const { key } = await keys.create('bench', ['read']);
const child = spawn(
  'node',
  [
    BIN,
    'serve',
    '--port',
    '0',
    '--keys',
    keys.path,
    '--db',
    dbDir,
    '--workers',
    String(workers),
    '--queue',
    '256',
    '--no-log',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let stderr = '';
const url = await new Promise<string>((ok, fail) => {
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const m = /listening on (http:\/\/\S+)/.exec(stderr);
    if (m) ok(m[1]);
  });
  child.on('exit', (code) => fail(new Error(`serve exited with ${code}: ${stderr}`)));
});
const rssMb = (): number => {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

const auth = { authorization: `Bearer ${key}` };
const requestsFor = (route: string): autocannon.Request[] =>
  people.map((_, i) => {
    if (route === 'verify') {
      return {
        method: 'POST',
        path: '/v1/verify',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          image1: enrolled[i].toString('base64'),
          image2: probes[i].toString('base64'),
        }),
      };
    }
    return {
      method: 'POST',
      path: `/v1/${route}`,
      headers: { ...auth, 'content-type': 'image/jpeg' },
      body: probes[i],
    };
  });

interface Row {
  route: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  peakRssMb: number;
}
const rows: Row[] = [];
for (const route of routes) {
  // Warm-up: every worker has run once.
  await autocannon({ url, connections: workers, amount: workers * 2, requests: requestsFor(route) });
  for (const c of connections) {
    let peak = rssMb();
    const timer = setInterval(() => (peak = Math.max(peak, rssMb())), 200);
    const r = await autocannon({ url, connections: c, duration, requests: requestsFor(route), timeout: 120 });
    clearInterval(timer);
    rows.push({
      route,
      connections: c,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.errors + r.non2xx + r.timeouts,
      peakRssMb: Math.max(peak, rssMb()),
    });
    log(
      `${route} c=${c}: ${r.requests.average.toFixed(2)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
    );
  }
}
child.kill('SIGTERM');
await new Promise((ok) => child.on('exit', ok));
await rm(dir, { recursive: true, force: true });

console.log(
  `\nbench:serve — ${workers} workers x 1 ONNX thread, ${people.length} LFW probes, ${duration} s per run, gallery ${people.length + gallerySize} identities\n`,
);
console.log(
  `in-process pipeline (main thread, ${availableParallelism()} threads): ${inProcess.toFixed(2)} embeds/s`,
);
console.log(`worker pool without HTTP (${workers} x 1 thread): ${poolRate.toFixed(2)} embeds/s\n`);
console.log('| route | connections | req/s | p50 ms | p99 ms | errors | peak RSS MB | req/s vs in-process |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  // A verify is two embeddings; embed and identify are one each.
  const limit = r.route === 'verify' ? inProcess / 2 : inProcess;
  console.log(
    `| ${r.route} | ${r.connections} | ${r.rps.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.peakRssMb.toFixed(0)} | ${((100 * r.rps) / limit).toFixed(0)}% |`,
  );
}
