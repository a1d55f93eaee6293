import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIGURE_SIZES, type ToyReport } from '../../src/toy/report.js';
import { type ToyProgress, runToy } from '../../src/toy/run.js';

// A short MNIST run: 400 digits per class, an MLP to 2-D, 20 epochs (ArcFace: 5 of softmax first).
// About 10-20 s on a 2-core machine.
const SHORT = { backbone: 'mlp', perClass: 400, epochs: 20, warmupEpochs: 5, seed: 0 } as const;

let root: string;
let report: ToyReport;
let dir: string;
const events: ToyProgress[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'arcface-toy-'));
  ({ report, dir } = await runToy({ ...SHORT, out: join(root, 'a'), onProgress: (p) => events.push(p) }));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('arcface toy on MNIST (short run)', () => {
  it('writes the report folder with both methods measured on the held-out split', async () => {
    expect(report.files).toContain('index.html');
    const json = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as ToyReport;
    expect(json.data.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(json.data.heldOutSize).toBe(8 * 80);
    expect(json.data.trainSize).toBe(8 * 320);
    for (const m of ['softmax', 'arcface'] as const) {
      const r = json.methods[m];
      expect(r.heldOutAccuracy).toBeGreaterThan(0.6);
      expect(r.spread.perClass).toHaveLength(8);
      expect(r.gap.pairs).toHaveLength(8);
      expect(r.curves).toHaveLength(SHORT.epochs);
      // Losses fall while training with one loss.
      const own = r.curves.filter((c) => c.phase === (m === 'softmax' ? 'softmax' : 'arcface'));
      expect(own[own.length - 1].loss).toBeLessThan(own[0].loss);
    }
    expect(json.methods.arcface.curves.filter((c) => c.phase === 'softmax')).toHaveLength(SHORT.warmupEpochs);
    const html = await readFile(join(dir, 'index.html'), 'utf8');
    expect(html).toContain('toy.png');
    expect(html).toContain('curves.png');
  });

  it('gives ArcFace a larger smallest gap and a smaller spread than softmax', () => {
    const { softmax, arcface } = report.methods;
    expect(arcface.coreGap.smallestDeg).not.toBeNull();
    expect(arcface.coreGap.smallestDeg as number).toBeGreaterThan(softmax.coreGap.smallestDeg as number);
    expect(arcface.spread.meanDeg).toBeLessThan(softmax.spread.meanDeg);
  });

  it('draws PNG figures that decode at the expected size', async () => {
    for (const [file, size] of [
      ['toy.png', FIGURE_SIZES.toy],
      ['curves.png', FIGURE_SIZES.curves],
    ] as const) {
      const meta = await sharp(join(dir, file)).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBe(size.width);
      expect(meta.height).toBe(size.height);
      const stats = await sharp(join(dir, file)).stats();
      // Not blank: the points and rays put colour on the white page.
      expect(stats.channels[0].min).toBeLessThan(100);
    }
  });

  it('reports its progress through the callback: data, then each method with every step and epoch', () => {
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('loaded');
    const methods = events.filter((e) => e.kind === 'method');
    expect(methods.map((m) => m.method)).toEqual(['softmax', 'arcface']);
    const stepsPerEpoch = Math.floor((8 * 320) / 64);
    for (const m of ['softmax', 'arcface'] as const) {
      const steps = events.filter((e) => e.kind === 'step' && e.method === m);
      expect(steps.map((e) => (e.kind === 'step' ? e.step : 0))).toEqual(
        Array.from({ length: SHORT.epochs * stepsPerEpoch }, (_, i) => i + 1),
      );
      expect(steps.every((e) => e.kind === 'step' && e.totalSteps === SHORT.epochs * stepsPerEpoch)).toBe(
        true,
      );
      const epochs = events.filter((e) => e.kind === 'epoch' && e.method === m);
      expect(epochs.map((e) => (e.kind === 'epoch' ? e.epoch : 0))).toEqual(
        Array.from({ length: SHORT.epochs }, (_, i) => i + 1),
      );
      // The last epoch's held-out accuracy is the one the report gives.
      const last = epochs[epochs.length - 1];
      expect(last.kind === 'epoch' && last.heldOutAccuracy).toBeCloseTo(report.methods[m].heldOutAccuracy, 3);
    }
    // ArcFace's warm-up epochs are reported as softmax-trained steps of the ArcFace run.
    const warm = events.filter((e) => e.kind === 'step' && e.method === 'arcface' && e.phase === 'softmax');
    expect(warm).toHaveLength(SHORT.warmupEpochs * stepsPerEpoch);
  });

  it('is deterministic: the same seed gives the same report.json', async () => {
    const again = await runToy({ ...SHORT, out: join(root, 'b') });
    const a = await readFile(join(dir, 'report.json'), 'utf8');
    const b = await readFile(join(again.dir, 'report.json'), 'utf8');
    expect(b).toBe(a);
  });
});
