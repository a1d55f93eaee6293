import { describe, expect, it } from 'vitest';
import { compileHeadStep, presets } from '../../src/heads/index.js';
import { maxNormError, randomLabels, uniform } from './data.js';

describe('softmax preset', () => {
  it('is logits = x W^T + b with mean cross-entropy, gradients as in closed form', async () => {
    const [B, D, C] = [6, 5, 7];
    const x = uniform(B * D, 21).map((v) => 3 * v);
    const weight = uniform(C * D, 22);
    const bias = uniform(C, 23);
    const labels = randomLabels(B, C, 24, [2]);
    const step = await compileHeadStep(
      { config: presets.softmax(), batch: B, dim: D, classes: C, withLogits: true },
      { threads: 1 },
    );
    const out = await step.run({ x, weight, labels, bias });

    // The same computation in plain JS (float64).
    const logits = new Float64Array(B * C);
    for (let i = 0; i < B; i++)
      for (let c = 0; c < C; c++) {
        let v = bias[c];
        for (let d = 0; d < D; d++) v += x[i * D + d] * weight[c * D + d];
        logits[i * C + c] = v;
      }
    const valid = [...labels].filter((l) => l >= 0n).length;
    let loss = 0;
    const dLogits = new Float64Array(B * C);
    for (let i = 0; i < B; i++) {
      if (labels[i] < 0n) continue;
      const row = logits.subarray(i * C, (i + 1) * C);
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      const y = Number(labels[i]);
      loss -= (row[y] - max - Math.log(z)) / valid;
      for (let c = 0; c < C; c++)
        dLogits[i * C + c] = (Math.exp(row[c] - max) / z - (c === y ? 1 : 0)) / valid;
    }
    const gx = new Float64Array(B * D);
    const gw = new Float64Array(C * D);
    const gb = new Float64Array(C);
    for (let i = 0; i < B; i++)
      for (let c = 0; c < C; c++) {
        const g = dLogits[i * C + c];
        gb[c] += g;
        for (let d = 0; d < D; d++) {
          gx[i * D + d] += g * weight[c * D + d];
          gw[c * D + d] += g * x[i * D + d];
        }
      }

    expect(maxNormError(out.logits!, logits)).toBeLessThan(1e-6);
    expect(Math.abs(out.loss - loss) / loss).toBeLessThan(1e-5);
    expect(maxNormError(out.gradX, gx)).toBeLessThan(1e-5);
    expect(maxNormError(out.gradW, gw)).toBeLessThan(1e-5);
    expect(maxNormError(out.gradBias!, gb)).toBeLessThan(1e-5);
  });

  it('without bias is x W^T', async () => {
    const step = await compileHeadStep(
      { config: presets.softmax({ bias: false }), batch: 2, dim: 3, classes: 2, withLogits: true },
      { threads: 1 },
    );
    const out = await step.run({
      x: Float32Array.from([1, 2, 3, 4, 5, 6]),
      weight: Float32Array.from([1, 0, -1, 0.5, 0.5, 0.5]),
      labels: BigInt64Array.from([0n, 1n]),
    });
    expect([...out.logits!]).toEqual([1 - 3, 3, 4 - 6, 7.5]);
    expect(out.gradBias).toBeUndefined();
  });
});
