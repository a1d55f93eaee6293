/**
 * `arcface train --resume` keeps the run's augmentation: crop and jitter come from the checkpoint, not from
 * the command line's defaults. Real LFW photos, the cheap MLP backbone at 24 x 24, one ORT thread (so the
 * losses of two runs can be compared to 1e-5).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTrainCommands } from '../../src/cli/commands/train.js';
import {
  CHECKPOINT_FILE,
  type TrainConfig,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from '../../src/train/index.js';
import { runInProcess } from '../helpers/cli.js';

const LFW = fileURLToPath(new URL('../../../shared/data/lfw/lfw-deepfunneled/', import.meta.url));
const haveLfw = existsSync(LFW);
if (!haveLfw) console.warn(`train resume tests skipped: LFW not found at ${LFW} (../shared/data is absent)`);

const PEOPLE = ['Colin_Powell', 'Tony_Blair', 'George_W_Bush'];

/** What the last command printed to stderr. */
let stderr: string[] = [];

/** Run one command in-process; returns what it printed to stdout. */
function arcface(args: string[]): Promise<string> {
  stderr = [];
  return runInProcess(registerTrainCommands, args, stderr);
}

/** Losses of the step records of metrics.jsonl, by step. */
async function stepLosses(run: string): Promise<Map<number, number>> {
  const lines = (await readFile(join(run, 'metrics.jsonl'), 'utf8')).trim().split('\n');
  const steps = lines.map((l) => JSON.parse(l) as { type: string; step: number; loss: number });
  return new Map(steps.filter((l) => l.type === 'step').map((l) => [l.step, l.loss]));
}

describe.skipIf(!haveLfw)('arcface train --resume keeps its augmentation (LFW photos)', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arcface-train-resume-'));
    data = join(dir, 'faces');
    for (const name of PEOPLE) {
      await mkdir(join(data, name), { recursive: true });
      for (let n = 1; n <= 4; n++) {
        const file = `${name}_${String(n).padStart(4, '0')}.jpg`;
        await copyFile(join(LFW, name, file), join(data, name, file));
      }
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const common = (out: string): string[] => [
    '--data',
    data,
    '--out',
    out,
    '--backbone',
    'mlp',
    '--embedding-dim',
    '8',
    '--size',
    '24',
    '--batch',
    '4',
    '--lr',
    '0.05',
    // Cosine would spread over 1 epoch in the first part and 2 in the straight run: constant keeps them equal.
    '--schedule',
    'constant',
    '--workers',
    '0',
    '--threads',
    '1',
    '--seed',
    '7',
    '--quiet',
  ];
  const augmentFlags = ['--augment', '--crop-scale', '0.8', '--jitter', '0.3'];

  it('a run resumed without --crop-scale/--jitter trains on the same augmented batches', async () => {
    // Reference: two epochs in one go with crop 0.8 and jitter 0.3.
    const straight = join(dir, 'straight');
    await arcface(['train', ...common(straight), ...augmentFlags, '--epochs', '2']);
    // The same run, stopped after one epoch and resumed without repeating the augmentation flags.
    const resumed = join(dir, 'resumed');
    await arcface(['train', ...common(resumed), ...augmentFlags, '--epochs', '1']);
    const again = JSON.parse(await arcface(['train', ...common(resumed), '--epochs', '2', '--resume']));
    expect(again.stopped).toBe('finished');
    expect(stderr.join('\n')).not.toMatch(/--crop-scale|--jitter|--augment/);

    const want = await stepLosses(straight);
    const got = await stepLosses(resumed);
    expect(want.size).toBe(6);
    expect([...got.keys()]).toEqual([...want.keys()]);
    // The second epoch (steps 4-6) is the resumed one: same batches, so the same losses.
    for (const [step, loss] of want) expect(Math.abs(got.get(step)! - loss)).toBeLessThan(1e-5);

    const ck = await loadCheckpoint(join(resumed, CHECKPOINT_FILE));
    expect(ck.config.augment).toBe(true);
    expect(ck.config.augmentation).toEqual({
      cropScale: 0.8,
      brightness: 0.3,
      contrast: 0.3,
      saturation: 0.3,
    });
    expect(ck.meta.epoch).toBe(2);

    // Control: flips only (what a resume used before) gives other second-epoch losses, so the comparison
    // above can tell the two apart.
    const flipsOnly = join(dir, 'flips-only');
    await arcface(['train', ...common(flipsOnly), '--augment', '--epochs', '2']);
    const other = await stepLosses(flipsOnly);
    const gaps = [4, 5, 6].map((s) => Math.abs(other.get(s)! - want.get(s)!));
    expect(Math.max(...gaps)).toBeGreaterThan(1e-3);
  });

  it('--no-arena trains the same steps and warns when no caching allocator is preloaded', async () => {
    const withArena = join(dir, 'arena');
    await arcface(['train', ...common(withArena), '--epochs', '1']);
    expect(stderr.join('\n')).not.toMatch(/--no-arena/);
    const noArena = join(dir, 'no-arena');
    const saved = process.env.LD_PRELOAD;
    delete process.env.LD_PRELOAD;
    try {
      await arcface(['train', ...common(noArena), '--epochs', '1', '--no-arena']);
    } finally {
      if (saved !== undefined) process.env.LD_PRELOAD = saved;
    }
    expect(stderr.join('\n')).toMatch(/--no-arena under glibc malloc .*libjemalloc2/);
    // The arena changes where buffers live, not what is computed.
    const want = await stepLosses(withArena);
    const got = await stepLosses(noArena);
    expect(want.size).toBe(3);
    for (const [step, loss] of want) expect(got.get(step)).toBeCloseTo(loss, 6);
  });

  it('names --crop-scale/--jitter that disagree with the checkpoint, and ignores them', async () => {
    const out = join(dir, 'warn');
    await arcface(['train', ...common(out), ...augmentFlags, '--epochs', '1']);
    await arcface([
      'train',
      ...common(out),
      '--epochs',
      '2',
      '--resume',
      '--crop-scale',
      '0.9',
      '--jitter',
      '0.3',
    ]);
    const text = stderr.join('\n');
    expect(text).toMatch(/ignoring --crop-scale 0\.9 \(the checkpoint's is 0\.8\)/);
    // --jitter 0.3 agrees with the checkpoint: not named.
    expect(text).not.toMatch(/--jitter/);
    const ck = await loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(ck.config.augmentation?.cropScale).toBe(0.8);
  });

  it('warns that --crop-scale/--jitter without --augment do nothing, and stores no augmentation', async () => {
    const out = join(dir, 'no-augment');
    await arcface(['train', ...common(out), '--crop-scale', '0.8', '--epochs', '1']);
    expect(stderr.join('\n')).toMatch(/--crop-scale and --jitter apply only with --augment/);
    const ck = await loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(ck.config.augment).toBe(false);
    expect(ck.config.augmentation).toBeUndefined();
  });

  it('resumes a checkpoint written before the augmentation field existed, as flips only', async () => {
    const out = join(dir, 'old');
    await arcface(['train', ...common(out), ...augmentFlags, '--epochs', '1']);
    // Rewrite the checkpoint as an older build wrote it: the same config without `augmentation`.
    const path = join(out, CHECKPOINT_FILE);
    const ck = decodeCheckpoint(new Uint8Array(await readFile(path)), path);
    const { augmentation, ...old } = ck.config;
    expect(augmentation).toBeDefined();
    await writeFile(path, encodeCheckpoint({ ...ck, config: old as TrainConfig }));
    expect((await loadCheckpoint(path)).config.augmentation).toBeUndefined();

    const again = JSON.parse(await arcface(['train', ...common(out), '--epochs', '2', '--resume']));
    expect(again.stopped).toBe('finished');
    expect(again.steps).toBe(6);
    const back = await loadCheckpoint(path);
    expect(back.config.augmentation).toBeUndefined();
    expect(back.config.augment).toBe(true);
  });
});
