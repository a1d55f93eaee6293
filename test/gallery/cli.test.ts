/**
 * `arcface gallery …` and `arcface identify` end to end: real LFW photos through the default face pipeline into an
 * embedded gallery directory, exit codes, JSON output, and errors that are one clear line (no stack trace).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveLfw, lfw } from '../face/data.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const arcface = (...args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dist', timeoutMs: 300_000 });

/** A one-line error: the message, and no stack trace. */
function expectCleanError(r: CliRun, message: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe.runIf(haveLfw())('arcface gallery / identify (embedded)', { timeout: 1_200_000 }, () => {
  let dir: string;
  let db: string[];
  const one = ['--threads', '1'];
  let blank: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gallery-cli-'));
    db = ['--db', join(dir, 'faces.db')];
    blank = join(dir, 'wall.png');
    await sharp({ create: { width: 240, height: 240, channels: 3, background: { r: 120, g: 130, b: 140 } } })
      .png()
      .toFile(blank);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('enrols faces, says what it did with a faceless image and a repeated file, and exits 1 for them', async () => {
    const r = await arcface(
      'gallery',
      'enrol',
      'Aaron_Peirsol',
      lfw('Aaron_Peirsol', 1),
      lfw('Aaron_Peirsol', 2),
      blank,
      lfw('Aaron_Peirsol', 1),
      '--meta',
      '{"team":"swim"}',
      '--json',
      ...db,
      ...one,
    );
    expect(r.stderr).toContain(`${blank}: no face found: not enrolled`);
    expect(r.stderr).toContain(`same file as ${lfw('Aaron_Peirsol', 1)}: enrolled once`);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { subject: { name: string; faceCount: number; metadata: object } };
    expect(out.subject).toMatchObject({ name: 'Aaron_Peirsol', faceCount: 2, metadata: { team: 'swim' } });
    const again = await arcface(
      'gallery',
      'enrol',
      'Abel_Pacheco',
      lfw('Abel_Pacheco', 1),
      lfw('Aaron_Peirsol', 2),
      ...db,
      ...one,
    );
    expect(again.stderr).toContain("already enrolled as 'Aaron_Peirsol': not enrolled again");
    expect(again.code).toBe(1);
  });

  it('identifies a new photo of an enrolled person (exit 0) and rejects a stranger (exit 1)', async () => {
    const known = await arcface('identify', lfw('Aaron_Peirsol', 3), '--top', '2', '--json', ...db, ...one);
    expect(known.stderr).toBe('');
    expect(known.code).toBe(0);
    const k = JSON.parse(known.stdout) as {
      known: boolean;
      match: { name: string; similarity: number };
      candidates: { name: string; similarity: number }[];
      threshold: number;
    };
    expect(k.known).toBe(true);
    expect(k.match.name).toBe('Aaron_Peirsol');
    expect(k.candidates.map((c) => c.name)).toEqual(['Aaron_Peirsol', 'Abel_Pacheco']);
    expect(k.match.similarity).toBeGreaterThanOrEqual(k.threshold);
    const stranger = await arcface('identify', lfw('Serena_Williams', 1), ...db, ...one);
    expect(stranger.code).toBe(1);
    expect(stranger.stdout).toMatch(/^unknown \(best similarity [0-9.]+ < 0\.\d+\)/);
    const wall = await arcface('identify', blank, ...db, ...one);
    expect(wall.code).toBe(1);
    expect(wall.stderr).toContain(`no face found in ${blank}: nothing was identified`);
  });

  it('refuses another recogniser\u2019s embeddings, naming both models', async () => {
    const r = await arcface(
      'identify',
      lfw('Aaron_Peirsol', 3),
      '--recognizer',
      'human:mobileface',
      ...db,
      ...one,
    );
    expectCleanError(r, /faces embedded by faceapi:resnet34 \(128-d\).*human:mobileface \(256-d\)/);
  });

  it('lists, shows, renames, exports, removes and re-imports exactly', async () => {
    const list = JSON.parse((await arcface('gallery', 'list', '--json', ...db)).stdout) as {
      subjects: { name: string; faceCount: number }[];
    };
    expect(list.subjects.map((s) => [s.name, s.faceCount])).toEqual([
      ['Aaron_Peirsol', 2],
      ['Abel_Pacheco', 1],
    ]);
    const show = await arcface('gallery', 'show', 'Abel_Pacheco', ...db);
    expect(show.stdout).toContain(lfw('Abel_Pacheco', 1));
    expectCleanError(await arcface('gallery', 'show', 'Nobody', ...db), /no subject 'Nobody'/);
    expect((await arcface('gallery', 'rename', 'Abel_Pacheco', 'Abel P.', ...db)).code).toBe(0);
    const file = join(dir, 'export.jsonl');
    expect((await arcface('gallery', 'export', '--out', file, ...db)).code).toBe(0);
    const exported = await readFile(file, 'utf8');
    expect(exported.trim().split('\n')).toHaveLength(1 + 2 + 3);
    const removed = await arcface('gallery', 'remove', 'Abel P.', ...db);
    expect(removed.stdout).toContain("removed 'Abel P.' and 1 face(s)");
    expectCleanError(await arcface('gallery', 'import', file, ...db), /cannot import 'Aaron_Peirsol'/);
    await arcface('gallery', 'remove', 'Aaron_Peirsol', ...db);
    expect((await arcface('gallery', 'import', file, ...db)).stdout).toContain('imported 2 people, 3 faces');
    const again = await arcface('gallery', 'export', ...db);
    expect(again.stdout).toBe(exported);
  });
});
