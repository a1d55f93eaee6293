/** `arcface train` / `arcface export` run in-process on MNIST digits with the cheap MLP backbone. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { registerTrainCommands } from '../../src/cli/commands/train.js';
import { loadCheckpoint } from '../../src/train/index.js';
import { runInProcess } from '../helpers/cli.js';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What the last command printed to stderr. */
let stderr: string[] = [];

/** Run one command in-process; returns what it printed to stdout. */
function arcface(args: string[]): Promise<string> {
  stderr = [];
  return runInProcess(registerTrainCommands, args, stderr);
}

describe('arcface train / export', () => {
  it('--help lists the training flags', async () => {
    const program = new Command('arcface');
    registerTrainCommands(program);
    const help = program.commands.find((c) => c.name() === 'train')!.helpInformation();
    for (const flag of [
      '--data',
      '--backbone',
      '--head',
      '--scale',
      '--margin',
      '--epochs',
      '--batch',
      '--out',
      '--resume',
    ]) {
      expect(help).toContain(flag);
    }
    expect(program.commands.find((c) => c.name() === 'export')!.helpInformation()).toContain('--no-fold');
  });

  it('trains, resumes to more epochs, and exports a model ONNX Runtime runs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'arcface-cli-'));
    const out = join(dir, 'run');
    const common = [
      '--data',
      'mnist',
      '--backbone',
      'mlp',
      '--embedding-dim',
      '16',
      '--scale',
      '16',
      '--margin',
      '0.3',
    ];
    const first = JSON.parse(
      await arcface([
        'train',
        ...common,
        '--epochs',
        '1',
        '--batch',
        '128',
        '--lr',
        '0.01',
        '--out',
        out,
        '--quiet',
      ]),
    );
    const steps = first.steps as number;
    expect(steps).toBeGreaterThan(40);
    // Well above chance (1/8): the CLI wires data, head and optimizer into a run that learns.
    expect(first.valAccuracy).toBeGreaterThan(0.2);
    const ck = await loadCheckpoint(join(out, 'last.ckpt'));
    expect(ck.config.head).toMatchObject({ kind: 'margin', s: 16, m2: 0.3 });
    expect(ck.meta).toMatchObject({ step: steps, epoch: 1, batchInEpoch: 0 });

    const second = JSON.parse(
      await arcface(['train', ...common, '--epochs', '2', '--out', out, '--resume', '--quiet']),
    );
    expect(second.steps).toBe(2 * steps);
    const log = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.filter((l) => l.type === 'epoch').map((l) => l.epoch)).toEqual([0, 1]);

    const onnx = join(dir, 'model.onnx');
    const exported = JSON.parse(
      await arcface(['export', join(out, 'last.ckpt'), '--out', onnx, '--batch', '2']),
    );
    // The default export takes any batch size.
    const dynamic = JSON.parse(
      await arcface(['export', join(out, 'last.ckpt'), '--out', join(dir, 'any.onnx')]),
    );
    expect(dynamic.input.shape).toEqual([-1, 1, 28, 28]);
    expect(exported.output.shape).toEqual([2, 16]);
    const session = await ort.InferenceSession.create(onnx);
    const x = new Float32Array(2 * 784).map((_, i) => Math.cos(i));
    const y = (await session.run({ input: new ort.Tensor('float32', x, [2, 1, 28, 28]) })).embedding
      .data as Float32Array;
    expect(y.length).toBe(32);
    expect(y.every(Number.isFinite)).toBe(true);
  });
});

describe('arcface train on an image folder', () => {
  it("reports classes at the start, refuses a second fresh run, and resumes with the checkpoint's backbone and size", async () => {
    const root = await mkdtemp(join(tmpdir(), 'arcface-cli-folder-'));
    try {
      const data = join(root, 'data');
      for (const [c, name] of ['ann', 'ben', 'cat'].entries()) {
        await mkdir(join(data, name), { recursive: true });
        for (let i = 0; i < 4; i++) {
          const png = await sharp({
            create: {
              width: 20,
              height: 20,
              channels: 3,
              background: { r: 80 * c, g: 30 * i, b: 200 - 60 * c },
            },
          })
            .png()
            .toBuffer();
          await writeFile(join(data, name, `${i}.png`), png);
        }
      }
      await writeFile(join(data, 'cat', 'broken.png'), 'not an image');
      const out = join(root, 'run');
      const args = ['--data', data, '--out', out, '--workers', '0', '--threads', '1', '--quiet'];
      const first = JSON.parse(
        await arcface([
          'train',
          ...args,
          '--backbone',
          'mlp',
          '--embedding-dim',
          '4',
          '--size',
          '10',
          '--epochs',
          '1',
          '--batch',
          '4',
        ]),
      );
      expect(first.stopped).toBe('finished');
      const text = stderr.join('\n');
      expect(text).toMatch(/data: 3 classes, 12 samples \(per class: min 4, median 4, max 4\)/);
      expect(text).toMatch(/data: 1 files skipped:\n\s+\S+cat\/broken\.png: /);
      // The 2-d default of mlp is not used here (4-d), so no low-dimensional defaults apply.
      expect(text).toMatch(/mlp \(4-d\)/);
      expect((await loadCheckpoint(join(out, 'last.ckpt'))).meta.sampleShape).toEqual([3, 10, 10]);

      await expect(
        arcface(['train', ...args, '--backbone', 'mlp', '--epochs', '1', '--batch', '4']),
      ).rejects.toThrow(/already holds a finished run/);
      // No --backbone / --size: the checkpoint's mlp at 10x10 is used, not the flags' defaults
      // (mobilefacenet at 112); a disagreeing flag is named and ignored.
      const second = JSON.parse(
        await arcface(['train', ...args, '--resume', '--epochs', '2', '--backbone', 'small-cnn']),
      );
      expect(second.steps).toBe(2 * first.steps);
      expect(stderr.join('\n')).toMatch(/ignoring --backbone small-cnn \(the checkpoint's is mlp\)/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
