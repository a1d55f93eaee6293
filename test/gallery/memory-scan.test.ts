/**
 * The in-memory scan (src/gallery/memory-search.ts) against a float64 brute force over the same faces, without a
 * database: the engine's MatMul path and the TypeScript loop, subjects with one face and a subject with so many
 * near-identical faces that the top-face heap holds fewer than k subjects, and rows removed and added.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type MemoryFace, MemorySearch } from '../../src/gallery/memory-search.js';
import type { SearchHit } from '../../src/gallery/types.js';
import { near, unitVector } from './vectors.js';

const DIM = 96;
const MODEL = 'test:scan';

/** 400 subjects with 1-2 faces; subject 0 has 300 faces all close to the probe's identity. */
function gallery(): MemoryFace[] {
  const faces: MemoryFace[] = [];
  let id = 1;
  for (let s = 0; s < 400; s++) {
    const base = unitVector(DIM, 100 + s);
    const count = s === 0 ? 300 : 1 + (s % 2);
    for (let j = 0; j < count; j++) {
      faces.push({ faceId: id++, subjectId: s, embedding: near(base, s === 0 ? 0.05 : 0.5, 1000 * s + j) });
    }
  }
  return faces;
}

function bruteForce(faces: readonly MemoryFace[], q: Float32Array, k: number): SearchHit[] {
  const best = new Map<number, { faceId: number; similarity: number }>();
  let qn = 0;
  for (const x of q) qn += x * x;
  for (const f of faces) {
    let d = 0;
    let n = 0;
    for (let i = 0; i < DIM; i++) {
      d += f.embedding[i] * q[i];
      n += f.embedding[i] * f.embedding[i];
    }
    const sim = d / Math.sqrt(n * qn);
    const b = best.get(f.subjectId);
    if (!b || sim > b.similarity) best.set(f.subjectId, { faceId: f.faceId, similarity: sim });
  }
  return [...best.entries()]
    .sort((a, b) => b[1].similarity - a[1].similarity || a[0] - b[0])
    .slice(0, k)
    .map(([subjectId, h]) => ({ subjectId, name: `s${subjectId}`, ...h }));
}

describe('in-memory exact scan', () => {
  const searches: MemorySearch[] = [];
  afterAll(async () => {
    for (const m of searches) await m.dispose();
  });

  for (const [label, engineFrom] of [
    ['engine MatMul', 0],
    ['float64 loop', Infinity],
  ] as const) {
    it(`ranks as a float64 brute force does (${label}), before and after removes and adds`, async () => {
      let faces = gallery();
      const m = new MemorySearch({ engineFrom });
      searches.push(m);
      const loaded = await m.ensure(
        MODEL,
        DIM,
        async () => new Map(Array.from({ length: 400 }, (_, s) => [s, `s${s}`])),
        async (sink) => sink(faces),
      );
      expect(loaded).toBe(true);
      const probes = [unitVector(DIM, 100), near(unitVector(DIM, 150), 0.4, 7), unitVector(DIM, 5)];
      const check = async (): Promise<void> => {
        for (const q of probes) {
          for (const k of [1, 5, 40]) {
            const got = await m.search(MODEL, q, k);
            const want = bruteForce(faces, q, k);
            expect(got.map((h) => [h.subjectId, h.faceId])).toEqual(want.map((h) => [h.subjectId, h.faceId]));
            got.forEach((h, i) => expect(Math.abs(h.similarity - want[i].similarity)).toBeLessThan(1e-12));
          }
        }
      };
      await check();
      expect((await m.search(MODEL, probes[0], 3))[0].name).toBe('s0');
      // Remove a subject, some faces of the crowded one, then add faces back.
      m.removeSubject(150);
      for (const f of faces.filter((x) => x.subjectId === 0).slice(0, 250)) m.removeFace(f.faceId);
      const removed = new Set(
        faces
          .filter((x) => x.subjectId === 0)
          .slice(0, 250)
          .map((x) => x.faceId),
      );
      faces = faces.filter((x) => x.subjectId !== 150 && !removed.has(x.faceId));
      const extra = [
        { faceId: 90_001, subjectId: 7, embedding: near(unitVector(DIM, 150), 0.3, 8) },
        { faceId: 90_002, subjectId: 401, embedding: unitVector(DIM, 5) },
      ];
      m.subjectNames?.set(401, 's401');
      m.loaded(MODEL)?.add(extra);
      faces = [...faces, ...extra];
      await check();
      expect((await m.search(MODEL, probes[2], 1))[0]).toMatchObject({ name: 's401', faceId: 90_002 });
    });
  }
});
