import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { marginHead, presets } from '../../src/heads/index.js';
import { randomLabels, uniform } from './data.js';

describe('margin head outputs', () => {
  const [B, D, C, k] = [5, 6, 4, 2];
  const s = 30;
  const m = 0.4;
  const xs = uniform(B * D, 31);
  const ws = uniform(C * k * D, 32);
  const labels = randomLabels(B, C, 33, [1]);

  it('cos is the max over sub-centres; logits are s cos off-target and s cos(theta + m) on target', async () => {
    const x = E.input('x', [B, D]);
    const weight = E.input('W', [C * k, D]);
    const lab = E.input('labels', [B], 'int64');
    const head = marginHead({ x, weight, labels: lab }, presets.arcface({ s, m2: m, subCenters: k }));
    const out = await E.evaluate(
      { loss: head.loss, logits: head.logits, cos: head.cos },
      { x: xs, W: ws, labels },
      { threads: 1 },
    );
    const norm = (v: Float32Array): number => Math.hypot(...v);
    for (let i = 0; i < B; i++) {
      const xi = xs.subarray(i * D, (i + 1) * D);
      for (let c = 0; c < C; c++) {
        let best = -Infinity;
        for (let j = 0; j < k; j++) {
          const w = ws.subarray((c * k + j) * D, (c * k + j + 1) * D);
          best = Math.max(best, xi.reduce((a, v, d) => a + v * w[d], 0) / norm(xi) / norm(w));
        }
        expect(out.cos[i * C + c]).toBeCloseTo(best, 5);
        const target = labels[i] === BigInt(c);
        // Uniform data keeps theta + m below pi here, so no fall-back.
        const want = target ? s * Math.cos(Math.acos(best) + m) : s * best;
        expect(Math.acos(best) + m).toBeLessThan(Math.PI);
        expect(out.logits[i * C + c]).toBeCloseTo(want, 3);
      }
    }
    expect(Number.isFinite(out.loss[0])).toBe(true);
  });

  it('loss, logits and cos share one product (a single Gemm in the forward graph)', () => {
    const x = E.input('x', [B, D]);
    const weight = E.input('W', [C * k, D]);
    const head = marginHead(
      { x, weight, labels: E.input('labels', [B], 'int64') },
      presets.arcface({ subCenters: k }),
    );
    const g = E.lower({ outputs: { loss: head.loss, logits: head.logits, cos: head.cos } });
    const nodes = onnxProto.onnx.ModelProto.decode(g.bytes).graph?.node ?? [];
    expect(nodes.filter((n) => n.opType === 'Gemm')).toHaveLength(1);
    // The target column is gathered and scattered, never selected with a dense one-hot.
    expect(nodes.some((n) => n.opType === 'OneHot')).toBe(false);
  });
});
