/**
 * ReduceL2: the Euclidean norm over axes in one pass over the data. Written as ReduceSum(x * x) the
 * backward pass would materialise x * x, an Expand and two products at the input's size; here the
 * VJP is one broadcast product x * (g / y).
 */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply1, normAxis } from '../op.js';
import type { Tensor } from '../tensor.js';
import { div, maximum, mul } from './elementwise.js';
import { reshape } from './shape.js';

interface ReduceL2Attrs {
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

/** Below this norm the gradient x / |x| is taken as x / TINY: 0 for an all-zero row, never NaN. */
const TINY = 1e-30;

const ReduceL2Op: OpDef<ReduceL2Attrs> = {
  name: 'ReduceL2',
  infer([x], { axes, keepdims }) {
    if (!isFloat(x.dtype)) throw new ShapeError('ReduceL2', 'needs a float operand', [x]);
    const shape: number[] = [];
    x.shape.forEach((d, i) => {
      if (!axes.includes(i)) shape.push(d);
      else if (keepdims) shape.push(1);
    });
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, { attrs: { axes, keepdims } }, ins, outs) {
    // Opset 17: ReduceL2 takes its axes as an attribute.
    e.node('ReduceL2', ins, outs, { axes: { ints: axes }, keepdims: { i: keepdims ? 1 : 0 } });
  },
  vjp({ inputs: [x], outputs: [y], attrs: { axes } }, [g]) {
    const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const scale = div(reshape(g!, kept), maximum(reshape(y, kept), TINY));
    return [mul(x, scale)];
  },
};

/**
 * sqrt(sum(x^2)) over axes (all when omitted); gradient x / |x| (0 for an all-zero slice).
 * @param keepdims keep reduced axes as size 1
 */
export function reduceL2(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : axes;
  const norm = [...new Set(list.map((a) => normAxis('ReduceL2', a, x.rank)))].sort((a, b) => a - b);
  return apply1(ReduceL2Op, [x], { axes: norm, keepdims });
}
