/**
 * The evaluation runs report progress through callbacks (the CLI draws the bars): each stage is named,
 * its counts never go backwards, and its last report says the stage is complete. The run leaves no session open.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedSessionCount } from '../../src/engine/runtime.js';
import { embedImages, oneByOne } from '../../src/eval/pair-embeddings.js';
import { runLabelled } from '../../src/eval/run.js';

type Report = readonly [stage: string, done: number, total: number];

function byStage(reports: readonly Report[]): Map<string, Report[]> {
  const m = new Map<string, Report[]>();
  for (const r of reports) m.set(r[0], [...(m.get(r[0]) ?? []), r]);
  return m;
}

describe('progress callbacks', () => {
  it('runLabelled reports scoring and searching, each up to its total', async () => {
    // 4 identities x 3 rows, 8-d, each identity's rows near its own axis.
    const dim = 8;
    const labels = ['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'c', 'd', 'd', 'd'];
    const vectors = new Float32Array(labels.length * dim);
    labels.forEach((l, i) => {
      const axis = l.charCodeAt(0) - 97;
      for (let k = 0; k < dim; k++) vectors[i * dim + k] = k === axis ? 1 : 0.05 * ((i + k) % 3);
    });
    const reports: Report[] = [];
    const sessionsBefore = cachedSessionCount();
    const r = await runLabelled(vectors, dim, labels, {
      threads: 1,
      onProgress: (stage, done, total) => reports.push([stage, done, total]),
    });
    expect(r.verification).not.toBeNull();
    expect(r.identification).not.toBeNull();
    // Scoring and search release their sessions when done.
    expect(cachedSessionCount()).toBe(sessionsBefore);
    const stages = byStage(reports);
    expect([...stages.keys()]).toEqual(['scoring all pairs', 'searching the gallery']);
    for (const list of stages.values()) {
      const dones = list.map((x) => x[1]);
      expect(dones).toEqual([...dones].sort((a, b) => a - b));
      const last = list[list.length - 1];
      expect(last[1]).toBe(last[2]);
      expect(last[2]).toBeGreaterThan(0);
    }
    expect(stages.get('scoring all pairs')![0]).toEqual(['scoring all pairs', 0, labels.length]);
  });

  it('embedImages reports each image against the total', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arcface-progress-'));
    try {
      const names = ['x.txt', 'y.txt', 'z.txt'];
      await Promise.all(names.map((n, i) => writeFile(join(dir, n), String(i + 1))));
      const calls: [number, number][] = [];
      // An embedder reading each file: a one-hot by the number it holds.
      const embed = oneByOne(async (path) => {
        const v = new Float32Array(4);
        v[Number(await readFile(path, 'utf8'))] = 1;
        return v;
      });
      const out = await embedImages(dir, names, embed, {
        onProgress: (done, total) => calls.push([done, total]),
      });
      expect(out.ok).toEqual([true, true, true]);
      expect(calls).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
