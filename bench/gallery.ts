/**
 * Gallery speed: enrolment throughput, identify latency (exact and HNSW), HNSW recall@1 against exact search, peak
 * memory and size on disk, for the embedded store (PGlite) and the server (PostgreSQL + pgvector), on synthetic
 * 512-d identities; and a plain TypeScript brute-force scan over a Float32Array as the baseline.
 *
 *   npm run bench:gallery [-- --sizes 10000,100000 --backends embedded,server --probes 200 --exact-probes 30]
 *                         [--server-url postgres://…] [--lfw ../shared/data/lfw] [--out results.json]
 *                         [--passes 2] [--embedded-hnsw-max 20000] [--index-memory 1GB]
 *
 * The embedded store is measured twice over one gallery: its in-process exact search (the default; the first
 * search loads the embeddings into memory, timed apart), then, reopened with `memorySearch: false`, its SQL
 * exact search and HNSW. Latencies are measured in `--passes` passes over the probes (p50 per pass reported),
 * so a loaded machine's drift shows.
 *
 * Without --server-url a throwaway PostgreSQL cluster is started (test/gallery/postgres.ts; needs PostgreSQL and
 * pgvector installed, else the server rows are skipped with a message). Identities are seeded unit vectors;
 * probes are other "photos" of gallery identities (cosine about 0.7 to their identity, like two real photos of one
 * person under an ArcFace model), so exact search finds the identity and recall@1 measures what HNSW loses.
 * Enrolment "with embedding" adds the default face pipeline's measured time per LFW image (when LFW is present).
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createFacePipeline } from '../src/face/pipeline.js';
import { openEmbeddedGallery } from '../src/gallery/embedded.js';
import { MemorySearch } from '../src/gallery/memory-search.js';
import { openServerGallery } from '../src/gallery/server.js';
import type { GalleryRecord, GalleryStore, SearchMode } from '../src/gallery/types.js';
import { seededRandom } from '../src/util/random.js';
import { type TestCluster, havePostgres, startPostgres } from '../test/gallery/postgres.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    backends: { type: 'string', default: 'embedded,server' },
    probes: { type: 'string', default: '200' },
    'exact-probes': { type: 'string', default: '30' },
    'server-url': { type: 'string' },
    lfw: { type: 'string', default: resolve('..', 'shared', 'data', 'lfw') },
    out: { type: 'string' },
    // Building the HNSW index in WebAssembly took 211 s at 10k on the loaded 2-core machine: above this size the
    // embedded rows measure exact search only.
    'embedded-hnsw-max': { type: 'string', default: '20000' },
    passes: { type: 'string', default: '2' },
    // maintenance_work_mem for the HNSW builds (the cap for the bench: at most 2 GB).
    'index-memory': { type: 'string', default: '1GB' },
  },
});
const DIM = 512;
const MODEL = 'bench:synthetic-512';
const sizes = values.sizes.split(',').map(Number);
const backends = values.backends.split(',');
const probeCount = Number(values.probes);
const exactProbeCount = Number(values['exact-probes']);
const passes = Math.max(1, Number(values.passes));
const indexBuildMemory = values['index-memory'];

/** Seeded gaussian unit vectors, `n` rows of DIM in one array. */
function identities(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n * DIM);
  for (let r = 0; r < n; r++) {
    let norm = 0;
    for (let i = 0; i < DIM; i++) {
      const u = Math.max(rand(), 1e-12);
      const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
      out[r * DIM + i] = g;
      norm += g * g;
    }
    const s = 1 / Math.sqrt(norm);
    for (let i = 0; i < DIM; i++) out[r * DIM + i] *= s;
  }
  return out;
}

/** Another photo of identity `row`: identity + equal-size noise, renormalised (cosine ~0.7 to the identity). */
function probeOf(gallery: Float32Array, row: number, noise: Float32Array): Float32Array {
  const v = new Float32Array(DIM);
  let norm = 0;
  for (let i = 0; i < DIM; i++) {
    v[i] = gallery[row * DIM + i] + noise[i];
    norm += v[i] * v[i];
  }
  const s = 1 / Math.sqrt(norm);
  for (let i = 0; i < DIM; i++) v[i] *= s;
  return v;
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function dirSize(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? await dirSize(p) : (await stat(p)).size;
  }
  return total;
}

/** Peak RSS of this process while `work` runs (sampled every 50 ms), in MB. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

async function* records(gallery: Float32Array, n: number): AsyncGenerator<GalleryRecord> {
  yield { type: 'gallery', format: 'arcface-ts-gallery', version: 1 };
  const createdAt = new Date(0);
  for (let r = 0; r < n; r++) {
    const name = `id${r}`;
    yield { type: 'subject', name, metadata: {}, createdAt };
    yield {
      type: 'face',
      subject: name,
      recognizer: MODEL,
      embedding: gallery.subarray(r * DIM, (r + 1) * DIM),
      createdAt,
    };
  }
}

interface Latencies {
  /** Every search of every pass. */
  ms: number[];
  /** p50 of each pass. */
  passP50: number[];
  /** Top-1 names of the first pass. */
  top1: string[];
}

async function latencies(
  store: GalleryStore,
  probes: readonly Float32Array[],
  mode: SearchMode,
): Promise<Latencies> {
  const ms: number[] = [];
  const passP50: number[] = [];
  const top1: string[] = [];
  await store.search(probes[0], MODEL, { k: 5, mode }); // warm-up (plans, caches)
  for (let pass = 0; pass < passes; pass++) {
    const these: number[] = [];
    for (const p of probes) {
      const t = performance.now();
      const { hits } = await store.search(p, MODEL, { k: 5, mode });
      these.push(performance.now() - t);
      if (pass === 0) top1.push(hits[0]?.name ?? '');
    }
    ms.push(...these);
    passP50.push(percentile(these, 50));
  }
  return { ms, passP50, top1 };
}

const NO_LATENCIES: Latencies = { ms: [NaN], passP50: [NaN], top1: [] };

/** The baseline: a straight loop over every row, best dot product. */
function bruteForce(gallery: Float32Array, n: number, q: Float32Array): number {
  let best = -2;
  let arg = -1;
  for (let r = 0; r < n; r++) {
    let d = 0;
    const o = r * DIM;
    for (let i = 0; i < DIM; i++) d += gallery[o + i] * q[i];
    if (d > best) {
      best = d;
      arg = r;
    }
  }
  return arg;
}

interface Row {
  backend: string;
  n: number;
  importFacesPerS: number;
  enrolFacesPerS: number;
  enrolWithEmbeddingFacesPerS: number | null;
  /** In-process exact search (embedded only): the first search's load, and the searches after it. */
  memoryLoadS: number;
  memoryP50s: number[];
  memoryP99: number;
  exactP50s: number[];
  exactP50: number;
  exactP99: number;
  indexBuildS: number;
  hnswP50s: number[];
  hnswP99: number;
  recallAt1: number;
  exactAccuracy: number;
  peakRssMb: number;
  diskMb: number;
}

async function embedMsPerFace(): Promise<number | null> {
  const dir = join(values.lfw, 'lfw-deepfunneled');
  if (!existsSync(dir)) {
    console.error(`no ${dir}: enrolment "with embedding" not measured`);
    return null;
  }
  const people = (await readdir(dir)).sort().slice(0, 32);
  const images = await Promise.all(people.map(async (p) => join(dir, p, (await readdir(join(dir, p)))[0])));
  const pipeline = await createFacePipeline({ fallback: false });
  try {
    await pipeline.embedMany(images.slice(0, 4));
    const t = performance.now();
    await pipeline.embedMany(images);
    return (performance.now() - t) / images.length;
  } finally {
    await pipeline.dispose();
  }
}

async function benchOne(
  backend: string,
  n: number,
  open: (memory: boolean) => Promise<GalleryStore>,
  disk: (store: GalleryStore) => Promise<number>,
  embedMs: number | null,
  withHnsw: boolean,
): Promise<Row> {
  console.error(`\n== ${backend}, ${n} identities`);
  const gallery = identities(n, 7);
  const rand = seededRandom(11);
  const noise = identities(probeCount, 13);
  const rows = Array.from({ length: probeCount }, () => Math.floor(rand() * n));
  const probes = rows.map((r, i) => probeOf(gallery, r, noise.subarray(i * DIM, (i + 1) * DIM)));
  const { value, peakMb } = await peakRss(async () => {
    let store = await open(true);
    try {
      // Enrolment as a user does it: one subject per transaction, with its faces.
      const extra = identities(200, 17);
      let t = performance.now();
      for (let i = 0; i < 200; i++) {
        await store.addFaces(
          `enrol${i}`,
          [{ embedding: extra.subarray(i * DIM, (i + 1) * DIM), recognizer: MODEL }],
          {
            create: {},
          },
        );
      }
      const enrolFacesPerS = 200 / ((performance.now() - t) / 1000);
      for (let i = 0; i < 200; i++) await store.removeSubject(`enrol${i}`);
      t = performance.now();
      await store.importRecords(records(gallery, n));
      const importFacesPerS = n / ((performance.now() - t) / 1000);
      console.error(
        `import ${importFacesPerS.toFixed(0)} faces/s, enrol ${enrolFacesPerS.toFixed(0)} faces/s`,
      );
      let memory = NO_LATENCIES;
      let memoryLoadS = NaN;
      if (backend === 'embedded') {
        t = performance.now();
        await store.search(probes[0], MODEL, { k: 5, mode: 'exact' });
        memoryLoadS = (performance.now() - t) / 1000;
        memory = await latencies(store, probes, 'exact');
        console.error(
          `in-process exact: load ${memoryLoadS.toFixed(1)} s, p50 ${memory.passP50.map((x) => x.toFixed(1)).join(' / ')} ms`,
        );
        // The SQL searches of the same gallery: reopened without the in-memory copy.
        await store.close();
        store = await open(false);
      }
      const exact = await latencies(store, probes.slice(0, exactProbeCount), 'exact');
      console.error(`exact p50 ${exact.passP50.map((x) => x.toFixed(1)).join(' / ')} ms`);
      if (memory.top1.length > 0 && memory.top1.slice(0, exactProbeCount).join() !== exact.top1.join()) {
        throw new Error('the in-process exact search ranked differently from the SQL exact search');
      }
      t = performance.now();
      if (withHnsw) await store.buildIndex(MODEL);
      const indexBuildS = withHnsw ? (performance.now() - t) / 1000 : NaN;
      const hnsw = withHnsw ? await latencies(store, probes, 'hnsw') : NO_LATENCIES;
      const hnswOnExact = hnsw.top1.slice(0, exactProbeCount);
      const recallAt1 = withHnsw
        ? hnswOnExact.filter((name, i) => name === exact.top1[i]).length / exact.top1.length
        : NaN;
      const exactAccuracy =
        exact.top1.filter((name, i) => name === `id${rows[i]}`).length / exact.top1.length;
      console.error(
        `exact top-1 = probe's identity: ${exactAccuracy}; HNSW build ${indexBuildS.toFixed(1)} s, p50 ${percentile(hnsw.ms, 50).toFixed(1)} ms, recall@1 ${recallAt1}`,
      );
      const diskMb = (await disk(store)) / 2 ** 20;
      return {
        backend,
        n,
        importFacesPerS,
        enrolFacesPerS,
        enrolWithEmbeddingFacesPerS: embedMs === null ? null : 1000 / (embedMs + 1000 / enrolFacesPerS),
        memoryLoadS,
        memoryP50s: memory.passP50,
        memoryP99: percentile(memory.ms, 99),
        exactP50s: exact.passP50,
        exactP50: percentile(exact.ms, 50),
        exactP99: percentile(exact.ms, 99),
        indexBuildS,
        hnswP50s: hnsw.passP50,
        hnswP99: percentile(hnsw.ms, 99),
        recallAt1,
        exactAccuracy,
        diskMb,
      };
    } finally {
      await store.close();
    }
  });
  return { ...value, peakRssMb: peakMb };
}

interface Baseline {
  label: string;
  p50: number;
  p99: number;
}

/**
 * The scans side by side on one gallery and one set of probes: the plain TypeScript loop, and the store's
 * in-memory search (memory-search.ts) with its float64 loop and with the engine's MatMul (the one it uses).
 */
async function baselines(n: number): Promise<Baseline[]> {
  const gallery = identities(n, 7);
  const noise = identities(50, 13);
  const qs = Array.from({ length: 50 }, (_, i) =>
    probeOf(gallery, (i * 7919) % n, noise.subarray(i * DIM, (i + 1) * DIM)),
  );
  const time = async (label: string, scan: (q: Float32Array) => unknown): Promise<Baseline> => {
    await scan(qs[0]);
    const ms: number[] = [];
    for (const q of qs) {
      const t = performance.now();
      await scan(q);
      ms.push(performance.now() - t);
    }
    return { label, p50: percentile(ms, 50), p99: percentile(ms, 99) };
  };
  const out = [
    await time('TypeScript brute-force scan (plain loop, top-1 only)', (q) => bruteForce(gallery, n, q)),
  ];
  for (const [label, engineFrom] of [
    ['in-memory search, float64 TypeScript loop (top-5 subjects)', Infinity],
    ['in-memory search, engine MatMul + float64 rescoring (top-5 subjects)', 0],
  ] as const) {
    const m = new MemorySearch({ engineFrom });
    await m.ensure(
      MODEL,
      DIM,
      async () => new Map(Array.from({ length: n }, (_, r) => [r, `id${r}`])),
      async (sink) =>
        sink(
          Array.from({ length: n }, (_, r) => ({
            faceId: r,
            subjectId: r,
            embedding: gallery.subarray(r * DIM, (r + 1) * DIM),
          })),
        ),
    );
    out.push(await time(label, (q) => m.search(MODEL, q, 5)));
    await m.dispose();
  }
  return out;
}

const results: Row[] = [];
const embedMs = await embedMsPerFace();
if (embedMs !== null)
  console.error(`default pipeline: ${embedMs.toFixed(1)} ms per LFW image (detect + embed)`);
let cluster: TestCluster | undefined;
try {
  for (const n of sizes) {
    for (const backend of backends) {
      if (backend === 'embedded') {
        const dir = await mkdtemp(join(tmpdir(), 'gallery-bench-'));
        try {
          results.push(
            await benchOne(
              'embedded',
              n,
              (memory) =>
                openEmbeddedGallery(join(dir, 'g'), {
                  hnswThreshold: Infinity,
                  indexBuildMemory,
                  memorySearch: memory,
                }),
              () => dirSize(join(dir, 'g')),
              embedMs,
              n <= Number(values['embedded-hnsw-max']),
            ),
          );
        } catch (err) {
          console.error(`embedded at ${n}: ${String(err)}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      } else if (backend === 'server') {
        let url = values['server-url'];
        if (!url) {
          if (!havePostgres()) continue;
          cluster ??= await startPostgres();
          url = await cluster.createDatabase(`bench_${n}_${Date.now()}`);
        }
        const target = url;
        results.push(
          await benchOne(
            'server',
            n,
            () => openServerGallery(target, { hnswThreshold: Infinity, indexBuildMemory }),
            async () => {
              // The database's size as the server reports it (the server process is not ours to measure).
              const client = new pg.Client({ connectionString: target });
              await client.connect();
              try {
                const { rows } = await client.query<{ b: string }>(
                  `SELECT pg_database_size(current_database())::text AS b`,
                );
                return Number(rows[0].b);
              } finally {
                await client.end();
              }
            },
            embedMs,
            true,
          ),
        );
      }
    }
  }
} finally {
  await cluster?.stop();
}

const f = (x: number, d = 1): string => (Number.isNaN(x) ? 'n/a' : x.toFixed(d));
const p50s = (xs: readonly number[]): string => xs.map((x) => f(x)).join(', ');
console.log(
  `\nmachine load average at the end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}\n`,
);
console.log(
  '| store | identities | import faces/s | enrol faces/s (excl. / incl. embedding) | in-process exact: load s, p50 per pass / p99 ms | ' +
    'SQL exact p50 per pass / p99 ms | HNSW build s | HNSW p50 per pass / p99 ms | recall@1 HNSW vs exact | peak RSS MB | disk MB |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(
    `| ${r.backend} | ${r.n} | ${f(r.importFacesPerS, 0)} | ${f(r.enrolFacesPerS, 0)} / ` +
      `${r.enrolWithEmbeddingFacesPerS === null ? 'n/a' : f(r.enrolWithEmbeddingFacesPerS)} | ` +
      (Number.isNaN(r.memoryLoadS)
        ? '| '
        : `${f(r.memoryLoadS)} s, ${p50s(r.memoryP50s)} / ${f(r.memoryP99)} | `) +
      `${p50s(r.exactP50s)} / ${f(r.exactP99)} | ${f(r.indexBuildS)} | ${p50s(r.hnswP50s)} / ${f(r.hnswP99, 2)} | ` +
      `${f(r.recallAt1, 3)} | ${f(r.peakRssMb, 0)} | ${f(r.diskMb, 0)} |`,
  );
}
console.log(
  '\n| scan of a Float32Array in this process | identities | p50 / p99 ms |\n| --- | ---: | ---: |',
);
for (const n of sizes) {
  for (const b of await baselines(n)) console.log(`| ${b.label} | ${n} | ${f(b.p50)} / ${f(b.p99)} |`);
}
if (values.out) {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(values.out, JSON.stringify(results, null, 2));
}
