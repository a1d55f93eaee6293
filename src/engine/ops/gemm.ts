/**
 * 2-D matrix product with transposed operands (ONNX Gemm, no bias). A transposed operand is read in
 * place by the kernel: `x @ W^T` with W stored [N, K] needs no Transpose of W, and neither do the
 * gradients, which are again Gemms with transpose flags.
 */
import { isFloat } from '../dtype.js';
import { type OpDef, ShapeError, apply1, sameDType } from '../op.js';
import type { Tensor } from '../tensor.js';

interface GemmAttrs {
  readonly transA: boolean;
  readonly transB: boolean;
}

const GemmOp: OpDef<GemmAttrs> = {
  name: 'Gemm',
  infer([a, b], { transA, transB }) {
    const dtype = sameDType('Gemm', [a, b]);
    if (!isFloat(dtype) || a.rank !== 2 || b.rank !== 2) {
      throw new ShapeError('Gemm', 'operands must be 2-D float matrices', [a, b]);
    }
    const [m, ka] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [kb, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (ka !== kb) {
      throw new ShapeError('Gemm', `inner dimensions differ (transA=${transA}, transB=${transB})`, [a, b]);
    }
    return [{ shape: [m, n], dtype }];
  },
  emit(e, { attrs: { transA, transB } }, ins, outs) {
    e.node('Gemm', ins, outs, { transA: { i: transA ? 1 : 0 }, transB: { i: transB ? 1 : 0 } });
  },
  vjp({ inputs: [a, b], attrs: { transA, transB } }, [g], [na, nb]) {
    // y = op(a) op(b): each gradient is one Gemm of g with the other operand, flags chosen so the
    // result comes out in the operand's stored layout.
    const da = !na ? null : transA ? gemm(b, g!, transB, true) : gemm(g!, b, false, !transB);
    const db = !nb ? null : transB ? gemm(g!, a, true, transA) : gemm(a, g!, !transA, false);
    return [da, db];
  },
};

/**
 * op(a) @ op(b), where op transposes when its flag is set (ONNX Gemm with alpha = 1, no C).
 * @param a [M, K], or [K, M] when transA
 * @param b [K, N], or [N, K] when transB
 * @returns [M, N]
 */
export function gemm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return apply1(GemmOp, [a, b], { transA, transB });
}
