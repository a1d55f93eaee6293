/** Matrix product with batch broadcasting (ONNX MatMul). */
import { type OpDef, ShapeError, apply1, broadcastShapes, sameDType } from '../op.js';
import { Tensor } from '../tensor.js';
import { sumTo } from './elementwise.js';
import { transpose } from './shape.js';

const swapLast = (t: Tensor): Tensor => {
  const p = t.shape.map((_, i) => i);
  [p[t.rank - 2], p[t.rank - 1]] = [p[t.rank - 1], p[t.rank - 2]];
  return transpose(t, p);
};

const MatMulOp: OpDef<null> = {
  name: 'MatMul',
  infer([a, b]) {
    const dtype = sameDType('MatMul', [a, b]);
    if (a.rank < 2 || b.rank < 2) throw new ShapeError('MatMul', 'operands must have rank >= 2', [a, b]);
    if (a.shape[a.rank - 1] !== b.shape[b.rank - 2]) {
      throw new ShapeError('MatMul', 'inner dimensions differ', [a, b]);
    }
    const batchA = new Tensor(a.shape.slice(0, -2), dtype, { kind: 'input', name: '' });
    const batchB = new Tensor(b.shape.slice(0, -2), dtype, { kind: 'input', name: '' });
    const batch = broadcastShapes('MatMul', batchA, batchB);
    return [{ shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]], dtype }];
  },
  emit(e, _n, ins, outs) {
    e.node('MatMul', ins, outs);
  },
  vjp({ inputs: [a, b] }, [g], [na, nb]) {
    return [
      na ? sumTo(matmul(g!, swapLast(b)), a.shape) : null,
      nb ? sumTo(matmul(swapLast(a), g!), b.shape) : null,
    ];
  },
};

/**
 * a @ b over the last two axes, broadcasting leading (batch) axes.
 * @param a [..., M, K]
 * @param b [..., K, N]
 * @returns [..., M, N]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return apply1(MatMulOp, [a, b], null);
}
