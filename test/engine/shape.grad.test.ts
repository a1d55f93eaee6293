import { describe, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { gradCheck } from '../helpers/gradcheck.js';

describe('shape, reduction and matmul VJPs match finite differences', () => {
  it('reshape, transpose, expand, concat, slice, pad', async () => {
    await gradCheck((a) => E.reshape(a, [4, 3]), [[2, 6]]);
    await gradCheck((a) => E.transpose(a, [2, 0, 1]), [[2, 3, 4]]);
    await gradCheck((a) => E.expand(a, [3, 2, 4]), [[2, 1]]);
    await gradCheck(
      (a, b) => E.concat([a, b, a], 1),
      [
        [2, 3],
        [2, 1],
      ],
    );
    await gradCheck((a) => E.slice(a, [1, 0], [3, -1]), [[4, 5]]);
    await gradCheck((a) => E.pad(a, [1, 0], [0, 2]), [[2, 3]]);
  });
  it('gather, gatherElements, scatterElements', async () => {
    const idx = E.constant([2, 0, 2, 1], [4], 'int64');
    await gradCheck((a) => E.gather(a, idx, 0), [[3, 5]]);
    await gradCheck((a) => E.gather(a, idx, 1), [[2, 3]]);
    const idx2 = E.constant([1, 0, 0, 2, 2, 1], [3, 2], 'int64');
    await gradCheck((a) => E.gatherElements(a, idx2, 1), [[3, 3]]);
    // 'none' needs unique indices per row (duplicates make the winner unspecified); 'add' accumulates them.
    const unique = E.constant([1, 0, 2, 0], [2, 2], 'int64');
    await gradCheck(
      (a, u) => E.scatterElements(a, unique, u, 1, 'none'),
      [
        [2, 3],
        [2, 2],
      ],
    );
    const idx3 = E.constant([1, 0, 2, 2], [2, 2], 'int64');
    await gradCheck(
      (a, u) => E.scatterElements(a, idx3, u, 1, 'add'),
      [
        [2, 3],
        [2, 2],
      ],
    );
  });
  it('reduceSum, reduceMean, reduceMax, softmax, logSoftmax', async () => {
    await gradCheck((a) => E.reduceSum(a, [0, 2], true), [[2, 3, 4]]);
    await gradCheck((a) => E.reduceMean(a, 1), [[3, 4]]);
    await gradCheck((a) => E.reduceMax(a, -1), [[3, 5]]);
    await gradCheck((a) => E.softmax(a, -1), [[3, 5]]);
    await gradCheck((a) => E.logSoftmax(a, 0), [[4, 3]]);
  });
  it('matmul, batched and broadcast', async () => {
    await gradCheck(
      (a, b) => E.matmul(a, b),
      [
        [3, 4],
        [4, 2],
      ],
    );
    await gradCheck(
      (a, b) => E.matmul(a, b),
      [
        [2, 3, 4],
        [4, 5],
      ],
    );
  });
});
