/** LeNet++ (the center-loss paper's 2-D MNIST network): layout, shapes and a real forward pass. */
import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { createBackbone } from '../../src/nn/index.js';

describe('lenet++ backbone', () => {
  it("has the paper's layout: 3 stages of 2 conv 5x5 + PReLU, 32/64/128 channels, FC from 128x3x3 to D", () => {
    const m = createBackbone({ name: 'lenet++', embeddingDim: 2 }, [1, 28, 28]);
    const shapes = m.namedParams().map(([n, d]) => [n, d.shape]);
    // Each stage: conv, PReLU, conv, PReLU, then the pool (no parameters) at index 4, 9, 14.
    expect(shapes).toEqual([
      ['features.0.weight', [32, 1, 5, 5]],
      ['features.0.bias', [32]],
      ['features.1.weight', [32]],
      ['features.2.weight', [32, 32, 5, 5]],
      ['features.2.bias', [32]],
      ['features.3.weight', [32]],
      ['features.5.weight', [64, 32, 5, 5]],
      ['features.5.bias', [64]],
      ['features.6.weight', [64]],
      ['features.7.weight', [64, 64, 5, 5]],
      ['features.7.bias', [64]],
      ['features.8.weight', [64]],
      ['features.10.weight', [128, 64, 5, 5]],
      ['features.10.bias', [128]],
      ['features.11.weight', [128]],
      ['features.12.weight', [128, 128, 5, 5]],
      ['features.12.bias', [128]],
      ['features.13.weight', [128]],
      ['fc.weight', [2, 128 * 3 * 3]],
      ['fc.bias', [2]],
    ]);
    expect(m.namedBuffers()).toEqual([]);
  });

  it('a slim variant with BatchNorm has one conv per stage, BN after each and on the embedding', () => {
    const m = createBackbone(
      { name: 'lenet++', embeddingDim: 2, channels: [8, 16, 32], convsPerStage: 1, batchNorm: true },
      [1, 28, 28],
    );
    const names = m.namedParams().map(([n]) => n);
    expect(names.filter((n) => /^features\.\d+\.weight$/.test(n))).toHaveLength(3 * 3);
    expect(names).not.toContain('fc.bias');
    expect(m.namedParams().find(([n]) => n === 'fc.weight')![1].shape).toEqual([2, 32 * 3 * 3]);
    expect(m.namedBuffers().map(([n]) => n)).toContain('bn.running_var');
  });

  it('maps [N, 1, 28, 28] to finite [N, 2] through ONNX Runtime, each sample on its own', async () => {
    const m = createBackbone({ name: 'lenet++', embeddingDim: 2, channels: [4, 8, 8] }, [1, 28, 28]);
    const params = m.initParams(0);
    const x = Float32Array.from({ length: 3 * 784 }, (_, i) => Math.sin(i * 0.37));
    const run = async (n: number, data: Float32Array): Promise<number[]> => {
      const fw = m.forward(E.input('x', [n, 1, 28, 28]), 'eval');
      const feeds: Record<string, Float32Array> = { x: data };
      for (const name of params.names()) feeds[name] = params.get(name).data;
      return Array.from((await E.evaluate({ y: fw.y }, feeds)).y as Float32Array);
    };
    const all = await run(3, x);
    expect(all).toHaveLength(6);
    expect(all.every(Number.isFinite)).toBe(true);
    // Different images give different features, and batching does not mix samples.
    expect(all[0] === all[2] && all[1] === all[3]).toBe(false);
    const second = await run(1, x.slice(784, 2 * 784));
    expect(second[0]).toBeCloseTo(all[2], 5);
    expect(second[1]).toBeCloseTo(all[3], 5);
  });

  it('rejects flat samples, even kernels and images too small for three poolings', () => {
    expect(() => createBackbone({ name: 'lenet++', embeddingDim: 2 }, [784])).toThrow(/\[C, H, W\]/);
    expect(() => createBackbone({ name: 'lenet++', embeddingDim: 2, kernel: 4 }, [1, 28, 28])).toThrow(/odd/);
    expect(() => createBackbone({ name: 'lenet++', embeddingDim: 2 }, [1, 6, 6])).toThrow(/8x8/);
  });
});
