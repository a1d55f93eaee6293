import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEmbeddings } from '../../src/eval/embeddings-io.js';
import { LFW_DIR, MOBILEFACENET, SCRFD_500M, haveSharedData, lfw } from './data.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const BIN = fileURLToPath(new URL('../../bin/arcface-dev.mjs', import.meta.url));
const MODELS = ['--detector', `scrfd:${SCRFD_500M}`, '--threads', '1'];
const RECOGNIZER = ['--recognizer', `onnx:${MOBILEFACENET}`];

const arcface = (...args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dev', timeoutMs: 60_000 });

describe.runIf(haveSharedData())('arcface detect / embed / verify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'face-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('detect prints faces as JSON and draws them', async () => {
    const out = join(dir, 'annotated.png');
    const r = await arcface('detect', lfw('Abel_Pacheco', 1), '--out', out, ...MODELS);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as {
      width: number;
      faces: { box: number[]; landmarks: number[][] }[];
    };
    expect(result.width).toBe(250);
    expect(result.faces.length).toBeGreaterThanOrEqual(1);
    expect(result.faces[0].landmarks).toHaveLength(5);
    const drawn = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect([drawn.info.width, drawn.info.height]).toEqual([250, 250]);
    // The box outline is drawn in pure-ish green at its top edge.
    const [x1, y1] = result.faces[0].box.map(Math.round);
    const at = ((y1 * 250 + x1 + 10) * drawn.info.channels) as number;
    expect(drawn.data[at + 1]).toBeGreaterThan(200);
    expect(drawn.data[at]).toBeLessThan(80);
  });

  it('verify exits 0 for the same person, 1 for different people, 2 for errors', async () => {
    const same = await arcface(
      'verify',
      lfw('Abel_Pacheco', 1),
      lfw('Abel_Pacheco', 4),
      '--threshold',
      '0.3',
      ...MODELS,
      ...RECOGNIZER,
    );
    expect(same.stdout).toMatch(/similarity 0\.\d+ .*same/);
    expect(same.code).toBe(0);
    const diff = await arcface(
      'verify',
      lfw('Abel_Pacheco', 1),
      lfw('Jong_Thae_Hwa', 2),
      '--threshold',
      '0.3',
      '--json',
      ...MODELS,
      ...RECOGNIZER,
    );
    expect(diff.code).toBe(1);
    expect((JSON.parse(diff.stdout) as { same: boolean }).same).toBe(false);
    const bad = await arcface(
      'verify',
      lfw('Abel_Pacheco', 1),
      BIN,
      '--threshold',
      '0.3',
      ...MODELS,
      ...RECOGNIZER,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not an image/);
    const usage = await arcface('verify', lfw('Abel_Pacheco', 1), ...RECOGNIZER);
    expect(usage.code).toBe(2);
  });

  it('embed writes JSON lines and binary files that eval reads back', async () => {
    const folder = join(LFW_DIR, 'Akhmed_Zakayev');
    const jsonl = join(dir, 'e.jsonl');
    const bin = join(dir, 'e.bin');
    const a = await arcface('embed', folder, '--out', jsonl, ...MODELS, ...RECOGNIZER);
    expect(a.code).toBe(0);
    const b = await arcface('embed', folder, '--out', bin, '--quiet', ...MODELS, ...RECOGNIZER);
    expect(b.code).toBe(0);
    const [fromJson, fromBin] = await Promise.all([readEmbeddings(jsonl), readEmbeddings(bin)]);
    expect(fromJson.dim).toBe(128);
    expect(fromJson.meta.map((m) => m.path)).toEqual([
      'Akhmed_Zakayev_0001.jpg',
      'Akhmed_Zakayev_0002.jpg',
      'Akhmed_Zakayev_0003.jpg',
    ]);
    expect(fromBin.meta).toEqual(fromJson.meta);
    for (let i = 0; i < fromJson.vectors.length; i++)
      expect(fromBin.vectors[i]).toBeCloseTo(fromJson.vectors[i], 6);
  });
});
