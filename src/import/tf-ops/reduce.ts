/** TF reductions (Mean, Sum, Max, Min): axes from a constant input, keep_dims from the attribute. */
import { type Tensor, neg, reduceMax, reduceMean, reduceSum } from '../../engine/index.js';
import type { OpContext, TfOpConverter } from './context.js';

type Reducer = (x: Tensor, axes: readonly number[], keepdims: boolean) => Tensor;

const reduction =
  (f: Reducer): TfOpConverter =>
  (c: OpContext) => {
    const x = c.input(0);
    const axes = c.ints(1, 'reduction_indices').map((a) => (a < 0 ? a + x.rank : a));
    const keep = c.attrs.bool('keep_dims', false);
    // TF reduces nothing over an empty axis list; the engine's "no axes" means all axes.
    if (axes.length === 0) return x;
    return f(x, axes, keep);
  };

/** Converters for reduction TF ops, by op name. */
export const REDUCE_OPS: Readonly<Record<string, TfOpConverter>> = {
  Mean: reduction(reduceMean),
  Sum: reduction(reduceSum),
  Max: reduction(reduceMax),
  // min(x) = -max(-x): the engine has no ReduceMin.
  Min: reduction((x, axes, keep) => neg(reduceMax(neg(x), axes, keep))),
};
