import { describe, expect, it } from 'vitest';
import {
  buildTemplates,
  cmcCurve,
  dirAtFpir,
  identifyLabelled,
  splitForIdentification,
} from '../../src/eval/identification.js';
import { searchGallery } from '../../src/eval/search.js';
import { l2Normalize } from '../../src/eval/similarity.js';
import { vectors } from './vectors.js';

const id = vectors.identification;
const gallery = l2Normalize(Float32Array.from(id.gallery), id.dim);
const mated = l2Normalize(Float32Array.from(id.matedProbes), id.dim);
const others = l2Normalize(Float32Array.from(id.nonMatedProbes), id.dim);
const probes = new Float32Array([...mated, ...others]);
const mate = Int32Array.from([...id.matedIdentity, ...others.map(() => -1).slice(0, others.length / id.dim)]);

describe('identification', () => {
  it('matches scikit-learn top_k_accuracy_score for every rank, and the DIR@FPIR brute force', async () => {
    const res = await searchGallery(probes, gallery, id.dim, mate, { k: 3 });
    const nm = id.matedIdentity.length;
    const cmc = cmcCurve(res.rank.subarray(0, nm), id.cmc.length);
    cmc.forEach((v, i) => expect(v).toBeCloseTo(id.cmc[i], 12));
    const top = Float32Array.from(
      { length: others.length / id.dim },
      (_, i) => res.topScore[(nm + i) * res.k],
    );
    const dirs = dirAtFpir(res.rank.subarray(0, nm), res.matedScore.subarray(0, nm), top, vectors.fpirs);
    id.dirAtFpir.forEach((want, i) => {
      expect(dirs[i].reliable).toBe(want.dir !== null);
      if (want.dir === null) {
        expect(dirs[i].dir).toBeNull();
        expect(dirs[i].note).toMatch(/non-mated probes/);
        return;
      }
      expect(dirs[i].dir).toBeCloseTo(want.dir, 12);
      // float32 engine scores against float64 NumPy scores.
      expect(dirs[i].threshold).toBeCloseTo(want.threshold!, 5);
      expect(dirs[i].achievedFpir).toBeCloseTo(want.achievedFpir!, 12);
    });
  });

  it('returns the same results whatever the chunking, and sorted top-k candidates', async () => {
    const one = await searchGallery(probes, gallery, id.dim, mate, { k: 4 });
    const many = await searchGallery(probes, gallery, id.dim, mate, { k: 4, maxElements: 7 * 12 });
    expect([...many.rank]).toEqual([...one.rank]);
    expect([...many.topIndex]).toEqual([...one.topIndex]);
    expect([...many.topScore]).toEqual([...one.topScore]);
    for (let p = 0; p < mate.length; p++) {
      const s = one.topScore.subarray(p * 4, p * 4 + 4);
      for (let j = 1; j < 4; j++) expect(s[j]).toBeLessThanOrEqual(s[j - 1]);
      // The best candidate's score is the probe's dot product with that gallery row.
      const g = one.topIndex[p * 4];
      let dot = 0;
      for (let k = 0; k < id.dim; k++) dot += probes[p * id.dim + k] * gallery[g * id.dim + k];
      expect(s[0]).toBeCloseTo(dot, 5);
      // A mate ranked first is the top candidate.
      if (one.rank[p] === 1) expect(g).toBe(mate[p]);
      if (mate[p] < 0) expect(one.rank[p]).toBe(0);
    }
  });

  it('counts ties against the mate', async () => {
    // Two identical gallery rows: the probe ties with both, so its mate ranks 2, not 1.
    const g = Float32Array.from([1, 0, 1, 0, 0, 1]);
    const res = await searchGallery(Float32Array.from([1, 0]), g, 2, Int32Array.from([0]), { k: 1 });
    expect(res.rank[0]).toBe(2);
    expect(res.matedScore[0]).toBe(1);
  });

  it('splits a labelled set into gallery, mated and non-mated probes', () => {
    const labels = ['a', 'b', 'a', 'c', 'a', 'b', 'd', 'd'];
    const s = splitForIdentification(labels);
    expect(s.identities).toEqual(['a', 'b', 'd']);
    expect(s.galleryRows).toEqual([[0], [1], [6]]);
    expect(s.matedRows).toEqual([2, 4, 5, 7]);
    expect([...s.matedIdentity]).toEqual([0, 0, 1, 2]);
    expect(s.nonMatedRows).toEqual([3]);
    const held = splitForIdentification(labels, { holdout: 0.34, seed: 3 });
    expect(held.identities).toHaveLength(2);
    expect(held.nonMatedRows.length).toBeGreaterThan(1);
    expect(splitForIdentification(labels, { holdout: 0.34, seed: 3 })).toEqual(held);
    const two = splitForIdentification(labels, { enrol: 2 });
    expect(two.identities).toEqual(['a']);
    expect(two.galleryRows).toEqual([[0, 2]]);
  });

  it('averages normalised rows into unit templates', () => {
    const t = buildTemplates(Float32Array.from([1, 0, 0, 1, 0, 1]), 2, [[0, 1], [2]]);
    expect(t[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(t[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect([t[2], t[3]]).toEqual([0, 1]);
    expect(() => buildTemplates(Float32Array.from([1, 0, -1, 0]), 2, [[0, 1]])).toThrow(/averages to zero/);
  });

  it('runs the whole labelled protocol', async () => {
    const labels = [
      ...id.matedIdentity.map((i) => `id${i}`),
      ...Array.from({ length: others.length / id.dim }, (_, i) => `x${i}`),
    ];
    const r = await identifyLabelled(probes, id.dim, labels, { maxRank: 5 });
    // Each identity enrols its first probe; the other four are mated probes; the singletons are non-mated.
    expect(r.galleryIdentities).toBe(12);
    expect(r.matedProbes).toBe(48);
    expect(r.nonMatedProbes).toBe(30);
    expect(r.cmc).toHaveLength(5);
    expect(r.rank1).toBe(r.cmc[0]);
    expect(r.rank5).toBe(r.cmc[4]);
    expect(r.rank10).toBe(r.cmc[4]);
    // Rank-1 by brute force over the same split: rows come five per identity, the first enrols.
    let hits = 0;
    for (let p = 0; p < 60; p++) {
      if (p % 5 === 0) continue;
      const scores = Array.from({ length: 12 }, (_, g) => {
        let dot = 0;
        for (let k = 0; k < id.dim; k++) dot += probes[p * id.dim + k] * probes[g * 5 * id.dim + k];
        return dot;
      });
      const best = scores.indexOf(Math.max(...scores));
      if (best === id.matedIdentity[p]) hits++;
    }
    expect(r.rank1).toBeCloseTo(hits / 48, 12);
    expect(r.dirAtFpir?.[0].reliable).toBe(true);
  });

  it('checks CMC input', () => {
    expect(cmcCurve([1, 2, 2, 5], 3)).toEqual([0.25, 0.75, 0.75]);
    expect(() => cmcCurve([], 3)).toThrow(/no mated probes/);
    expect(() => cmcCurve([0], 3)).toThrow(/rank 0 of probe 0/);
  });
});
