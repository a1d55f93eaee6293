/** Learning-rate schedules and the in-graph optimizers. */
import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { type OptimizerConfig, applyUpdate, learningRate, stateSlots } from '../../src/train/index.js';

describe('learning-rate schedules', () => {
  it('warms up linearly, then follows cosine, poly, step and constant shapes', () => {
    const T = 110;
    const cos = { kind: 'cosine' as const, lr: 0.1, warmupSteps: 10, minLr: 0.001 };
    expect(learningRate(cos, 0, T)).toBeCloseTo(0.01, 12);
    expect(learningRate(cos, 4, T)).toBeCloseTo(0.05, 12);
    expect(learningRate(cos, 10, T)).toBeCloseTo(0.1, 12);
    expect(learningRate(cos, 60, T)).toBeCloseTo(0.001 + (0.1 - 0.001) / 2, 12);
    expect(learningRate(cos, 110, T)).toBeCloseTo(0.001, 12);
    for (let s = 11; s < T; s++) expect(learningRate(cos, s, T)).toBeLessThan(learningRate(cos, s - 1, T));

    const poly = { kind: 'poly' as const, lr: 0.2, power: 2 };
    expect(learningRate(poly, 0, 100)).toBeCloseTo(0.2, 12);
    expect(learningRate(poly, 50, 100)).toBeCloseTo(0.2 * 0.25, 12);

    const step = { kind: 'step' as const, lr: 1, milestones: [5, 8], gamma: 0.5 };
    expect([0, 4, 5, 7, 8, 20].map((s) => learningRate(step, s, 30))).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
    expect(learningRate({ kind: 'constant', lr: 0.3, warmupSteps: 3 }, 1, 9)).toBeCloseTo(0.2, 12);
  });
});

/** One in-graph update of p given g, state and lr/t. */
async function graphStep(
  cfg: OptimizerConfig,
  p: number[],
  g: number[],
  state: number[][],
  lr: number,
  t: number,
): Promise<{ p: number[]; state: number[][] }> {
  const n = p.length;
  const pi = E.input('p', [n]);
  const gi = E.input('g', [n]);
  const si = stateSlots(cfg).map((s) => E.input(s, [n]));
  const upd = applyUpdate(cfg, pi, gi, si, true, { lr: E.input('lr', []), t: E.input('t', []) });
  const outputs: Record<string, E.Tensor> = { newP: upd.param };
  upd.state.forEach((s, i) => (outputs[`s${i}`] = s));
  const prog = await E.Program.compile({ outputs });
  const feeds: Record<string, Float32Array> = { p: Float32Array.from(p), g: Float32Array.from(g) };
  stateSlots(cfg).forEach((s, i) => (feeds[s] = Float32Array.from(state[i])));
  feeds.lr = Float32Array.from([lr]);
  feeds.t = Float32Array.from([t]);
  const known = new Set(prog.inputs.map((v) => v.name));
  const r = await prog.run(Object.fromEntries(Object.entries(feeds).filter(([k]) => known.has(k))));
  return {
    p: [...(r.newP as Float32Array)],
    state: upd.state.map((_, i) => [...(r[`s${i}`] as Float32Array)]),
  };
}

describe('optimizers in the graph', () => {
  // Minimise sum((p - target)^2) / 2: the gradient is p - target, computed here in JS each step.
  const target = [1, -2, 0.5];
  const start = [0, 0, 3];

  it('SGD with momentum, weight decay and Nesterov matches torch.optim.SGD formulas', async () => {
    for (const nesterov of [false, true]) {
      const cfg: OptimizerConfig = { kind: 'sgd', momentum: 0.9, weightDecay: 0.01, nesterov };
      let p = start.slice();
      let buf = [0, 0, 0];
      let ref = start.slice();
      let refBuf = [0, 0, 0];
      for (let t = 1; t <= 4; t++) {
        const g = p.map((v, i) => v - target[i]);
        const r = await graphStep(cfg, p, g, [buf], 0.1, t);
        const d = ref.map((v, i) => v - target[i] + 0.01 * v);
        refBuf = refBuf.map((b, i) => 0.9 * b + d[i]);
        ref = ref.map((v, i) => v - 0.1 * (nesterov ? d[i] + 0.9 * refBuf[i] : refBuf[i]));
        p = r.p;
        buf = r.state[0];
        p.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
      }
    }
  });

  it('AdamW with bias correction from the fed step count matches torch.optim.AdamW formulas', async () => {
    const cfg: OptimizerConfig = { kind: 'adamw', beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    let p = start.slice();
    let st = [
      [0, 0, 0],
      [0, 0, 0],
    ];
    let ref = start.slice();
    let m = [0, 0, 0];
    let v = [0, 0, 0];
    for (let t = 1; t <= 5; t++) {
      const lr = 0.05;
      const g = p.map((x, i) => x - target[i]);
      const r = await graphStep(cfg, p, g, st, lr, t);
      const rg = ref.map((x, i) => x - target[i]);
      ref = ref.map((x) => x * (1 - lr * 0.1));
      m = m.map((a, i) => 0.9 * a + 0.1 * rg[i]);
      v = v.map((a, i) => 0.99 * a + 0.01 * rg[i] ** 2);
      ref = ref.map((x, i) => {
        const mh = m[i] / (1 - 0.9 ** t);
        const vh = v[i] / (1 - 0.99 ** t);
        return x - (lr * mh) / (Math.sqrt(vh) + 1e-8);
      });
      p = r.p;
      st = r.state;
      p.forEach((x, i) => expect(x).toBeCloseTo(ref[i], 5));
    }
  });
});
