/**
 * The HTTP service under load: autocannon against `POST /v1/embed`, `/v1/verify` and `/v1/identify` at several
 * concurrencies (requests/s, p50/p99 latency, errors, the server's peak RSS), next to the same work without
 * HTTP measured in the same run: the in-process pipeline on the main thread (one pipeline, all cores: what a
 * script calling the library gets; for identify, the pipeline plus `store.search` on the same gallery) and the
 * inference worker pool driven directly (the service's own ceiling). `--soak S` instead runs a mixed load for S
 * seconds and samples the service's memory every 10 s.
 *
 *   npm run bench:serve [-- --duration 10 --connections 1,8,32 --gallery 10000 --workers N --images 8]
 *                       [--db embedded|postgres|postgres://…] [--soak 300 --soak-csv FILE]
 *
 * The server runs as a child process (`arcface serve`, no request log) so that autocannon's own work does not
 * share its event loop. The gallery holds one real face per LFW person used plus `--gallery` synthetic
 * identities (seeded unit vectors). `--db postgres` starts a throwaway PostgreSQL cluster (test/gallery/postgres.ts;
 * needs PostgreSQL and pgvector), `--db postgres://…` uses an empty database there; the default `embedded` is
 * PGlite in a temporary directory. Needs ../shared/data/lfw (skips with a message when missing) and dist/
 * (`npm run build`).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createFacePipeline } from '../src/face/pipeline.js';
import { identifyEmbedding } from '../src/gallery/enrol.js';
import { openGallery } from '../src/gallery/open.js';
import type { GalleryRecord, GalleryStore } from '../src/gallery/types.js';
import { InferencePool } from '../src/serve/inference-pool.js';
import { KeyFile } from '../src/serve/keys.js';
import { seededRandom } from '../src/util/random.js';
import { type TestCluster, havePostgres, startPostgres } from '../test/gallery/postgres.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '1,8,32' },
    gallery: { type: 'string', default: '10000' },
    workers: { type: 'string' },
    images: { type: 'string', default: '8' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    routes: { type: 'string', default: 'embed,verify,identify' },
    db: { type: 'string', default: 'embedded' },
    soak: { type: 'string', default: '0' },
    'soak-connections': { type: 'string', default: '8' },
    'soak-interval': { type: 'string', default: '10' },
    'soak-csv': { type: 'string' },
  },
});
const duration = Number(values.duration);
const connections = values.connections.split(',').map(Number);
const gallerySize = Number(values.gallery);
const workers = values.workers ? Number(values.workers) : availableParallelism();
const routes = values.routes.split(',');
const soakSeconds = Number(values.soak);
const soakConnections = Number(values['soak-connections']);
const soakInterval = Number(values['soak-interval']);
const lfwDir = join(values.lfw, 'lfw-deepfunneled');
if (!existsSync(lfwDir)) {
  console.log(`bench:serve skipped: LFW not found at ${values.lfw} (see ../shared/data/README.md)`);
  process.exit(0);
}
const BIN = fileURLToPath(new URL('../bin/arcface.mjs', import.meta.url));
const RECOGNIZER = 'faceapi:resnet34';

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

/** The gallery: one real face per person plus `gallerySize` synthetic identities, as export records. */
function* records(realFaces: readonly Float32Array[]): Generator<GalleryRecord> {
  const now = new Date();
  yield { type: 'gallery', format: 'arcface-ts-gallery', version: 1 };
  for (let i = 0; i < people.length; i++) {
    yield { type: 'subject', name: people[i], metadata: {}, createdAt: now };
    yield {
      type: 'face',
      subject: people[i],
      createdAt: now,
      embedding: realFaces[i],
      recognizer: RECOGNIZER,
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
    yield { type: 'face', subject: `synthetic-${i}`, createdAt: now, embedding: v, recognizer: RECOGNIZER };
  }
}

const dir = await mkdtemp(join(tmpdir(), 'arcface-bench-serve-'));
let cluster: TestCluster | null = null;
let child: ChildProcessByStdio<null, null, Readable> | null = null;
async function cleanUp(): Promise<void> {
  if (child && child.exitCode === null) {
    const c = child;
    c.kill('SIGTERM');
    await new Promise((ok) => c.on('exit', ok));
  }
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanUp().then(() => process.exit(130)));

// 0. Where the gallery lives.
let db: string;
let backend: string;
if (values.db === 'embedded') {
  db = join(dir, 'gallery');
  backend = 'embedded (PGlite)';
} else if (values.db === 'postgres') {
  if (!havePostgres()) process.exit(0);
  log('starting a throwaway PostgreSQL cluster');
  cluster = await startPostgres();
  db = await cluster.createDatabase('bench_serve');
  backend = 'PostgreSQL (throwaway local cluster)';
} else {
  db = values.db;
  backend = 'PostgreSQL';
}

// 1. In-process: one pipeline on the main thread, all cores for ONNX Runtime.
log(`in-process pipeline (threads ${availableParallelism()}), ${people.length} LFW probes`);
const pipeline = await createFacePipeline({ threads: availableParallelism(), fallback: false });
await pipeline.embed(probes[0]);
const realFaces = (await Promise.all(enrolled.map((b) => pipeline.embed(b)))).map((e) => e.embedding);

// 2. The gallery, filled through the store's bulk import (which also builds the HNSW index above its threshold).
log(`gallery: ${people.length} real + ${gallerySize} synthetic identities in ${backend}`);
const tFill = performance.now();
const store: GalleryStore = await openGallery(db);
const imported = await store.importRecords(records(realFaces));
const [info] = await store.recognizers();
const fillSeconds = (performance.now() - tFill) / 1000;
log(
  `gallery filled in ${fillSeconds.toFixed(0)} s: ${imported.faces} faces, ${info.indexed ? 'HNSW index' : 'exact search'}`,
);

interface InProcess {
  embed: number;
  identify: number;
  searchMode: string;
}
/**
 * The in-process limits: embeds/s of the pipeline alone, and identifies/s of the same pipeline followed by the
 * search the service runs, on the same gallery. Two identifies in flight, so a server database's search overlaps
 * the next embedding as it does in the service.
 */
async function inProcess(gallery: GalleryStore): Promise<InProcess> {
  const embed = await throughput(duration, 1, (i) => pipeline.embed(probes[i]));
  let searchMode = '';
  const threshold = pipeline.recognizer?.threshold ?? 0.5;
  const identify = await throughput(duration, 2, async (i) => {
    const e = await pipeline.embed(probes[i]);
    const id = await identifyEmbedding(gallery, e.embedding, RECOGNIZER, threshold, { k: 5 });
    searchMode = id.mode;
  });
  log(`in-process: ${embed.toFixed(2)} embeds/s, ${identify.toFixed(2)} identifies/s (${searchMode} search)`);
  return { embed, identify, searchMode };
}
interface Baselines {
  before: InProcess;
  after?: InProcess;
  pool: number;
}
let base: Baselines | null = null;
if (soakSeconds <= 0) base = { before: await inProcess(store), pool: 0 };
// The embedded gallery is one process's: close it while the service has it.
await store.close();

// 3. The worker pool without HTTP: the service's own ceiling.
if (base) {
  log(`worker pool (${workers} workers x 1 thread), no HTTP`);
  const pool = await InferencePool.start({
    size: workers,
    maxQueue: 1024,
    timeoutMs: 0,
    pipeline: { threads: 1, maxPixels: 40_000_000 },
  });
  // Warm-up: every worker's first run pays ONNX Runtime's one-off costs.
  await Promise.all(Array.from({ length: workers * 2 }, (_, i) => pool.embed(probes[i % probes.length])));
  base.pool = await throughput(duration, workers * 2, (i) => pool.embed(probes[i]));
  await pool.close();
}

// 4. The service as a child process.
const keys = new KeyFile(join(dir, 'keys.json'));
const { key } = await keys.create('bench', ['read']);
const { key: adminKey } = await keys.create('bench-metrics', ['admin']);
const serve = spawn(
  'node',
  [
    BIN,
    'serve',
    '--port',
    '0',
    '--keys',
    keys.path,
    '--db',
    db,
    '--workers',
    String(workers),
    '--queue',
    '256',
    '--no-log',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
child = serve;
let stderr = '';
const url = await new Promise<string>((ok, fail) => {
  serve.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    const m = /listening on (http:\/\/\S+)/.exec(stderr);
    if (m) ok(m[1]);
  });
  serve.on('exit', (code) => fail(new Error(`serve exited with ${code}: ${stderr}`)));
});
/** The service's resident memory (all its threads: the inference workers are threads of it), MB. */
const rssMb = (): number => {
  const status = readFileSync(`/proc/${serve.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

const auth = { authorization: `Bearer ${key}` };
function requestFor(route: string, i: number): autocannon.Request {
  if (route === 'verify') {
    return {
      method: 'POST',
      path: '/v1/verify',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ image1: enrolled[i].toString('base64'), image2: probes[i].toString('base64') }),
    };
  }
  return {
    method: 'POST',
    path: `/v1/${route}`,
    headers: { ...auth, 'content-type': 'image/jpeg' },
    body: probes[i],
  };
}
const requestsFor = (route: string): autocannon.Request[] => people.map((_, i) => requestFor(route, i));

/** Selected gauges from the service's /metrics (Prometheus text), by metric name. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^(arcface_[a-z_]+)(?:\{[^}]*\})? ([-+\d.eE]+)$/.exec(line);
    if (m && !out.has(m[1])) out.set(m[1], Number(m[2]));
  }
  return out;
}

try {
  if (soakSeconds > 0) await soak();
  else if (base) await table(base);
} finally {
  await cleanUp();
  await pipeline.dispose();
}

/** Stop the service (SIGTERM: it drains and closes its gallery). */
async function stopService(): Promise<void> {
  if (serve.exitCode !== null) return;
  serve.kill('SIGTERM');
  await new Promise((ok) => serve.on('exit', ok));
}

async function table(b: Baselines): Promise<void> {
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
      const r = await autocannon({
        url,
        connections: c,
        duration,
        requests: requestsFor(route),
        timeout: 120,
      });
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
  // The in-process limits again, now that the service is stopped: the machine's load drifts during a run.
  await stopService();
  const again = await openGallery(db);
  const after = await inProcess(again);
  await again.close();
  b.after = after;
  const avg = (f: (x: InProcess) => number): number => (f(b.before) + f(after)) / 2;
  const spread = (f: (x: InProcess) => number): string =>
    `${f(b.before).toFixed(2)} before, ${f(after).toFixed(2)} after the service rows`;
  const embedLimit = avg((x) => x.embed);
  const identifyLimit = avg((x) => x.identify);
  console.log(
    `\nbench:serve — ${workers} workers x 1 ONNX thread, ${people.length} LFW probes, ${duration} s per run; ` +
      `gallery ${people.length + gallerySize} identities in ${backend}, filled in ${fillSeconds.toFixed(0)} s, ` +
      `identify search ${b.before.searchMode}\n`,
  );
  console.log(
    `in-process pipeline (main thread, ${availableParallelism()} threads): ${embedLimit.toFixed(2)} embeds/s ` +
      `(${spread((x) => x.embed)})`,
  );
  console.log(
    `in-process identify (pipeline + store.search, 2 in flight): ${identifyLimit.toFixed(2)} identifies/s ` +
      `(${spread((x) => x.identify)})`,
  );
  console.log(`worker pool without HTTP (${workers} x 1 thread): ${b.pool.toFixed(2)} embeds/s\n`);
  console.log(
    '| route | gallery | connections | req/s | p50 ms | p99 ms | errors | peak RSS MB | in-process req/s | vs in-process |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    // A verify is two embeddings; identify's baseline includes its search on the same gallery.
    const limit = r.route === 'verify' ? embedLimit / 2 : r.route === 'identify' ? identifyLimit : embedLimit;
    const where = r.route === 'identify' ? backend.replace(/ \(.*\)$/, '') : '-';
    console.log(
      `| ${r.route} | ${where} | ${r.connections} | ${r.rps.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.errors} | ` +
        `${r.peakRssMb.toFixed(0)} | ${limit.toFixed(2)} | ${((100 * r.rps) / limit).toFixed(0)}% |`,
    );
  }
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, x) => a + x, 0) / n;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function soak(): Promise<void> {
  // Mixed load: each connection cycles embed, verify, identify over the probes.
  const mixed = people.flatMap((_, i) => ['embed', 'verify', 'identify'].map((r) => requestFor(r, i)));
  await autocannon({ url, connections: workers, amount: workers * 3, requests: mixed });
  interface Sample {
    t: number;
    rssMb: number;
    metricsRssMb: number;
    heapUsedMb: number;
    externalMb: number;
    requests: number;
    errors: number;
  }
  const samples: Sample[] = [];
  let requests = 0;
  let errors = 0;
  const t0 = performance.now();
  const sample = async (): Promise<void> => {
    const m = await scrape();
    const mb = (name: string): number => (m.get(name) ?? NaN) / 2 ** 20;
    samples.push({
      t: Math.round((performance.now() - t0) / 1000),
      rssMb: rssMb(),
      metricsRssMb: mb('arcface_process_resident_memory_bytes'),
      heapUsedMb: mb('arcface_nodejs_heap_size_used_bytes'),
      externalMb: mb('arcface_nodejs_external_memory_bytes'),
      requests,
      errors,
    });
    requests = 0;
    errors = 0;
  };
  log(`soak: ${soakSeconds} s, ${soakConnections} connections, mixed embed/verify/identify`);
  await sample();
  const timer = setInterval(() => void sample(), soakInterval * 1000);
  const result = await new Promise<autocannon.Result>((ok, fail) => {
    const instance = autocannon(
      { url, connections: soakConnections, duration: soakSeconds, requests: mixed, timeout: 120 },
      (err, r) => (err ? fail(err) : ok(r)),
    );
    instance.on('response', (_client, status) => {
      requests++;
      if (status < 200 || status >= 300) errors++;
    });
  });
  clearInterval(timer);
  await sample();

  const header = 't_s,rss_mb,metrics_rss_mb,heap_used_mb,external_mb,requests,errors';
  const csv = [
    header,
    ...samples.map((s) =>
      [
        s.t,
        s.rssMb.toFixed(1),
        s.metricsRssMb.toFixed(1),
        s.heapUsedMb.toFixed(1),
        s.externalMb.toFixed(1),
        s.requests,
        s.errors,
      ].join(','),
    ),
  ].join('\n');
  const csvPath = values['soak-csv'] ?? join(tmpdir(), `bench-serve-soak-${Date.now()}.csv`);
  await writeFile(csvPath, `${csv}\n`);

  const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
  const first = samples.filter((s) => s.t <= 60);
  const last = samples.filter((s) => s.t >= samples[samples.length - 1].t - 60);
  const after = samples.filter((s) => s.t >= 60);
  const perMin = (xs: Sample[], f: (s: Sample) => number): number =>
    slope(
      xs.map((s) => s.t / 60),
      xs.map(f),
    );
  console.log(
    `\nbench:serve --soak ${soakSeconds}: ${workers} workers x 1 ONNX thread, ${soakConnections} connections, ` +
      `mixed embed/verify/identify over ${people.length} LFW probes; gallery ${people.length + gallerySize} ` +
      `identities in ${backend}\n`,
  );
  console.log(
    `requests ${result.requests.total} (${result.requests.average.toFixed(2)}/s), errors ${result.errors + result.non2xx + result.timeouts}, ` +
      `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
  );
  console.log(
    `RSS first minute ${mean(first.map((s) => s.rssMb)).toFixed(0)} MB, last minute ${mean(last.map((s) => s.rssMb)).toFixed(0)} MB; ` +
      `slope ${perMin(samples, (s) => s.rssMb).toFixed(2)} MB/min overall, ${perMin(after, (s) => s.rssMb).toFixed(2)} MB/min after the first minute; ` +
      `main-thread heap slope ${perMin(after, (s) => s.heapUsedMb).toFixed(2)} MB/min after the first minute`,
  );
  console.log(`samples: ${csvPath}\n`);
  console.log('| t s | RSS MB | heap used MB | external MB | requests | errors |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const s of samples) {
    console.log(
      `| ${s.t} | ${s.rssMb.toFixed(0)} | ${s.heapUsedMb.toFixed(0)} | ${s.externalMb.toFixed(0)} | ${s.requests} | ${s.errors} |`,
    );
  }
}
