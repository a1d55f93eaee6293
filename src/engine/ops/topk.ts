/**
 * TopK (ONNX TopK-11): the k largest (or smallest) values along an axis and their int64 indices.
 * Non-differentiable: it selects, and search over scores never needs its gradient.
 */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply, normAxis } from '../op.js';
import type { Tensor } from '../tensor.js';

interface TopKAttrs {
  readonly k: number;
  readonly axis: number;
  readonly largest: boolean;
}

const TopKOp: OpDef<TopKAttrs> = {
  name: 'TopK',
  infer([x], { k, axis }) {
    if (!isFloat(x.dtype)) throw new ShapeError('TopK', 'needs a float operand', [x]);
    if (!Number.isInteger(k) || k < 1 || k > x.shape[axis]) {
      throw new ShapeError('TopK', `k = ${k} must be in 1..${x.shape[axis]} (the axis length)`, [x]);
    }
    const shape = x.shape.map((d, i) => (i === axis ? k : d));
    return [
      { shape, dtype: x.dtype },
      { shape, dtype: 'int64' },
    ];
  },
  emit(e, { attrs: { k, axis, largest } }, ins, outs) {
    // Opset 11+ takes k as a 1-D int64 input, not an attribute.
    e.node('TopK', [ins[0], e.int64s([k])], outs, {
      axis: { i: axis },
      largest: { i: largest ? 1 : 0 },
      sorted: { i: 1 },
    });
  },
};

/**
 * The k largest (default) or smallest entries along `axis`, sorted (best first).
 * @param x float tensor
 * @param k how many to keep, 1..x.shape[axis]
 * @returns `[values, indices]`, both of x's shape with `axis` resized to k; indices are int64
 */
export function topK(x: Tensor, k: number, axis = -1, largest = true): [Tensor, Tensor] {
  const a = normAxis('TopK', axis, x.rank);
  const [values, indices] = apply(TopKOp, [x], { k, axis: a, largest });
  return [values, indices];
}
