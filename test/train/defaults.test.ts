/**
 * Training defaults follow the embedding size: 2-d embeddings get the scale, margin and SGD rate
 * that train stably (s = 8, m = 0.3, lr 0.02), 512-d keep ArcFace's (the preset's s = 64, m = 0.5;
 * lr 0.1), and settings known to oscillate in low dimensions are warned about before a run.
 */
import { describe, expect, it } from 'vitest';
import { presets } from '../../src/heads/index.js';
import { lowDimWarnings, trainDefaults } from '../../src/train/index.js';

describe('training defaults by embedding size', () => {
  it('uses s = 8, m = 0.3, lr 0.02 at 2-d and the presets at 512-d', () => {
    expect(trainDefaults(2, 'sgd')).toEqual({ scale: 8, margin: 0.3, lr: 0.02 });
    expect(trainDefaults(3, 'sgd', 'cosface')).toEqual({ scale: 8, margin: undefined, lr: 0.02 });
    expect(trainDefaults(512, 'sgd')).toEqual({ lr: 0.1 });
    expect(trainDefaults(2, 'adamw')).toMatchObject({ scale: 8, lr: 1e-3 });
    expect(trainDefaults(2, 'sgd', 'softmax')).toEqual({ lr: 0.02 });
  });

  it('warns about s = 64 and lr 0.1 with 2-d embeddings, not with 512-d or the low-dim defaults', () => {
    const old = lowDimWarnings(2, presets.arcface({ s: 64, m2: 0.5 }), 0.1, 'sgd');
    expect(old).toHaveLength(2);
    expect(old[0]).toMatch(/s = 64 with 2-d embeddings.*oscillate/);
    expect(old[1]).toMatch(/SGD lr 0\.1 with 2-d/);
    expect(lowDimWarnings(512, presets.arcface(), 0.1, 'sgd')).toEqual([]);
    const d = trainDefaults(2, 'sgd');
    expect(lowDimWarnings(2, presets.arcface({ s: d.scale, m2: d.margin }), d.lr, 'sgd')).toEqual([]);
  });
});
