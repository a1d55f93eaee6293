/**
 * `arcface gallery search --embedding FILE --recognizer SPEC`: an embedding already computed against a real
 * embedded gallery (imported from synthetic 128-d faces stored as faceapi:resnet34's), exit codes as `identify`,
 * and one-line errors naming the models for a wrong dimension and for another recogniser's gallery.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEmbeddings } from '../../src/eval/embeddings-io.js';
import { recordToLine } from '../../src/gallery/jsonl.js';
import type { GalleryRecord } from '../../src/gallery/types.js';
import { near, unitVector } from './vectors.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const DIM = 128;
const people = ['Ada', 'Grace', 'Edsger'];
const identities = people.map((_, i) => unitVector(DIM, 300 + i));

const arcface = (...args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dist', timeoutMs: 300_000 });

function exportOf(recognizer: string): string {
  const createdAt = new Date(0);
  const records: GalleryRecord[] = [{ type: 'gallery', format: 'arcface-ts-gallery', version: 1 }];
  people.forEach((name, i) => {
    records.push({ type: 'subject', name, metadata: {}, createdAt });
    for (const j of [0, 1]) {
      records.push({
        type: 'face',
        subject: name,
        recognizer,
        embedding: near(identities[i], 0.2, 400 + 10 * i + j),
        createdAt,
      });
    }
  });
  return records.map((r) => `${recordToLine(r)}\n`).join('');
}

describe('arcface gallery search --embedding', { timeout: 1_200_000 }, () => {
  let dir: string;
  let db: string[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gallery-search-cli-'));
    db = ['--db', join(dir, 'faces.db')];
    await writeFile(join(dir, 'g.jsonl'), exportOf('faceapi:resnet34'));
    const r = await arcface('gallery', 'import', join(dir, 'g.jsonl'), ...db);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 600_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const search = (file: string, ...more: string[]): Promise<CliRun> =>
    arcface('gallery', 'search', '--embedding', file, '--recognizer', 'faceapi:resnet34', ...db, ...more);

  it('names a known person (exit 0), from a JSON array of any length scale', async () => {
    const q = join(dir, 'grace.json');
    await writeFile(q, JSON.stringify(Array.from(near(identities[1], 0.1, 9), (x) => 3 * x)));
    const r = await search(q, '--json', '--top', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { known: boolean; match: { name: string }; candidates: unknown[] };
    expect(out.known).toBe(true);
    expect(out.match.name).toBe('Grace');
    expect(out.candidates).toHaveLength(2);
  });

  it('says unknown (exit 1) below the calibrated threshold', async () => {
    const q = join(dir, 'stranger.json');
    await writeFile(q, JSON.stringify(Array.from(unitVector(DIM, 999))));
    const r = await search(q);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^unknown \(best similarity -?0\.\d{4} < 0\.\d+\)/);
  });

  it('searches every row of an embeddings file (AFEMB1)', async () => {
    const q = join(dir, 'two.afemb');
    const vectors = new Float32Array(2 * DIM);
    vectors.set(near(identities[0], 0.1, 10), 0);
    vectors.set(near(identities[2], 0.1, 11), DIM);
    await writeEmbeddings(q, { dim: DIM, vectors, meta: [{ path: 'a.jpg' }, { path: 'e.jpg' }] });
    const r = await search(q, '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { embedding: string; match: { name: string } }[];
    expect(out.map((o) => [o.embedding, o.match.name])).toEqual([
      ['a.jpg', 'Ada'],
      ['e.jpg', 'Edsger'],
    ]);
  });

  it('refuses a wrong-dimension embedding, naming the model and both sizes (exit 2, one line)', async () => {
    const q = join(dir, 'short.json');
    await writeFile(q, JSON.stringify(Array.from(unitVector(64, 5))));
    const r = await search(q);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has 64 dimensions, but faceapi:resnet34 embeddings have 128/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses another recogniser's gallery, naming both models (exit 2, one line)", async () => {
    const other = ['--db', join(dir, 'other.db')];
    await writeFile(join(dir, 'o.jsonl'), exportOf('test:other-model'));
    expect((await arcface('gallery', 'import', join(dir, 'o.jsonl'), ...other)).code).toBe(0);
    const q = join(dir, 'ada.json');
    await writeFile(q, JSON.stringify(Array.from(identities[0])));
    const r = await arcface(
      'gallery',
      'search',
      '--embedding',
      q,
      '--recognizer',
      'faceapi:resnet34',
      ...other,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /holds faces embedded by test:other-model \(128-d\), but the query was embedded by faceapi:resnet34 \(128-d\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
