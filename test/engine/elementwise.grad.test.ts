import { describe, it } from 'vitest';
import * as E from '../../src/engine/index.js';
import { gradCheck, randomArray } from '../helpers/gradcheck.js';

describe('elementwise VJPs match finite differences', () => {
  it('add/sub/mul/div with broadcasting', async () => {
    await gradCheck((a, b) => E.add(a, b), [[3, 4], [4]]);
    await gradCheck(
      (a, b) => E.sub(a, b),
      [
        [2, 1, 4],
        [3, 1],
      ],
    );
    await gradCheck(
      (a, b) => E.mul(a, b),
      [
        [3, 4],
        [3, 1],
      ],
    );
    await gradCheck((a, b) => E.div(a, b), [[3, 4], [4]], { values: [undefined, randomArray(4, 5, 0.5, 2)] });
  });
  it('pow, max, min, where', async () => {
    await gradCheck((a, b) => E.pow(a, b), [[5], [5]], { values: [randomArray(5, 3, 0.5, 2), undefined] });
    await gradCheck((a, b) => E.maximum(a, b), [[6], [6]]);
    await gradCheck((a, b) => E.minimum(a, b), [[2, 3], [3]]);
    await gradCheck((a, b) => E.where(E.greater(a, 0), E.mul(a, b), b), [[4, 3], [3]]);
  });
  it('unary functions', async () => {
    const pos = { values: [randomArray(12, 9, 0.2, 2)] };
    await gradCheck((a) => E.exp(a), [[12]]);
    await gradCheck((a) => E.log(a), [[12]], pos);
    await gradCheck((a) => E.sqrt(a), [[12]], pos);
    await gradCheck((a) => E.abs(a), [[12]]);
    await gradCheck((a) => E.relu(a), [[12]]);
    await gradCheck((a) => E.sigmoid(a), [[12]]);
    await gradCheck((a) => E.tanh(a), [[12]]);
    await gradCheck((a) => E.neg(a), [[12]]);
    await gradCheck((a) => E.clip(a, -0.5, 0.5), [[12]]);
  });
  it('float32-only kernels: cos, sin, acos', async () => {
    await gradCheck((a) => E.cos(a), [[12]], { dtype: 'float32' });
    await gradCheck((a) => E.sin(a), [[12]], { dtype: 'float32' });
    await gradCheck((a) => E.acos(a), [[12]], { dtype: 'float32', values: [randomArray(12, 4, -0.9, 0.9)] });
  });
});
