import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';

// Generated value names (op outputs, constants, int64 shape constants) once looked exactly like
// names a user may choose ('t10', 'c2', 'k0'): such a graph defined one value twice.
describe('lower: user names never collide with generated ones', () => {
  it('accepts outputs named like internal values', async () => {
    const a = E.input('a', [2, 3]);
    const b = E.mul(a, a);
    const k = E.constant([1, 2, 3], [3]);
    const c = E.add(b, k);
    const d = E.reshape(c, [3, 2]);
    const outputs = { [`t${b.id}`]: d, [`c${k.id}`]: b, k0: c, t0: E.reduceSum(d) };
    const names = new Set<string>();
    for (const n of E.lower({ outputs }).outputs) names.add(n.name);
    expect([...names].sort()).toEqual(Object.keys(outputs).sort());
    const av = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const out = await E.evaluate(outputs, { a: av });
    expect(Array.from(out[`c${k.id}`] as Float32Array)).toEqual([1, 4, 9, 16, 25, 36]);
    expect(Array.from(out.k0 as Float32Array)).toEqual([2, 6, 12, 17, 27, 39]);
    expect(Array.from(out[`t${b.id}`] as Float32Array)).toEqual([2, 6, 12, 17, 27, 39]);
    expect(out.t0[0]).toBe(103);
  });

  it('accepts inputs named like internal values, including leading underscores', async () => {
    const k0 = E.input('k0', [2, 2]);
    const under = E.input('_t1', [4]);
    const y = E.add(E.reshape(k0, [4]), under);
    const out = await E.evaluate(
      { __k0: y },
      { k0: Float32Array.from([1, 2, 3, 4]), _t1: Float32Array.from([10, 20, 30, 40]) },
    );
    expect(Array.from(out.__k0 as Float32Array)).toEqual([11, 22, 33, 44]);
  });

  it('rejects an output named like a graph input', () => {
    const x = E.input('x', [2]);
    expect(() => E.lower({ outputs: { x: E.neg(x) } })).toThrow(
      /output 'x' has the same name as a graph input/,
    );
  });
});
