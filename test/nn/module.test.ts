/** The module system: stable names, seeded init, BatchNorm and dropout semantics, layer wiring. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import {
  BatchNorm,
  Conv2d,
  Dropout,
  Linear,
  Sequential,
  createBackbone,
  initValues,
} from '../../src/nn/index.js';

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/insightface-names.json', import.meta.url), 'utf8'),
) as Record<string, { params: [string, number[]][]; buffers: [string, number[]][] }>;

describe('parameter names', () => {
  for (const name of ['mobilefacenet', 'iresnet18', 'iresnet50'] as const) {
    it(`${name}: parameters and buffers match InsightFace's PyTorch module tree, name, shape and order`, () => {
      const m = createBackbone({ name, embeddingDim: 512 }, [3, 112, 112]);
      expect(m.namedParams().map(([n, d]) => [n, d.shape])).toEqual(fixture[name].params);
      expect(m.namedBuffers().map(([n, d]) => [n, d.shape])).toEqual(fixture[name].buffers);
    });
  }

  it('small-cnn names are dotted paths of its module tree', () => {
    const m = createBackbone({ name: 'small-cnn', embeddingDim: 2 }, [1, 28, 28]);
    expect(m.namedParams().map(([n]) => n)).toEqual([
      'features.0.weight',
      'features.1.weight',
      'features.1.bias',
      'features.3.weight',
      'features.4.weight',
      'features.4.bias',
      'features.6.weight',
      'features.7.weight',
      'features.7.bias',
      'fc.weight',
      'bn.weight',
      'bn.bias',
    ]);
    expect(m.namedParams().find(([n]) => n === 'fc.weight')![1].shape).toEqual([2, 64 * 7 * 7]);
  });
});

describe('initialisation', () => {
  const cnn = () => createBackbone({ name: 'small-cnn', embeddingDim: 8 }, [1, 28, 28]);

  it('is deterministic in the seed and differs between seeds', () => {
    const a = cnn().initParams(7);
    const b = cnn().initParams(7);
    const c = cnn().initParams(8);
    for (const n of a.names()) expect(b.get(n).data).toEqual(a.get(n).data);
    expect(c.get('features.0.weight').data).not.toEqual(a.get('features.0.weight').data);
    // BatchNorm starts at the identity whatever the seed.
    expect([...c.get('bn.weight').data]).toEqual(new Array(8).fill(1));
  });

  it("draws each tensor from its own stream: other layers do not change a layer's values", () => {
    const small = createBackbone({ name: 'mlp', embeddingDim: 4, hidden: [32] }, [10]).initParams(3);
    const deep = createBackbone({ name: 'mlp', embeddingDim: 4, hidden: [32, 64, 16] }, [10]).initParams(3);
    expect(deep.get('layers.1.weight').data).toEqual(small.get('layers.1.weight').data);
  });

  it('Kaiming normal has std sqrt(2 / fanIn) and mean 0', () => {
    const fanIn = 64 * 9;
    const v = initValues({ kind: 'kaiming-normal', fanIn }, 'w', 128 * fanIn, 0);
    const mean = v.reduce((a, x) => a + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std / Math.sqrt(2 / fanIn)).toBeCloseTo(1, 1);
    const u = initValues({ kind: 'xavier-uniform', fanIn: 100, fanOut: 50 }, 'w', 5000, 0);
    const bound = Math.sqrt(6 / 150);
    expect(Math.max(...u.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...u.map(Math.abs))).toBeGreaterThan(0.95 * bound);
  });
});

function feedsFor(
  inputs: readonly E.ValueSpec[],
  values: Record<string, Float32Array>,
): Record<string, Float32Array> {
  return Object.fromEntries(inputs.map((v) => [v.name, values[v.name]]));
}

describe('BatchNorm', () => {
  // x [N=4, C=2, 1, 3]: per channel 12 values.
  const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 0.7) * 3 + (i % 2));
  const channel = (c: number): number[] => {
    const out: number[] = [];
    for (let n = 0; n < 4; n++) for (let k = 0; k < 3; k++) out.push(x[n * 6 + c * 3 + k]);
    return out;
  };
  const gamma = Float32Array.from([1.5, -0.5]);
  const beta = Float32Array.from([0.2, 0.1]);
  const rm = Float32Array.from([0.3, -0.2]);
  const rv = Float32Array.from([2, 0.5]);
  const values = { x, 'bn.weight': gamma, 'bn.bias': beta, 'bn.running_mean': rm, 'bn.running_var': rv };

  it('train mode normalises with batch statistics and updates running stats with momentum (unbiased var)', async () => {
    const m = new Sequential(['bn', new BatchNorm(2, { momentum: 0.1 })]);
    const fw = m.forward(E.input('x', [4, 2, 1, 3]), 'train');
    expect([...fw.updates.keys()]).toEqual(['bn.running_mean', 'bn.running_var']);
    const p = await E.Program.compile({
      outputs: { y: fw.y, mean: fw.updates.get('bn.running_mean')!, var: fw.updates.get('bn.running_var')! },
    });
    const r = await p.run(feedsFor(p.inputs, values));
    for (let c = 0; c < 2; c++) {
      const v = channel(c);
      const mu = v.reduce((a, b) => a + b, 0) / 12;
      const biased = v.reduce((a, b) => a + (b - mu) ** 2, 0) / 12;
      expect(r.mean[c]).toBeCloseTo(0.9 * rm[c] + 0.1 * mu, 5);
      expect(r.var[c]).toBeCloseTo(0.9 * rv[c] + 0.1 * biased * (12 / 11), 5);
      const y0 = ((x[c * 3] - mu) / Math.sqrt(biased + 1e-5)) * gamma[c] + beta[c];
      expect(r.y[c * 3]).toBeCloseTo(y0, 4);
    }
  });

  it('eval mode uses the running statistics and records no update', async () => {
    const m = new Sequential(['bn', new BatchNorm(2)]);
    const fw = m.forward(E.input('x', [4, 2, 1, 3]), 'eval');
    expect(fw.updates.size).toBe(0);
    const p = await E.Program.compile({ outputs: { y: fw.y } });
    const r = await p.run(feedsFor(p.inputs, values));
    for (let i = 0; i < 24; i++) {
      const c = Math.floor(i / 3) % 2;
      expect(r.y[i]).toBeCloseTo(((x[i] - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * gamma[c] + beta[c], 4);
    }
  });
});

describe('layers', () => {
  it('Linear computes x W^T + b with W stored [out, in]', async () => {
    const m = new Sequential(['fc', new Linear(3, 2)]);
    const fw = m.forward(E.input('x', [2, 3]), 'eval');
    const w = Float32Array.from([1, 2, 3, -1, 0, 4]);
    const b = Float32Array.from([0.5, -2]);
    const x = Float32Array.from([1, 1, 1, 2, 0, -1]);
    const r = await E.evaluate({ y: fw.y }, { x, 'fc.weight': w, 'fc.bias': b });
    expect([...r.y]).toEqual([6.5, 1, -0.5, -8]);
  });

  it('depthwise Conv2d (groups = channels) filters each channel with its own kernel', async () => {
    const m = new Sequential(['dw', new Conv2d(2, 2, { kernel: 3, groups: 2, padding: 1 })]);
    const fw = m.forward(E.input('x', [1, 2, 4, 4]), 'eval');
    expect(fw.params.get('dw.weight')!.shape).toEqual([2, 1, 3, 3]);
    const x = Float32Array.from({ length: 32 }, (_, i) => (i * 37) % 11);
    const w = Float32Array.from({ length: 18 }, (_, i) => (i % 5) - 2);
    const r = await E.evaluate({ y: fw.y }, { x, 'dw.weight': w });
    for (let c = 0; c < 2; c++)
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          let s = 0;
          for (let di = -1; di <= 1; di++)
            for (let dj = -1; dj <= 1; dj++) {
              const y = i + di;
              const z = j + dj;
              if (y >= 0 && y < 4 && z >= 0 && z < 4)
                s += x[c * 16 + y * 4 + z] * w[c * 9 + (di + 1) * 3 + dj + 1];
            }
          expect(r.y[c * 16 + i * 4 + j]).toBeCloseTo(s, 4);
        }
  });

  it('Dropout takes its mask as an input in train mode and is the identity in eval mode', async () => {
    const m = new Sequential(['drop', new Dropout(0.5)]);
    const x = E.input('x', [2, 3]);
    const train = m.forward(x, 'train');
    expect([...train.masks.entries()]).toEqual([['drop.mask', { shape: [2, 3], rate: 0.5 }]]);
    const mask = Float32Array.from([2, 0, 2, 0, 0, 2]);
    const xs = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const r = await E.evaluate({ y: train.y }, { x: xs, 'drop.mask': mask });
    expect([...r.y]).toEqual([2, 0, 6, 0, 0, 12]);
    const ev = m.forward(x, 'eval');
    expect(ev.y).toBe(x);
    expect(ev.masks.size).toBe(0);
  });
});
