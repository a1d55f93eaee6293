import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerEvalCommand } from '../../src/cli/commands/eval.js';
import { type EmbeddingMeta, writeEmbeddings } from '../../src/eval/embeddings-io.js';

const SHARED = resolve(__dirname, '../../../shared/data');
const LFW = join(SHARED, 'lfw');
const MFN = join(SHARED, 'models/mobilefacenet/mobilefacenet_photo_analyze.onnx');
const SCRFD = join(SHARED, 'models/scrfd/scrfd_500m.onnx');

interface Report {
  embeddings: { count: number; dim: number };
  verification: {
    protocol: string;
    genuinePairs: number;
    impostorPairs: number;
    auc: number;
    scores: { genuine: { mean: number }; impostor: { mean: number } };
    kfold?: { k: number; accuracyMean: number; foldsFrom: string };
    tarAtFar: { far: number; reliable: boolean }[];
  } | null;
  identification: {
    galleryIdentities: number;
    matedProbes: number;
    nonMatedProbes: number;
    rank1: number;
    cmc: number[];
  } | null;
  plots: string[];
  notes: string[];
}

async function arcfaceEval(args: string[]): Promise<string> {
  const program = new Command('arcface').exitOverride();
  registerEvalCommand(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await program.parseAsync(['eval', '--quiet', ...args], { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}

const readReport = async (dir: string): Promise<Report> =>
  JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as Report;

/** 30 identities with 1..5 embeddings each, 32-d, clustered around one centre per identity. */
function labelledSet(): { dim: number; vectors: Float32Array; meta: EmbeddingMeta[] } {
  let s = 7;
  const rnd = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const dim = 32;
  const rows: number[] = [];
  const meta: EmbeddingMeta[] = [];
  for (let id = 0; id < 30; id++) {
    const centre = Array.from({ length: dim }, rnd);
    for (let j = 0; j < 1 + (id % 5); j++) {
      meta.push({ path: `P${id}/P${id}_${String(j + 1).padStart(4, '0')}.jpg`, label: `P${id}` });
      rows.push(...centre.map((c) => c + 0.5 * rnd()));
    }
  }
  return { dim, vectors: Float32Array.from(rows), meta };
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arcface-eval-cli-'));
  await writeEmbeddings(join(dir, 'set.jsonl'), labelledSet());
  await writeEmbeddings(join(dir, 'set.bin'), labelledSet());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('arcface eval', () => {
  it('evaluates a labelled embeddings file: all-pairs verification, identification, plots', async () => {
    const out = join(dir, 'labelled');
    const text = await arcfaceEval(['--embeddings', join(dir, 'set.bin'), '--holdout', '0.25', '--out', out]);
    const r = await readReport(out);
    // 30 identities of 1..5 embeddings: 6 x (0+1+3+6+10) genuine pairs among 90 embeddings.
    expect(r.embeddings).toEqual({ count: 90, dim: 32 });
    expect(r.verification?.protocol).toBe('all-pairs');
    expect(r.verification?.genuinePairs).toBe(120);
    expect(r.verification?.impostorPairs).toBe((90 * 89) / 2 - 120);
    expect(r.verification!.scores.genuine.mean).toBeGreaterThan(r.verification!.scores.impostor.mean);
    // 24 identities have 2+ embeddings; a quarter of them (6) stay out of the gallery.
    expect(r.identification?.galleryIdentities).toBe(18);
    expect(r.identification!.matedProbes + r.identification!.nonMatedProbes + 18).toBe(90);
    expect(r.identification?.cmc).toHaveLength(18);
    expect(r.plots.sort()).toEqual(['cmc.png', 'cmc.svg', 'roc.png', 'roc.svg', 'scores.png', 'scores.svg']);
    expect((await readdir(out)).sort()).toEqual([...r.plots, 'report.json'].sort());
    expect(text).toContain('verification (all-pairs): 120 genuine');
    expect(text).toMatch(/rank-1 \d+\.\d\d%/);
    expect(text).toContain('TAR@FAR=1e-4: n/a: needs at least 10000 impostor pairs');
  });

  it('takes labels from --labels and can skip either part', async () => {
    const set = labelledSet();
    await writeEmbeddings(join(dir, 'unlabelled.jsonl'), {
      ...set,
      meta: set.meta.map((m) => ({ path: m.path })),
    });
    await writeFile(join(dir, 'labels.txt'), set.meta.map((m) => m.label).join('\n') + '\n');
    const out = join(dir, 'labels');
    await arcfaceEval([
      '--embeddings',
      join(dir, 'unlabelled.jsonl'),
      '--labels',
      join(dir, 'labels.txt'),
      '--no-all-pairs',
      '--out',
      out,
    ]);
    const r = await readReport(out);
    expect(r.verification).toBeNull();
    expect(r.identification?.galleryIdentities).toBe(24);
    expect(r.plots).toEqual(['cmc.svg', 'cmc.png']);
    await expect(arcfaceEval(['--embeddings', join(dir, 'unlabelled.jsonl'), '--out', out])).rejects.toThrow(
      /row 0 has no label; give --labels FILE/,
    );
    await writeFile(join(dir, 'short.txt'), 'A\nB\n');
    await expect(
      arcfaceEval([
        '--embeddings',
        join(dir, 'unlabelled.jsonl'),
        '--labels',
        join(dir, 'short.txt'),
        '--out',
        out,
      ]),
    ).rejects.toThrow(/2 labels for 90 embeddings/);
  });

  it('evaluates a pairs file against embeddings keyed by path, naming pairs without one', async () => {
    const pairs = [
      '2 2',
      'P4 1 2',
      'P9 2 5',
      'P1 1 P2 1',
      'P3 2 P4 3',
      'P13 1 3',
      'P14 4 5',
      'P5 1 P6 1',
      'P7 1 P8 1',
    ];
    await writeFile(join(dir, 'pairs.txt'), pairs.join('\n') + '\n');
    const out = join(dir, 'pairs');
    const text = await arcfaceEval([
      '--pairs',
      join(dir, 'pairs.txt'),
      '--embeddings',
      join(dir, 'set.jsonl'),
      '--out',
      out,
    ]);
    const r = await readReport(out);
    expect(r.verification?.protocol).toBe('pairs');
    expect([r.verification?.genuinePairs, r.verification?.impostorPairs]).toEqual([4, 4]);
    expect(r.verification?.kfold).toMatchObject({ k: 2, foldsFrom: 'pairs file' });
    expect(r.verification?.tarAtFar.every((t) => !t.reliable)).toBe(true);
    expect(text).toMatch(/2-fold accuracy \d+\.\d\d% \+- \d+\.\d\d%/);

    // P0 has one image only: the pair on line 3 has no embedding for P0/P0_0002.jpg.
    await writeFile(
      join(dir, 'bad-pairs.txt'),
      ['1 2', 'P4 1 2', 'P0 1 2', 'P1 1 P2 1', 'P3 2 P4 3'].join('\n'),
    );
    const args = [
      '--pairs',
      join(dir, 'bad-pairs.txt'),
      '--embeddings',
      join(dir, 'set.jsonl'),
      '--out',
      join(dir, 'bad'),
    ];
    const failure = await arcfaceEval(args).then(
      () => '',
      (e: unknown) => String(e),
    );
    expect(failure).toContain('bad-pairs.txt: 1 image without an embedding:\n');
    expect(failure).toMatch(/bad-pairs\.txt:3: P0\/P0_0002\.jpg: no embedding with this path/);
    await arcfaceEval([...args, '--skip-failed', '--folds', '2']);
    const skipped = await readReport(join(dir, 'bad'));
    expect(skipped.verification?.genuinePairs).toBe(1);
    expect(skipped.notes.join(' ')).toMatch(/1 of 4 pairs dropped/);
    // One genuine pair left cannot fill two folds: the ROC measures stay, k-fold is explained away.
    expect(skipped.verification?.kfold).toBeUndefined();
    expect(skipped.notes.join(' ')).toContain(
      'no k-fold accuracy: 1 genuine and 2 impostor pairs cannot fill 2 folds',
    );
  });

  it('explains wrong option combinations', async () => {
    await expect(arcfaceEval([])).rejects.toThrow(/give --pairs FILE/);
    await expect(arcfaceEval(['--pairs', 'x.txt'])).rejects.toThrow(/exactly one of --images DIR/);
    await expect(arcfaceEval(['--pairs', join(dir, 'pairs.txt'), '--images', dir])).rejects.toThrow(
      /image P4\/P4_0001\.jpg not found/,
    );
  });

  const haveFace = existsSync(join(LFW, 'pairs.txt')) && existsSync(MFN) && existsSync(SCRFD);
  it.skipIf(!haveFace)(
    'embeds real LFW images through the face pipeline (--images --model onnx:PATH)',
    async () => {
      // Fold 1's first 3 matched and 3 mismatched pairs of the official list.
      const lines = readFileSync(join(LFW, 'pairs.txt'), 'utf8').split('\n');
      await writeFile(
        join(dir, 'lfw6.txt'),
        ['1 3', ...lines.slice(1, 4), ...lines.slice(301, 304)].join('\n') + '\n',
      );
      const out = join(dir, 'lfw');
      const saved = join(dir, 'lfw6.bin');
      await arcfaceEval([
        '--pairs',
        join(dir, 'lfw6.txt'),
        '--images',
        join(LFW, 'lfw-deepfunneled'),
        '--model',
        `onnx:${MFN}`,
        '--detector',
        `scrfd:${SCRFD}`,
        '--folds',
        '3',
        '--threads',
        '1',
        '--save-embeddings',
        saved,
        '--out',
        out,
      ]);
      const r = await readReport(out);
      expect([r.verification?.genuinePairs, r.verification?.impostorPairs]).toEqual([3, 3]);
      expect(r.embeddings.dim).toBe(128);
      // The sanity range of ../shared/data/README: genuine about 0.6, impostor about 0.
      expect(r.verification!.scores.genuine.mean).toBeGreaterThan(0.3);
      expect(r.verification!.scores.impostor.mean).toBeLessThan(0.25);
      expect(r.notes.join(' ')).toContain('embedded with the face pipeline');
      // The saved embeddings reproduce the run without the model.
      await arcfaceEval([
        '--pairs',
        join(dir, 'lfw6.txt'),
        '--embeddings',
        saved,
        '--folds',
        '3',
        '--out',
        join(out, 'again'),
      ]);
      const again = await readReport(join(out, 'again'));
      expect(again.verification?.auc).toBe(r.verification?.auc);
    },
  );
  if (!haveFace) it.skip(`the face-pipeline run needs LFW and models under ${SHARED}`, () => undefined);
});
