/**
 * Elementwise primitives with NumPy broadcasting: arithmetic, comparisons, Where, Cast and the unary
 * functions. Each op's shape rule, ONNX emission and VJP sit together.
 */
import { type DType, ONNX_ELEM_TYPE, isFloat } from '../dtype.js';
import { type OpDef, type OpNode, ShapeError, apply1, broadcastShapes, sameDType } from '../op.js';
import { Tensor, scalar } from '../tensor.js';
import { reduceSum } from './reduce.js';
import { reshape } from './shape.js';

/** A tensor or a plain number, which becomes a scalar of the other operand's dtype. */
export type TensorLike = Tensor | number;

function lift(x: TensorLike, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(x, like.dtype) : x;
}

function pair(a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') return [scalar(a), scalar(b)];
  if (typeof a === 'number') return [lift(a, b as Tensor), b as Tensor];
  return [a, lift(b, a)];
}

/**
 * Sum a broadcast gradient back down to `shape` (the inverse of broadcasting).
 * @param g gradient with the broadcast shape
 */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? reduceSum(g, axes, true) : g;
  return reshape(s, shape);
}

interface BinaryAttrs {
  readonly onnx: string;
}

function binaryOp(
  name: string,
  outDType: (d: DType) => DType,
  vjp?: OpDef<BinaryAttrs>['vjp'],
  floatOnly = false,
): OpDef<BinaryAttrs> {
  return {
    name,
    infer([a, b]) {
      const d = sameDType(name, [a, b]);
      if (floatOnly && !isFloat(d)) throw new ShapeError(name, 'needs float operands', [a, b]);
      return [{ shape: broadcastShapes(name, a, b), dtype: outDType(d) }];
    },
    emit(e, node, ins, outs) {
      e.node(node.attrs.onnx, ins, outs);
    },
    vjp,
  };
}

const same = (d: DType): DType => d;
const boolean = (): DType => 'bool';

const AddOp = binaryOp('Add', same, ({ inputs: [a, b] }, [g], [na, nb]) => [
  na ? sumTo(g!, a.shape) : null,
  nb ? sumTo(g!, b.shape) : null,
]);
const SubOp = binaryOp('Sub', same, ({ inputs: [a, b] }, [g], [na, nb]) => [
  na ? sumTo(g!, a.shape) : null,
  nb ? sumTo(neg(g!), b.shape) : null,
]);
const MulOp = binaryOp('Mul', same, ({ inputs: [a, b] }, [g], [na, nb]) => [
  na ? sumTo(mul(g!, b), a.shape) : null,
  nb ? sumTo(mul(g!, a), b.shape) : null,
]);
const DivOp = binaryOp('Div', same, ({ inputs: [a, b], outputs: [y] }, [g], [na, nb]) => [
  na ? sumTo(div(g!, b), a.shape) : null,
  nb ? sumTo(neg(div(mul(g!, y), b)), b.shape) : null,
]);
const PowOp = binaryOp(
  'Pow',
  same,
  ({ inputs: [a, b], outputs: [y] }, [g], [na, nb]) => [
    na ? sumTo(mul(g!, mul(b, pow(a, sub(b, 1)))), a.shape) : null,
    nb ? sumTo(mul(g!, mul(y, log(a))), b.shape) : null,
  ],
  true,
);
function minMaxVjp(pickA: (a: Tensor, b: Tensor) => Tensor): OpDef<BinaryAttrs>['vjp'] {
  return ({ inputs: [a, b] }, [g], [na, nb]) => {
    const takeA = pickA(a, b);
    return [na ? sumTo(where(takeA, g!, 0), a.shape) : null, nb ? sumTo(where(takeA, 0, g!), b.shape) : null];
  };
}
const MaxOp = binaryOp(
  'Max',
  same,
  minMaxVjp((a, b) => greaterOrEqual(a, b)),
);
const MinOp = binaryOp(
  'Min',
  same,
  minMaxVjp((a, b) => lessOrEqual(a, b)),
);
const EqualOp = binaryOp('Equal', boolean);
const LessOp = binaryOp('Less', boolean);
const GreaterOp = binaryOp('Greater', boolean);
const LessOrEqualOp = binaryOp('LessOrEqual', boolean);
const GreaterOrEqualOp = binaryOp('GreaterOrEqual', boolean);
const AndOp = binaryOp('And', boolean);
const OrOp = binaryOp('Or', boolean);

function bin(op: OpDef<BinaryAttrs>, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b);
  return apply1(op, [x, y], { onnx: op.name });
}

/** a + b, broadcasting. */
export const add = (a: TensorLike, b: TensorLike): Tensor => bin(AddOp, a, b);
/** a - b, broadcasting. */
export const sub = (a: TensorLike, b: TensorLike): Tensor => bin(SubOp, a, b);
/** a * b, broadcasting. */
export const mul = (a: TensorLike, b: TensorLike): Tensor => bin(MulOp, a, b);
/** a / b, broadcasting. */
export const div = (a: TensorLike, b: TensorLike): Tensor => bin(DivOp, a, b);
/** a ** b, broadcasting; the gradient for b uses log(a), so keep a > 0 where b is trained. */
export const pow = (a: TensorLike, b: TensorLike): Tensor => bin(PowOp, a, b);
/** Elementwise maximum. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => bin(MaxOp, a, b);
/** Elementwise minimum. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => bin(MinOp, a, b);
/** a == b as bool. */
export const equal = (a: TensorLike, b: TensorLike): Tensor => bin(EqualOp, a, b);
/** a < b as bool. */
export const less = (a: TensorLike, b: TensorLike): Tensor => bin(LessOp, a, b);
/** a > b as bool. */
export const greater = (a: TensorLike, b: TensorLike): Tensor => bin(GreaterOp, a, b);
/** a <= b as bool. */
export const lessOrEqual = (a: TensorLike, b: TensorLike): Tensor => bin(LessOrEqualOp, a, b);
/** a >= b as bool. */
export const greaterOrEqual = (a: TensorLike, b: TensorLike): Tensor => bin(GreaterOrEqualOp, a, b);
/** Logical and of bool tensors. */
export const and = (a: Tensor, b: Tensor): Tensor => bin(AndOp, a, b);
/** Logical or of bool tensors. */
export const or = (a: Tensor, b: Tensor): Tensor => bin(OrOp, a, b);

interface UnaryAttrs {
  readonly onnx: string;
}

function unaryOp(name: string, vjp?: OpDef<UnaryAttrs>['vjp'], floatOnly = true): OpDef<UnaryAttrs> {
  return {
    name,
    infer([x]) {
      if (floatOnly && !isFloat(x.dtype)) throw new ShapeError(name, 'needs a float operand', [x]);
      return [{ shape: x.shape, dtype: x.dtype }];
    },
    emit(e, node, ins, outs) {
      e.node(node.attrs.onnx, ins, outs);
    },
    vjp,
  };
}

type U = OpNode<UnaryAttrs>;
const NegOp = unaryOp('Neg', (_n, [g]) => [neg(g!)], false);
const ExpOp = unaryOp('Exp', ({ outputs: [y] }: U, [g]) => [mul(g!, y)]);
const LogOp = unaryOp('Log', ({ inputs: [x] }: U, [g]) => [div(g!, x)]);
const SqrtOp = unaryOp('Sqrt', ({ outputs: [y] }: U, [g]) => [div(g!, mul(y, 2))]);
const AbsOp = unaryOp('Abs', ({ inputs: [x] }: U, [g]) => [mul(g!, sign(x))]);
const SignOp = unaryOp('Sign', (_n, [g]) => [mul(g!, 0)]);
const ReluOp = unaryOp('Relu', ({ inputs: [x] }: U, [g]) => [where(greater(x, 0), g!, 0)]);
const SigmoidOp = unaryOp('Sigmoid', ({ outputs: [y] }: U, [g]) => [mul(g!, mul(y, sub(1, y)))]);
const TanhOp = unaryOp('Tanh', ({ outputs: [y] }: U, [g]) => [mul(g!, sub(1, mul(y, y)))]);
const CosOp = unaryOp('Cos', ({ inputs: [x] }: U, [g]) => [neg(mul(g!, sin(x)))]);
const SinOp = unaryOp('Sin', ({ inputs: [x] }: U, [g]) => [mul(g!, cos(x))]);
const AcosOp = unaryOp('Acos', ({ inputs: [x] }: U, [g]) => [neg(div(g!, sqrt(sub(1, mul(x, x)))))]);
const FloorOp = unaryOp('Floor', (_n, [g]) => [mul(g!, 0)]);
const NotOp: OpDef<UnaryAttrs> = {
  name: 'Not',
  infer([x]) {
    if (x.dtype !== 'bool') throw new ShapeError('Not', 'needs a bool operand', [x]);
    return [{ shape: x.shape, dtype: 'bool' }];
  },
  emit(e, _n, ins, outs) {
    e.node('Not', ins, outs);
  },
};
const IsNaNOp: OpDef<UnaryAttrs> = {
  name: 'IsNaN',
  infer([x]) {
    if (!isFloat(x.dtype)) throw new ShapeError('IsNaN', 'needs a float operand', [x]);
    return [{ shape: x.shape, dtype: 'bool' }];
  },
  emit(e, _n, ins, outs) {
    e.node('IsNaN', ins, outs);
  },
};
/** Identity in the forward pass, zero gradient: a value the loss should treat as constant. */
const StopGradientOp: OpDef<UnaryAttrs> = {
  name: 'StopGradient',
  infer([x]) {
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, _n, ins, outs) {
    e.node('Identity', ins, outs);
  },
};
const IdentityOp = unaryOp('Identity', (_n, [g]) => [g], false);

const un = (op: OpDef<UnaryAttrs>, x: Tensor): Tensor => apply1(op, [x], { onnx: op.name });

/** -x */
export const neg = (x: Tensor): Tensor => un(NegOp, x);
/** e^x */
export const exp = (x: Tensor): Tensor => un(ExpOp, x);
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => un(LogOp, x);
/** Square root. */
export const sqrt = (x: Tensor): Tensor => un(SqrtOp, x);
/** |x|; gradient sign(x) (0 at 0). */
export const abs = (x: Tensor): Tensor => un(AbsOp, x);
/** sign(x) in {-1, 0, 1}; zero gradient. */
export const sign = (x: Tensor): Tensor => un(SignOp, x);
/** max(x, 0); gradient 0 at 0. */
export const relu = (x: Tensor): Tensor => un(ReluOp, x);
/** 1 / (1 + e^-x) */
export const sigmoid = (x: Tensor): Tensor => un(SigmoidOp, x);
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => un(TanhOp, x);
/** Cosine (radians). ONNX Runtime's CPU kernel is float32 only. */
export const cos = (x: Tensor): Tensor => un(CosOp, x);
/** Sine (radians). ONNX Runtime's CPU kernel is float32 only. */
export const sin = (x: Tensor): Tensor => un(SinOp, x);
/** Arc cosine in [0, pi]; gradient -1/sqrt(1-x^2), infinite at |x| = 1: clamp first. Float32 only on CPU. */
export const acos = (x: Tensor): Tensor => un(AcosOp, x);
/** Round down; zero gradient. */
export const floor = (x: Tensor): Tensor => un(FloorOp, x);
/** Logical not of a bool tensor. */
export const not = (x: Tensor): Tensor => un(NotOp, x);
/** True where x is NaN. */
export const isNaN = (x: Tensor): Tensor => un(IsNaNOp, x);
/** Forward identity, no gradient. */
export const stopGradient = (x: Tensor): Tensor => un(StopGradientOp, x);
/** Identity (useful to give a graph output its own name). */
export const identity = (x: Tensor): Tensor => un(IdentityOp, x);
/** x * x */
export const square = (x: Tensor): Tensor => mul(x, x);

const WhereOp: OpDef<null> = {
  name: 'Where',
  infer([c, a, b]) {
    if (c.dtype !== 'bool') throw new ShapeError('Where', 'condition must be bool', [c, a, b]);
    const dt = sameDType('Where', [a, b]);
    const ab = broadcastShapes('Where', a, b);
    const shape = broadcastShapes('Where', c, new Tensor(ab, dt, { kind: 'input', name: '' }));
    return [{ shape, dtype: dt }];
  },
  emit(e, _n, ins, outs) {
    e.node('Where', ins, outs);
  },
  vjp({ inputs: [c, a, b] }, [g], [, na, nb]) {
    return [null, na ? sumTo(where(c, g!, 0), a.shape) : null, nb ? sumTo(where(c, 0, g!), b.shape) : null];
  },
};

/** cond ? a : b elementwise, broadcasting all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b);
  return apply1(WhereOp, [cond, x, y], null);
}

const CastOp: OpDef<{ to: DType }> = {
  name: 'Cast',
  infer([x], { to }) {
    return [{ shape: x.shape, dtype: to }];
  },
  emit(e, node, ins, outs) {
    e.node('Cast', ins, outs, { to: { i: ONNX_ELEM_TYPE[node.attrs.to] } });
  },
  vjp({ inputs: [x], attrs }, [g]) {
    return [isFloat(x.dtype) && isFloat(attrs.to) ? cast(g!, x.dtype) : null];
  },
};

/** Convert to another dtype; gradients flow between float types only. */
export function cast(x: Tensor, to: DType): Tensor {
  return x.dtype === to ? x : apply1(CastOp, [x], { to });
}

interface ClipAttrs {
  readonly min: number;
  readonly max: number;
}
const ClipOp: OpDef<ClipAttrs> = {
  name: 'Clip',
  infer([x]) {
    if (!isFloat(x.dtype)) throw new ShapeError('Clip', 'needs a float operand', [x]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, node, ins, outs) {
    const { min, max } = node.attrs;
    e.node('Clip', [ins[0], e.scalar(min, node.inputs[0].dtype), e.scalar(max, node.inputs[0].dtype)], outs);
  },
  vjp({ inputs: [x], attrs: { min, max } }, [g]) {
    return [where(and(greaterOrEqual(x, min), lessOrEqual(x, max)), g!, 0)];
  },
};

/** Clamp to [min, max]; gradient passes inside the interval (edges included). */
export function clip(x: Tensor, min: number, max: number): Tensor {
  return apply1(ClipOp, [x], { min, max });
}
