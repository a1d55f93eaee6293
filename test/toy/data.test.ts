import { describe, expect, it } from 'vitest';
import { centreOnTrain } from '../../src/toy/data.js';

describe('centreOnTrain (frozen embeddings for the 2-D toy)', () => {
  it('centres and scales by the training rows only, and maps held-out rows the same way', () => {
    // Four 2-d rows sharing a big common component (10, 10); rows 0-2 train, row 3 held out.
    const x = Float32Array.from([11, 10, 9, 10, 10, 13, 10, 7]);
    centreOnTrain(x, 2, [0, 1, 2]);
    // Train mean (10, 11); centred train rows (1,-1), (-1,-1), (0,2): squared lengths 2, 2, 4, RMS sqrt(8/3).
    const k = 1 / Math.sqrt(8 / 3);
    const expected = [1, -1, -1, -1, 0, 2, 0, -4].map((v) => v * k);
    expected.forEach((v, i) => expect(x[i]).toBeCloseTo(v, 6));
    const meanX = (x[0] + x[2] + x[4]) / 3;
    const meanY = (x[1] + x[3] + x[5]) / 3;
    expect(meanX).toBeCloseTo(0, 6);
    expect(meanY).toBeCloseTo(0, 6);
  });
});
