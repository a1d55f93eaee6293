/**
 * `arcface calibrate` on real data: the Paddle MobileFaceNet from ../shared and 60 LFW pairs, default
 * (npm-shipped) detector. The card's threshold must reproduce its stated FAR/TAR when the model is loaded
 * again (the loader picks the card up), `verify` must use it without --threshold, a card for another file must
 * be refused, and the normalisation search must rank InsightFace's (x - 127.5) / 127.5 RGB above BGR 0..1.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFace } from '../../src/face/align.js';
import { decodeImage } from '../../src/face/image.js';
import { type ModelCard, NORMALIZATION_CANDIDATES, fileSha256 } from '../../src/face/model-card.js';
import { scoreNormalizations } from '../../src/face/normalization-search.js';
import { rankScoreSets } from '../../src/eval/score-ranking.js';
import { createFacePipeline } from '../../src/face/pipeline.js';
import type { RgbImage } from '../../src/face/types.js';
import { LFW_DIR, haveLfw } from './data.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const PADDLE = fileURLToPath(
  new URL('../../../shared/data/models/arcface-paddle/arcface_mobilefacenet_paddle.onnx', import.meta.url),
);
const PAIRS = join(LFW_DIR, '..', 'pairs.txt');
const TARGET_FAR = 0.1;
const PER_KIND = 30;

function havePaddle(): boolean {
  const ok = haveLfw() && existsSync(PADDLE) && existsSync(PAIRS);
  if (!ok)
    console.warn(`calibrate tests skipped: ${PADDLE} or ${PAIRS} missing; see ../shared/data/README.md`);
  return ok;
}

const arcface = (...args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dev', timeoutMs: 600_000 });

interface Pair {
  a: string;
  b: string;
  same: boolean;
}

/** PER_KIND genuine and PER_KIND impostor pairs spread over LFW's pairs.txt (all folds). */
async function pairSubset(): Promise<Pair[]> {
  const lines = (await readFile(PAIRS, 'utf8')).split(/\r?\n/).slice(1).filter(Boolean);
  const img = (name: string, n: string): string => `${name}/${name}_${n.padStart(4, '0')}.jpg`;
  const parsed = lines.map((l): Pair => {
    const f = l.trim().split(/\s+/);
    return f.length === 3
      ? { a: img(f[0], f[1]), b: img(f[0], f[2]), same: true }
      : { a: img(f[0], f[1]), b: img(f[2], f[3]), same: false };
  });
  const spread = (ps: Pair[]): Pair[] =>
    Array.from({ length: PER_KIND }, (_, i) => ps[Math.floor((i * ps.length) / PER_KIND)]);
  return [...spread(parsed.filter((p) => p.same)), ...spread(parsed.filter((p) => !p.same))];
}

function pairsFile(pairs: readonly Pair[]): string {
  const parts = (p: string): [string, string] => {
    const [name, file] = p.split('/');
    return [name, String(Number(file.slice(name.length + 1, -4)))];
  };
  return (
    pairs
      .map((p) => {
        const [na, ia] = parts(p.a);
        const [nb, ib] = parts(p.b);
        return p.same ? `${na}\t${ia}\t${ib}` : `${na}\t${ia}\t${nb}\t${ib}`;
      })
      .join('\n') + '\n'
  );
}

describe.runIf(havePaddle())('arcface calibrate (Paddle MobileFaceNet, 60 LFW pairs)', () => {
  let dir: string;
  let model: string;
  let pairs: Pair[];
  let card: ModelCard;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'calibrate-'));
    // A copy, so that the card lands next to it and not in ../shared.
    model = join(dir, 'paddle.onnx');
    await copyFile(PADDLE, model);
    pairs = await pairSubset();
    await writeFile(join(dir, 'pairs.txt'), pairsFile(pairs));
  }, 60_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a card whose threshold gives the stated FAR and TAR when the model is loaded again', async () => {
    const r = await arcface(
      'calibrate',
      ...['--pairs', join(dir, 'pairs.txt'), '--images', LFW_DIR],
      ...['--recognizer', `onnx:${model}`, '--far', String(TARGET_FAR)],
      ...['--normalization', 'rgb-127.5', '--threads', '1', '--quiet'],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/threshold at FAR 0\.1: /);
    card = JSON.parse(await readFile(`${model}.card.json`, 'utf8')) as ModelCard;
    expect(card.model.sha256).toBe(await fileSha256(PADDLE));
    expect(card.model.dim).toBe(128);
    expect(card.normalization).toMatchObject({
      mean: 127.5,
      std: 127.5,
      order: 'rgb',
      chosen: { how: 'given' },
    });
    expect(card.data.genuinePairs + card.data.impostorPairs).toBe(2 * PER_KIND);
    expect(card.atTargetFar.far).toBeLessThanOrEqual(TARGET_FAR);

    // The loader finds the card next to the model and carries its threshold.
    const p = await createFacePipeline({ recognizer: `onnx:${model}`, threads: 1 });
    try {
      expect(p.recognizer?.threshold).toBe(card.threshold);
      expect(p.recognizer?.calibration?.measured).toMatch(/model card/);
      const paths = [...new Set(pairs.flatMap((q) => [q.a, q.b]))];
      const results = await p.embedMany(paths.map((q) => join(LFW_DIR, q)));
      const byPath = new Map(
        results.map((res, i) => {
          if (!res.ok) throw res.error;
          return [paths[i], res.embedding];
        }),
      );
      const score = (q: Pair): number => p.compare(byPath.get(q.a)!, byPath.get(q.b)!);
      const accepted = (ps: Pair[]): number =>
        ps.filter((q) => score(q) >= card.threshold).length / ps.length;
      expect(accepted(pairs.filter((q) => !q.same))).toBeCloseTo(card.atTargetFar.far, 6);
      expect(accepted(pairs.filter((q) => q.same))).toBeCloseTo(card.atTargetFar.tar, 6);
    } finally {
      await p.dispose();
    }
  }, 900_000);

  it('verify uses the card when no --threshold is given', async () => {
    expect(card).toBeDefined();
    const q = pairs[0];
    const r = await arcface(
      'verify',
      join(LFW_DIR, q.a),
      join(LFW_DIR, q.b),
      ...['--recognizer', `onnx:${model}`, '--threads', '1', '--json'],
    );
    const v = JSON.parse(r.stdout) as { similarity: number; threshold: number; same: boolean };
    expect(v.threshold).toBe(card.threshold);
    expect(v.same).toBe(v.similarity >= card.threshold);
    expect(r.code).toBe(v.same ? 0 : 1);
  }, 300_000);

  it('refuses a card made for another model file', async () => {
    expect(card).toBeDefined();
    const other = join(dir, 'other');
    await mkdir(other);
    const copy = join(other, 'paddle.onnx');
    await copyFile(PADDLE, copy);
    const wrong = { ...card, model: { ...card.model, sha256: 'f'.repeat(64) } };
    await writeFile(`${copy}.card.json`, JSON.stringify(wrong));
    const q = pairs[0];
    const r = await arcface('verify', join(LFW_DIR, q.a), join(LFW_DIR, q.b), '--recognizer', `onnx:${copy}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/calibrated for another model/);
  }, 300_000);

  it('the normalisation search ranks (x - 127.5) / 127.5 RGB above BGR 0..1', async () => {
    const p = await createFacePipeline({ recognizer: false, threads: 1 });
    const crops: RgbImage[] = [];
    const row = new Map<string, number>();
    try {
      for (const path of pairs.flatMap((q) => [q.a, q.b])) {
        if (row.has(path)) continue;
        const image = await decodeImage(join(LFW_DIR, path));
        const face = (await p.detect(image)).faces[0];
        row.set(path, crops.length);
        crops.push(alignFace(image, face.landmarks, 112));
      }
    } finally {
      await p.dispose();
    }
    const { 'rgb-127.5': right, 'bgr-01': wrong } = NORMALIZATION_CANDIDATES;
    const sets = await scoreNormalizations(
      PADDLE,
      crops,
      Int32Array.from(pairs, (q) => row.get(q.a)!),
      Int32Array.from(pairs, (q) => row.get(q.b)!),
      { threads: 1, candidates: { 'rgb-127.5': right, 'bgr-01': wrong } },
    );
    const scores = rankScoreSets(
      sets,
      Uint8Array.from(pairs, (q) => (q.same ? 1 : 0)),
    );
    console.log(JSON.stringify(scores));
    expect(scores[0].name).toBe('rgb-127.5');
    expect(scores[0].auc).toBeGreaterThanOrEqual(scores[1].auc);
    expect(scores[0].separation).toBeGreaterThan(scores[1].separation + 0.25);
  }, 600_000);
});
