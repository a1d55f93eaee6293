/**
 * Dropout in training form. The scaled keep-mask is its own tensor (one RandomUniformLike per call),
 * so the forward product and the gradient read the same mask within a run.
 */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply1 } from '../op.js';
import type { Tensor } from '../tensor.js';
import { mul } from './elementwise.js';

interface MaskAttrs {
  readonly rate: number;
  readonly seed: number;
}

const DropoutMaskOp: OpDef<MaskAttrs> = {
  name: 'DropoutMask',
  infer([x]) {
    if (!isFloat(x.dtype)) throw new ShapeError('DropoutMask', 'needs a float operand', [x]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, { inputs: [x], attrs: { rate, seed } }, ins, outs) {
    const u = e.tmp('uniform');
    const keep = e.tmp('keep');
    e.node('RandomUniformLike', ins, [u], { seed: { f: seed }, low: { f: 0 }, high: { f: 1 } });
    e.node('GreaterOrEqual', [u, e.scalar(rate, x.dtype)], [keep]);
    e.node('Where', [keep, e.scalar(1 / (1 - rate), x.dtype), e.scalar(0, x.dtype)], outs);
  },
  // The mask depends on x only through its shape.
  vjp() {
    return [null];
  },
};

/**
 * The scaled keep-mask of dropout: 1 / (1 - rate) with probability 1 - rate, else 0, shaped like x.
 * ONNX Runtime seeds the generator once per session, so successive runs of one compiled program
 * draw fresh masks in a reproducible sequence. Two masks with the same seed in one graph are equal:
 * give each dropout its own seed.
 */
export function dropoutMask(x: Tensor, rate: number, seed: number): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new ShapeError('DropoutMask', `rate ${rate} must lie in [0, 1)`, [x]);
  return apply1(DropoutMaskOp, [x], { rate, seed });
}

/**
 * Dropout in training mode: zero each element with probability `rate`, scale the rest by
 * 1 / (1 - rate); the gradient is the incoming gradient times the same mask. Identity at rate 0.
 * @param x any float tensor
 * @param rate drop probability in [0, 1)
 * @param seed generator seed (see dropoutMask)
 */
export function dropout(x: Tensor, rate: number, seed: number): Tensor {
  if (rate === 0) return x;
  return mul(x, dropoutMask(x, rate, seed));
}
