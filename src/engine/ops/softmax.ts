/** Softmax and LogSoftmax over one axis, with their closed-form VJPs. */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply1, normAxis } from '../op.js';
import type { Tensor } from '../tensor.js';
import { exp, mul, sub } from './elementwise.js';
import { reduceSum } from './reduce.js';

function softmaxOp(
  name: 'Softmax' | 'LogSoftmax',
  vjp: OpDef<{ axis: number }>['vjp'],
): OpDef<{ axis: number }> {
  return {
    name,
    infer([x]) {
      if (!isFloat(x.dtype)) throw new ShapeError(name, 'needs a float operand', [x]);
      return [{ shape: x.shape, dtype: x.dtype }];
    },
    emit(e, node, ins, outs) {
      e.node(name, ins, outs, { axis: { i: node.attrs.axis } });
    },
    vjp,
  };
}

const SoftmaxOp = softmaxOp('Softmax', ({ outputs: [y], attrs: { axis } }, [g]) => [
  mul(y, sub(g!, reduceSum(mul(g!, y), axis, true))),
]);
const LogSoftmaxOp = softmaxOp('LogSoftmax', ({ outputs: [y], attrs: { axis } }, [g]) => [
  sub(g!, mul(exp(y), reduceSum(g!, axis, true))),
]);

/** exp(x) / sum(exp(x)) along axis. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return apply1(SoftmaxOp, [x], { axis: normAxis('Softmax', axis, x.rank) });
}

/** x - log(sum(exp(x))) along axis, computed stably by ONNX Runtime. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return apply1(LogSoftmaxOp, [x], { axis: normAxis('LogSoftmax', axis, x.rank) });
}
