/** `arcface train` / `arcface export` run in-process on MNIST digits with the cheap MLP backbone. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerTrainCommands } from '../../src/cli/commands/train.js';
import { loadCheckpoint } from '../../src/train/index.js';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Run one command; returns what it printed to stdout. */
async function arcface(args: string[]): Promise<string> {
  const program = new Command('arcface').exitOverride();
  registerTrainCommands(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    await program.parseAsync(['node', 'arcface', ...args]);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  return lines.join('\n');
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
    expect(exported.output.shape).toEqual([2, 16]);
    const session = await ort.InferenceSession.create(onnx);
    const x = new Float32Array(2 * 784).map((_, i) => Math.cos(i));
    const y = (await session.run({ input: new ort.Tensor('float32', x, [2, 1, 28, 28]) })).embedding
      .data as Float32Array;
    expect(y.length).toBe(32);
    expect(y.every(Number.isFinite)).toBe(true);
  });
});
