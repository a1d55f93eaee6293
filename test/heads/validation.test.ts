import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import {
  checkConfig,
  compileHeadStep,
  headPreset,
  marginHead,
  partialFcHead,
  presets,
  validateLabels,
} from '../../src/heads/index.js';
import { randomLabels, uniform } from './data.js';

describe('head input validation', () => {
  const labels = E.input('labels', [4], 'int64');

  it('names both shapes when x and W disagree on D', () => {
    const x = E.input('x', [4, 8]);
    const weight = E.input('W', [10, 16]);
    expect(() => marginHead({ x, weight, labels }, presets.arcface())).toThrow(
      'head: embedding size mismatch: x is float32[4,8] (D = 8) but W is float32[10,16] (D = 16)',
    );
  });

  it('rejects labels of the wrong length, W rows not divisible by k, and a missing bias', () => {
    const x = E.input('x', [4, 8]);
    const bad = E.input('labels', [5], 'int64');
    expect(() => marginHead({ x, weight: E.input('W', [10, 8]), labels: bad }, presets.arcface())).toThrow(
      'head: labels must be int64[4] (one per row of x), got int64[5]',
    );
    expect(() =>
      marginHead({ x, weight: E.input('W', [10, 8]), labels }, presets['subcenter-arcface']()),
    ).toThrow('W has 10 rows, not a positive multiple of 3 sub-centres per class');
    expect(() => marginHead({ x, weight: E.input('W', [10, 8]), labels }, presets.softmax())).toThrow(
      'the softmax preset with bias needs a bias input [C]',
    );
    expect(() =>
      partialFcHead(
        { x, weight: E.input('W', [10, 8]), labels, index: E.input('i', [4], 'int64') },
        presets.softmax(),
      ),
    ).toThrow('partial FC: needs a margin head config');
  });

  it('checks labels per batch: range, integers, length, all ignored', () => {
    expect(validateLabels(BigInt64Array.from([0n, -1n, 9n]), 10)).toBe(2);
    expect(() => validateLabels(BigInt64Array.from([0n, 10n]), 10)).toThrow(
      'labels: label 10 at row 1 is out of range [-1, 10) (10 classes; -1 marks an ignored row)',
    );
    expect(() => validateLabels([3, -2], 10)).toThrow('label -2 at row 1 is out of range [-1, 10)');
    expect(() => validateLabels([0.5], 10)).toThrow('label 0.5 at row 0 is out of range');
    expect(() => validateLabels([1, 2], 10, 3)).toThrow('labels: expected 3 labels (the batch size), got 2');
    expect(() => validateLabels([-1, -1], 10)).toThrow('labels: all 2 labels are -1 (ignored)');
  });

  it('a compiled step refuses bad labels and NaN before ONNX Runtime sees them', async () => {
    const step = await compileHeadStep(
      { config: presets.arcface(), batch: 4, dim: 8, classes: 10 },
      { threads: 1 },
    );
    const weight = uniform(80, 2);
    const x = uniform(32, 1);
    await expect(step.run({ x, weight, labels: BigInt64Array.from([0n, 1n, 2n, 12n]) })).rejects.toThrow(
      'labels: label 12 at row 3 is out of range [-1, 10)',
    );
    const nan = x.slice();
    nan[13] = NaN;
    await expect(step.run({ x: nan, weight, labels: randomLabels(4, 10, 1) })).rejects.toThrow(
      'embeddings x: non-finite value NaN at row 1, column 5',
    );
    const wNaN = weight.slice();
    wNaN[7] = Infinity;
    await expect(step.run({ x, weight: wNaN, labels: randomLabels(4, 10, 1) })).rejects.toThrow(
      "input 'W' has a non-finite value (Infinity) at index 7",
    );
    await expect(step.run({ x: x.subarray(1), weight, labels: randomLabels(4, 10, 1) })).rejects.toThrow(
      'head step: x has 31 values, expected 32',
    );
    // The good batch still runs.
    const ok = await step.run({ x, weight, labels: randomLabels(4, 10, 1) });
    expect(Number.isFinite(ok.loss)).toBe(true);
  });
});

describe('head presets', () => {
  it('carry InsightFace defaults and can be overridden', () => {
    expect(presets.arcface()).toMatchObject({ s: 64, m1: 1, m2: 0.5, m3: 0 });
    expect(presets.cosface({ m3: 0.35 })).toMatchObject({ m2: 0, m3: 0.35 });
    expect(presets['subcenter-arcface']()).toMatchObject({ m2: 0.5, subCenters: 3 });
    expect(headPreset('combined')).toMatchObject({ m1: 1, m2: 0.3, m3: 0.2 });
    expect(headPreset('softmax')).toEqual({ kind: 'softmax', bias: true });
  });

  it('reject values that cannot make a head', () => {
    expect(() => presets.arcface({ s: 0 })).toThrow('margin head: scale s must be a positive number, got 0');
    expect(() => presets.arcface({ m2: 4 })).toThrow('m2 must be in [0, pi) radians, got 4');
    expect(() => checkConfig({ ...presets.arcface(), subCenters: 1.5 })).toThrow(
      'subCenters must be an integer',
    );
    expect(() => headPreset('arcfce' as 'arcface')).toThrow("unknown head 'arcfce'");
  });
});
