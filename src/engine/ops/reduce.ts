/** Reductions over axes: ReduceSum, ReduceMean, ReduceMax. */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply1, normAxis } from '../op.js';
import type { Tensor } from '../tensor.js';
import { cast, div, equal, mul } from './elementwise.js';
import { expand, reshape } from './shape.js';

interface ReduceAttrs {
  /** Normalised, sorted, unique axes. */
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

function reducedShape(x: Tensor, { axes, keepdims }: ReduceAttrs): number[] {
  const out: number[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/** The gradient of a reduction broadcast back to the input's shape. */
function spread(g: Tensor, x: Tensor, attrs: ReduceAttrs): Tensor {
  const kept = x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
  return expand(reshape(g, kept), x.shape);
}

function reduceOp(name: string, vjp: OpDef<ReduceAttrs>['vjp']): OpDef<ReduceAttrs> {
  return {
    name,
    infer([x], attrs) {
      if (name !== 'ReduceSum' && !isFloat(x.dtype)) throw new ShapeError(name, 'needs a float operand', [x]);
      return [{ shape: reducedShape(x, attrs), dtype: x.dtype }];
    },
    emit(e, node, ins, outs) {
      const { axes, keepdims } = node.attrs;
      // Opset 17: ReduceSum takes its axes as an input, ReduceMean/ReduceMax as an attribute.
      if (name === 'ReduceSum')
        e.node(name, [ins[0], e.int64s(axes)], outs, { keepdims: { i: keepdims ? 1 : 0 } });
      else e.node(name, ins, outs, { axes: { ints: axes }, keepdims: { i: keepdims ? 1 : 0 } });
    },
    vjp,
  };
}

const ReduceSumOp = reduceOp('ReduceSum', ({ inputs: [x], attrs }, [g]) => [spread(g!, x, attrs)]);
const ReduceMeanOp = reduceOp('ReduceMean', ({ inputs: [x], attrs }, [g]) => {
  const count = attrs.axes.reduce((n, a) => n * x.shape[a], 1);
  return [div(spread(g!, x, attrs), count)];
});
const ReduceMaxOp = reduceOp('ReduceMax', ({ inputs: [x], outputs: [y], attrs }, [g]) => {
  // Ties share the gradient equally, so the total matches the output's gradient.
  const mask = cast(equal(x, spread(y, x, attrs)), x.dtype);
  const ties = spread(reduceSum(mask, attrs.axes, true), x, { axes: attrs.axes, keepdims: true });
  return [mul(spread(g!, x, attrs), div(mask, ties))];
});

function norm(op: string, x: Tensor, axes?: number | readonly number[]): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : axes;
  return [...new Set(list.map((a) => normAxis(op, a, x.rank)))].sort((a, b) => a - b);
}

/**
 * Sum over axes (all when omitted).
 * @param keepdims keep reduced axes as size 1
 */
export function reduceSum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply1(ReduceSumOp, [x], { axes: norm('ReduceSum', x, axes), keepdims });
}
/** Mean over axes (all when omitted). */
export function reduceMean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply1(ReduceMeanOp, [x], { axes: norm('ReduceMean', x, axes), keepdims });
}
/** Maximum over axes (all when omitted); ties split the gradient. */
export function reduceMax(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply1(ReduceMaxOp, [x], { axes: norm('ReduceMax', x, axes), keepdims });
}
