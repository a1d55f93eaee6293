/**
 * The gallery store against both backends, real databases each: PGlite in a temp directory, and PostgreSQL +
 * pgvector in a throwaway cluster (skipped with a message where PostgreSQL is missing, failing under CI=true).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedGallery } from '../../src/gallery/embedded.js';
import { GalleryError } from '../../src/gallery/errors.js';
import { lineToRecord, recordToLine } from '../../src/gallery/jsonl.js';
import { SCHEMA_VERSION } from '../../src/gallery/schema.js';
import { openServerGallery } from '../../src/gallery/server.js';
import type { GalleryRecord, GalleryStore, NewFace } from '../../src/gallery/types.js';
import { type TestCluster, havePostgres, startPostgres } from './postgres.js';
import { cosine, near, unitVector } from './vectors.js';

const DIM = 64;
const MODEL = 'test:model-a';
const PEOPLE = 12;

interface Harness {
  open(): Promise<GalleryStore>;
  /** Run SQL behind the store's back (the store must be closed for the embedded backend). */
  raw(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

const backends: { name: string; available: () => boolean; setup: () => Promise<Harness> }[] = [
  {
    name: 'embedded (PGlite)',
    available: () => true,
    setup: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gallery-store-'));
      const db = join(dir, 'faces.db');
      return {
        open: () => openEmbeddedGallery(db),
        raw: async (sql) => {
          const lite = new PGlite({ dataDir: join(db, 'pgdata'), extensions: { vector } });
          await lite.exec(sql);
          await lite.close();
        },
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'server (PostgreSQL)',
    available: havePostgres,
    setup: async () => {
      const cluster: TestCluster = await startPostgres();
      const url = await cluster.createDatabase('gallery_store');
      return {
        open: () => openServerGallery(url),
        raw: async (sql) => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query(sql);
          await client.end();
        },
        cleanup: () => cluster.stop(),
      };
    },
  },
];

/** The identity vectors and, per person, two enrolled "photos". */
const identities = Array.from({ length: PEOPLE }, (_, i) => unitVector(DIM, 1000 + i));
const hash = (i: number, j: number): string => (i * 10 + j).toString(16).padStart(64, '0');
const facesOf = (i: number): NewFace[] =>
  [0, 1].map((j) => ({
    embedding: near(identities[i], 0.3, 2000 + i * 10 + j),
    recognizer: MODEL,
    imageSha256: hash(i, j),
    source: `person${i}/photo${j}.jpg`,
    box: { x1: 10.5, y1: 20.25, x2: 110.125, y2: 140 },
    landmarks: [
      [30.5, 50.5],
      [80.25, 50.75],
      [55, 80],
      [35.5, 110],
      [75, 110.5],
    ],
    detectorScore: 0.9375,
    quality: null,
  }));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GalleryError) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a GalleryError, but it resolved');
}

async function exportLines(store: GalleryStore): Promise<string[]> {
  const lines: string[] = [];
  for await (const r of store.exportRecords()) lines.push(recordToLine(r));
  return lines;
}

for (const backend of backends) {
  describe.runIf(backend.available())(`gallery store: ${backend.name}`, { timeout: 300_000 }, () => {
    let h: Harness;
    let store: GalleryStore;
    beforeAll(async () => {
      h = await backend.setup();
      store = await h.open();
    }, 300_000);
    afterAll(async () => {
      await store?.close();
      await h?.cleanup();
    });

    it('creates, reads, renames and lists subjects, with clear errors', async () => {
      const ann = await store.createSubject('Ann', { team: 'blue', n: 1 });
      expect(ann).toMatchObject({ name: 'Ann', metadata: { team: 'blue', n: 1 }, faceCount: 0 });
      expect(await codeOf(store.createSubject('Ann'))).toMatch(/^name-taken: .*'Ann'/);
      expect(await codeOf(store.getSubject('Nobody'))).toMatch(/^not-found: no subject 'Nobody'/);
      expect(await codeOf(store.getSubject(987654))).toMatch(/^not-found: no subject #987654/);
      expect(await codeOf(store.createSubject(' Ann'))).toMatch(/^bad-input/);
      const bob = await store.createSubject('Bob');
      expect(await codeOf(store.renameSubject('Bob', 'Ann'))).toMatch(/^name-taken/);
      await store.renameSubject(bob.id, 'Robert');
      await store.setMetadata('Robert', { note: 'renamed' });
      expect((await store.getSubject(bob.id)).metadata).toEqual({ note: 'renamed' });
      expect((await store.listSubjects()).map((s) => s.name)).toEqual(['Ann', 'Robert']);
      expect((await store.listSubjects({ limit: 1, offset: 1 })).map((s) => s.name)).toEqual(['Robert']);
      await store.removeSubject('Ann');
      await store.removeSubject('Robert');
      expect(await store.listSubjects()).toEqual([]);
    });

    it('adds faces in one transaction and keeps their geometry and embedding bits', async () => {
      for (let i = 0; i < PEOPLE; i++) {
        await store.addFaces(`person ${i}`, facesOf(i), { create: { metadata: { i } } });
      }
      const p3 = await store.getSubject('person 3');
      expect(p3.faceCount).toBe(2);
      expect(p3.faces[0]).toMatchObject({
        recognizer: MODEL,
        dim: DIM,
        imageSha256: hash(3, 0),
        source: 'person3/photo0.jpg',
        box: { x1: 10.5, y1: 20.25, x2: 110.125, y2: 140 },
        detectorScore: 0.9375,
        quality: null,
      });
      expect(p3.faces[0].landmarks?.[1]).toEqual([80.25, 50.75]);
      const stored = await store.faceEmbeddings(p3.faces.map((f) => f.id));
      const want = facesOf(3);
      for (let j = 0; j < 2; j++) {
        const got = stored.get(p3.faces[j].id);
        expect(got).toBeDefined();
        // Bit-exact: compare the raw float32 words, not values within a tolerance.
        expect(new Uint32Array(got!.buffer)).toEqual(new Uint32Array(want[j].embedding.buffer));
      }
      expect(await store.recognizers()).toEqual([
        { id: MODEL, dim: DIM, faceCount: 2 * PEOPLE, indexed: false },
      ]);
    });

    it('refuses bad faces with a clear error and stores none of the batch', async () => {
      const good = facesOf(0).map((f, j) => ({ ...f, imageSha256: hash(90, j) }));
      const short = { ...good[1], embedding: unitVector(DIM / 2, 5) };
      expect(await codeOf(store.addFaces('person 0', [good[0], short]))).toMatch(
        /^bad-embedding: embedding has 32 dimensions but test:model-a embeddings have 64/,
      );
      const other = { ...good[1], recognizer: 'test:model-b' };
      expect(await codeOf(store.addFaces('person 0', [good[0], other]))).toMatch(
        /^model-mismatch: .*test:model-a.*test:model-b/,
      );
      const long = { ...good[1], embedding: good[1].embedding.map((x) => 2 * x) };
      expect(await codeOf(store.addFaces('person 0', [long]))).toMatch(/^bad-embedding: .*unit/);
      const dup = { ...good[1], imageSha256: hash(5, 1) };
      expect(await codeOf(store.addFaces('person 0', [good[0], dup]))).toMatch(
        /^duplicate-image: .*already enrolled as 'person 5'/,
      );
      expect(await codeOf(store.addFaces('nobody', good))).toMatch(/^not-found/);
      expect((await store.getSubject('person 0')).faceCount).toBe(2);
      expect((await store.recognizers()).map((r) => r.id)).toEqual([MODEL]);
    });

    it('searches exactly: the best face per subject, ranked as a brute-force scan ranks them', async () => {
      const probe = near(identities[7], 0.3, 77);
      const { hits, mode } = await store.search(probe, MODEL, { k: 4 });
      expect(mode).toBe('exact');
      const scan = Array.from({ length: PEOPLE }, (_, i) => ({
        name: `person ${i}`,
        sim: Math.max(...facesOf(i).map((f) => cosine(probe, f.embedding))),
      })).sort((a, b) => b.sim - a.sim);
      expect(hits.map((x) => x.name)).toEqual(scan.slice(0, 4).map((s) => s.name));
      expect(hits[0].name).toBe('person 7');
      hits.forEach((x, i) => expect(x.similarity).toBeCloseTo(scan[i].sim, 5));
      expect(await codeOf(store.search(probe, 'test:model-b'))).toMatch(
        /^model-mismatch: .*test:model-a \(64-d\).*test:model-b \(64-d\)/,
      );
      expect(await codeOf(store.search(unitVector(128, 1), MODEL))).toMatch(
        /^bad-embedding: embedding has 128 dimensions but test:model-a embeddings have 64/,
      );
    });

    it('finds the same nearest subjects through the HNSW index', async () => {
      await store.buildIndex(MODEL);
      expect((await store.recognizers())[0].indexed).toBe(true);
      for (const i of [0, 4, 9]) {
        const probe = near(identities[i], 0.3, 500 + i);
        const exact = await store.search(probe, MODEL, { k: 3, mode: 'exact' });
        const approx = await store.search(probe, MODEL, { k: 3, mode: 'hnsw' });
        expect(approx.mode).toBe('hnsw');
        expect(approx.hits.map((x) => x.name)).toEqual(exact.hits.map((x) => x.name));
        // 'auto' walks the index on a server; the embedded store scans its in-memory copy, exactly.
        const auto = await store.search(probe, MODEL, { k: 3 });
        expect(auto.mode).toBe(store.backend === 'server' ? 'hnsw' : 'exact');
        expect(auto.hits.map((x) => x.name)).toEqual(exact.hits.map((x) => x.name));
      }
    });

    it('exports and re-imports exactly', async () => {
      const before = await exportLines(store);
      expect(before).toHaveLength(1 + PEOPLE * 3);
      expect(JSON.parse(before[0])).toEqual({ type: 'gallery', format: 'arcface-ts-gallery', version: 1 });
      // Into the same gallery after emptying it: the round trip goes through the database both ways.
      for (let i = 0; i < PEOPLE; i++) await store.removeSubject(`person ${i}`);
      expect(await codeOf(store.importRecords([]))).toMatch(/^bad-input: empty export/);
      const parsed: GalleryRecord[] = before.map((l, n) => lineToRecord(l, `export:${n + 1}`));
      expect(await store.importRecords(parsed)).toEqual({ subjects: PEOPLE, faces: 2 * PEOPLE });
      expect(await exportLines(store)).toEqual(before);
      expect(await codeOf(store.importRecords(parsed))).toMatch(/^name-taken: cannot import 'person 0'/);
    });

    it('deletes a subject with all its faces in one go', async () => {
      const p2 = await store.getSubject('person 2');
      expect(await store.removeSubject('person 2')).toEqual({ faces: 2 });
      expect(await codeOf(store.getSubject('person 2'))).toMatch(/^not-found/);
      expect((await store.faceEmbeddings(p2.faces.map((f) => f.id))).size).toBe(0);
      expect((await store.recognizers())[0].faceCount).toBe(2 * (PEOPLE - 1));
      const { hits } = await store.search(identities[2], MODEL, { k: PEOPLE, mode: 'exact' });
      expect(hits.map((x) => x.name)).not.toContain('person 2');
      expect(hits).toHaveLength(PEOPLE - 1);
    });

    it('persists across reopening, and refuses a gallery from a newer schema', async () => {
      await store.close();
      store = await h.open();
      expect((await store.listSubjects()).length).toBe(PEOPLE - 1);
      await store.close();
      await h.raw(
        `INSERT INTO schema_version (version, description) VALUES (${SCHEMA_VERSION + 98}, 'future')`,
      );
      const msg = await codeOf(h.open());
      expect(msg).toMatch(/^schema-newer: .*schema version 99, written by a newer arcface-ts/);
      expect(msg).toContain(`up to version ${SCHEMA_VERSION}`);
      await h.raw(`DELETE FROM schema_version WHERE version = ${SCHEMA_VERSION + 98}`);
      store = await h.open();
    });
  });
}

describe.runIf(havePostgres())(
  'gallery store: the HNSW index is built past its threshold',
  { timeout: 300_000 },
  () => {
    it('builds the index once a recogniser holds hnswThreshold faces, and searches switch to it', async () => {
      const cluster = await startPostgres();
      try {
        const store = await openServerGallery(await cluster.createDatabase('threshold'), {
          hnswThreshold: 6,
        });
        try {
          for (let i = 0; i < 2; i++) await store.addFaces(`person ${i}`, facesOf(i), { create: {} });
          expect((await store.recognizers())[0].indexed).toBe(false);
          expect((await store.search(identities[1], MODEL)).mode).toBe('exact');
          await store.addFaces('person 2', facesOf(2), { create: {} });
          expect((await store.recognizers())[0]).toMatchObject({ faceCount: 6, indexed: true });
          const approx = await store.search(identities[1], MODEL, { k: 2 });
          expect(approx.mode).toBe('hnsw');
          expect(approx.hits[0].name).toBe('person 1');
        } finally {
          await store.close();
        }
      } finally {
        await cluster.stop();
      }
    });
  },
);

describe('embedded gallery directory lock', { timeout: 300_000 }, () => {
  it('refuses a second opener of the same directory, naming the pid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gallery-lock-'));
    try {
      const first = await openEmbeddedGallery(dir);
      try {
        const msg = await codeOf(openEmbeddedGallery(dir));
        expect(msg).toMatch(new RegExp(`^locked: .*open in another process \\(pid ${process.pid}`));
        expect(msg).toContain('postgres://');
      } finally {
        await first.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
