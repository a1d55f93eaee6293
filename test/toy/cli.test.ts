import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToyReport } from '../../src/toy/report.js';
import { runToy } from '../../src/toy/run.js';
import { makeTree } from '../data/images.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'arcface-toy-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('arcface toy command', () => {
  it('trains both methods and prints a one-line summary naming the report', async () => {
    const out = join(root, 'cli');
    const { stdout } = await run(
      process.execPath,
      [
        'bin/arcface-dev.mjs',
        'toy',
        '--per-class',
        '40',
        '--epochs',
        '2',
        '--warmup-epochs',
        '1',
        '--out',
        out,
        '--quiet',
      ],
      { cwd: repo },
    );
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^toy: softmax acc [\d.]+%.*\| ArcFace acc [\d.]+%.*report: .*index\.html$/);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as ToyReport;
    expect(report.training.epochs).toBe(2);
    expect(report.data.heldOutSize).toBe(8 * 8);
  });

  it('refuses an --out that is an existing file before it loads or trains anything', async () => {
    const file = join(root, 'taken.txt');
    await writeFile(file, 'not a folder');
    const err = await run(process.execPath, ['bin/arcface.mjs', 'toy', '--out', file], { cwd: repo }).catch(
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(err).toMatchObject({ code: 2, stdout: '' });
    const { stderr } = err as { stderr: string };
    expect(stderr).toContain(`${file}: exists and is not a folder`);
    // Without --quiet the run names its data before training; nothing of that was printed.
    expect(stderr).not.toContain('held-out samples');
    expect(await readFile(file, 'utf8')).toBe('not a folder');
  });

  it('rejects --features without --data', async () => {
    await expect(runToy({ features: 'onnx:/nowhere.onnx', out: join(root, 'x') })).rejects.toThrow(/--data/);
  });

  it('runs on an identity-per-folder set and lists the files it skipped', async () => {
    const tree = await makeTree(3, 12);
    try {
      const { report } = await runToy({
        data: tree.root,
        backbone: 'mlp',
        imageSize: 12,
        crop: 1,
        epochs: 3,
        warmupEpochs: 1,
        batchSize: 8,
        out: join(root, 'folder'),
      });
      expect(report.data.classes).toEqual(['person_0', 'person_1', 'person_2']);
      expect(report.data.skipped.map((s) => s.path)).toEqual([tree.corrupt]);
      expect(report.data.trainSize + report.data.heldOutSize).toBe(3 * 12 + 1);
      expect(report.methods.arcface.spread.perClass).toHaveLength(3);
    } finally {
      await rm(tree.root, { recursive: true, force: true });
    }
  });
});
