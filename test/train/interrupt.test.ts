/**
 * SIGTERM mid-run: the CLI finishes the step in progress, writes a checkpoint, exits 143 with a
 * note, and `--resume` continues to the end from that checkpoint. Spawns the real CLI
 * (bin/arcface.mjs) on MNIST with the cheap MLP backbone.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryDataset } from '../../src/data/index.js';
import { presets } from '../../src/heads/index.js';
import {
  CHECKPOINT_FILE,
  type CheckpointReason,
  LOCK_FILE,
  METRICS_FILE,
  type TrainConfig,
  loadCheckpoint,
  train,
} from '../../src/train/index.js';

const bin = fileURLToPath(new URL('../../bin/arcface.mjs', import.meta.url));
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI; `whenStepped` (if given) is called once the metrics log shows a step. */
function arcface(args: string[], metrics?: string, whenStepped?: (kill: () => void) => void): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (metrics && whenStepped) {
      timer = setInterval(() => {
        void readFile(metrics, 'utf8')
          .then((text) => {
            if (timer && text.includes('"type":"step"')) {
              clearInterval(timer);
              timer = undefined;
              whenStepped(() => child.kill('SIGTERM'));
            }
          })
          .catch(() => undefined);
      }, 20);
    }
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('arcface train under SIGTERM', () => {
  it('writes a checkpoint, exits 143, and --resume finishes the run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'arcface-sigterm-'));
    const out = join(dir, 'run');
    const metrics = join(out, METRICS_FILE);
    const common = ['--data', 'mnist', '--backbone', 'mlp', '--embedding-dim', '8', '--scale', '8'];
    const args = ['train', ...common, '--epochs', '3', '--batch', '32', '--lr', '0.01', '--threads', '1'];
    const first = await arcface([...args, '--out', out, '--quiet'], metrics, (kill) => kill());
    expect(first.stderr).toMatch(/SIGTERM: stopping after this step and writing a checkpoint/);
    expect(first.stderr).toMatch(/stopped at step \d+ with a checkpoint/);
    expect(first.code).toBe(143);
    expect(JSON.parse(first.stdout).stopped).toBe('interrupted');
    const ck = await loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(ck.meta.step).toBe(JSON.parse(first.stdout).steps);
    expect(ck.meta.step).toBeGreaterThan(0);
    expect(ck.meta.epoch).toBeLessThan(3);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);

    const second = await arcface(['train', ...common, '--out', out, '--resume', '--quiet', '--threads', '1']);
    expect(second.stderr).not.toMatch(/Error|at .*\.ts:\d+/);
    expect(second.code).toBe(0);
    const done = JSON.parse(second.stdout) as { steps: number; stopped: string };
    expect(done.stopped).toBe('finished');
    const final = await loadCheckpoint(join(out, CHECKPOINT_FILE));
    expect(final.meta).toMatchObject({ epoch: 3, batchInEpoch: 0, step: done.steps });
    const log = (await readFile(metrics, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step: number; epoch?: number; reason?: string });
    // Each step once, in order, across the interruption; a checkpoint at each epoch's end.
    expect(log.filter((l) => l.type === 'step').map((l) => l.step)).toEqual(
      Array.from({ length: done.steps }, (_, i) => i + 1),
    );
    expect(log.filter((l) => l.type === 'checkpoint' && l.reason === 'epoch')).toHaveLength(3);
  }, 240_000);
});

describe('train() with an AbortSignal', () => {
  const ds = new MemoryDataset({
    x: Float32Array.from({ length: 24 * 4 }, (_, i) => ((i * 7) % 11) / 11),
    labels: Int32Array.from({ length: 24 }, (_, i) => i % 3),
    sampleShape: [4],
    classNames: ['a', 'b', 'c'],
  });
  const config: TrainConfig = {
    backbone: { name: 'mlp', embeddingDim: 4, hidden: [8] },
    head: presets.arcface({ s: 8, m2: 0.2 }),
    optimizer: { kind: 'sgd' },
    schedule: { kind: 'constant', lr: 0.05 },
    epochs: 2,
    batchSize: 6,
    seed: 4,
  };

  it('stops after the step in progress with a checkpoint; aborted before any step, checkpoints step 0', async () => {
    const out = await mkdtemp(join(tmpdir(), 'arcface-abort-'));
    try {
      const controller = new AbortController();
      const reasons: CheckpointReason[] = [];
      const r = await train(ds, config, {
        outDir: out,
        threads: 1,
        signal: controller.signal,
        onStep: (s) => (s.step === 6 ? controller.abort() : undefined),
        onCheckpoint: (c) => void reasons.push(c.reason),
      });
      expect(r.stopped).toBe('interrupted');
      expect(r.steps).toBe(6);
      // 4 steps per epoch: one checkpoint at the first epoch's end, one on the abort.
      expect(reasons).toEqual(['epoch', 'interrupt']);
      expect((await loadCheckpoint(join(out, CHECKPOINT_FILE))).meta).toMatchObject({
        step: 6,
        epoch: 1,
        batchInEpoch: 2,
      });
      const rest = await train(ds, config, { outDir: out, threads: 1, resume: join(out, CHECKPOINT_FILE) });
      expect(rest.steps).toBe(8);
      expect(rest.history.map((h) => h.step)).toEqual([7, 8]);

      const early = join(out, 'early');
      const aborted = new AbortController();
      aborted.abort();
      const r0 = await train(ds, config, { outDir: early, threads: 1, signal: aborted.signal });
      expect(r0).toMatchObject({ stopped: 'interrupted', steps: 0 });
      expect((await loadCheckpoint(join(early, CHECKPOINT_FILE))).meta.step).toBe(0);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
