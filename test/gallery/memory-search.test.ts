/**
 * The embedded store's in-memory exact search against its SQL exact search, on one real PGlite gallery: the same
 * ranking and similarities (to 1e-6) for the engine's MatMul scan and the float64 loop, and still after removes,
 * renames, adds and imports made while the memory copy was loaded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedGallery } from '../../src/gallery/embedded.js';
import type { SqlStoreOptions } from '../../src/gallery/sql-store.js';
import type { GalleryRecord, GalleryStore, SearchHit } from '../../src/gallery/types.js';
import { seededRandom } from '../../src/util/random.js';
import { near, unitVector } from './vectors.js';

const DIM = 128;
const MODEL = 'test:memory';
const PEOPLE = 300;
const K = 7;

/** Unit to within the store's 1e-3 tolerance but not exactly: the scan must divide by norms as pgvector does. */
function offUnit(v: Float32Array, seed: number): Float32Array {
  const s = 1 + (seededRandom(seed)() - 0.5) * 1.5e-3;
  return v.map((x) => x * s);
}

const identities = Array.from({ length: PEOPLE }, (_, i) => unitVector(DIM, 9000 + i));
/** 1 to 3 faces per person. */
const facesOf = (i: number): Float32Array[] =>
  Array.from({ length: 1 + (i % 3) }, (_, j) =>
    offUnit(near(identities[i], 0.8, 20_000 + 10 * i + j), i + j),
  );

function records(): GalleryRecord[] {
  const createdAt = new Date(0);
  const out: GalleryRecord[] = [{ type: 'gallery', format: 'arcface-ts-gallery', version: 1 }];
  for (let i = 0; i < PEOPLE; i++) {
    out.push({ type: 'subject', name: `p${i}`, metadata: {}, createdAt });
    for (const embedding of facesOf(i)) {
      out.push({ type: 'face', subject: `p${i}`, recognizer: MODEL, embedding, createdAt });
    }
  }
  return out;
}

/** Probes: photos of gallery people, and strangers. */
const probes = [
  ...[3, 50, 151, 299].map((i) => near(identities[i], 0.8, 70_000 + i)),
  ...[1, 2, 3].map((i) => unitVector(DIM, 80_000 + i)),
];

async function searchAll(store: GalleryStore): Promise<SearchHit[][]> {
  const out: SearchHit[][] = [];
  for (const p of probes) {
    const r = await store.search(p, MODEL, { k: K, mode: 'exact' });
    expect(r.mode).toBe('exact');
    out.push([...r.hits]);
  }
  return out;
}

function expectSame(actual: SearchHit[][], expected: SearchHit[][]): void {
  expect(actual.map((hits) => hits.map((h) => h.name))).toEqual(
    expected.map((hits) => hits.map((h) => h.name)),
  );
  expect(actual.map((hits) => hits.map((h) => h.faceId))).toEqual(
    expected.map((hits) => hits.map((h) => h.faceId)),
  );
  actual.forEach((hits, i) =>
    hits.forEach((h, j) => expect(Math.abs(h.similarity - expected[i][j].similarity)).toBeLessThan(1e-6)),
  );
}

describe('embedded gallery: in-memory exact search', { timeout: 300_000 }, () => {
  let dir: string;
  const at = (): string => join(dir, 'g');
  const withStore = async <T>(opts: SqlStoreOptions, work: (s: GalleryStore) => Promise<T>): Promise<T> => {
    const store = await openEmbeddedGallery(at(), opts);
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  };
  const SQL: SqlStoreOptions = { memorySearch: false };
  const ENGINE: SqlStoreOptions = { memorySearch: { engineFrom: 0 } };
  const LOOP: SqlStoreOptions = { memorySearch: { engineFrom: Infinity } };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gallery-memory-'));
    await withStore(SQL, (s) => s.importRecords(records()));
  }, 300_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ranks as the SQL exact search does, with the same similarities, by MatMul and by loop', async () => {
    const sql = await withStore(SQL, searchAll);
    expect(sql[0][0].name).toBe('p3');
    expect(sql[0]).toHaveLength(K);
    expectSame(await withStore(ENGINE, searchAll), sql);
    expectSame(await withStore(LOOP, searchAll), sql);
  });

  it('stays right after removes, renames, adds and imports made while loaded', async () => {
    const mutate = async (s: GalleryStore): Promise<void> => {
      await s.removeSubject('p3');
      await s.renameSubject('p50', 'p50 renamed');
      const p151 = await s.getSubject('p151');
      await s.removeFace(p151.faces[0].id);
      await s.addFaces('p299', [{ embedding: offUnit(near(identities[299], 0.1, 5), 1), recognizer: MODEL }]);
      await s.addFaces(
        'newcomer',
        [{ embedding: offUnit(near(identities[3], 0.2, 6), 2), recognizer: MODEL }],
        {
          create: {},
        },
      );
      const createdAt = new Date(0);
      await s.importRecords([
        { type: 'gallery', format: 'arcface-ts-gallery', version: 1 },
        { type: 'subject', name: 'imported', metadata: {}, createdAt },
        {
          type: 'face',
          subject: 'imported',
          recognizer: MODEL,
          embedding: near(identities[151], 0.2, 7),
          createdAt,
        },
      ]);
    };
    for (const opts of [ENGINE, LOOP]) {
      const after = await withStore(opts, async (s) => {
        await searchAll(s); // loads the memory copy
        await mutate(s);
        return searchAll(s);
      });
      const sql = await withStore(SQL, async (s) => {
        const r = await searchAll(s);
        // Undo, so that the next pass mutates the same gallery.
        await s.removeSubject('newcomer');
        await s.removeSubject('imported');
        return r;
      });
      expect(sql[0][0].name).toBe('newcomer');
      expect(sql[0].map((h) => h.name)).not.toContain('p3');
      expect(sql[1][0].name).toBe('p50 renamed');
      expect(sql[2][0].name).toBe('imported');
      expectSame(after, sql);
      await withStore(SQL, async (s) => {
        await s.renameSubject('p50 renamed', 'p50');
        await s.addFaces(
          'p3',
          facesOf(3).map((embedding) => ({ embedding, recognizer: MODEL })),
          {
            create: {},
          },
        );
      });
    }
  });
});
