import type { DType } from './dtype.js';
import { Tensor, type Shape } from './tensor.js';

/** An ONNX attribute value, tagged so ints and floats never get confused. */
export type OnnxAttr =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly s: string }
  /** A one-element tensor attribute (e.g. ConstantOfShape's `value`). */
  | { readonly scalar: number; readonly dtype: DType };

/** What an op's emit rule may do: add ONNX nodes and int64 constants to the graph being serialised. */
export interface Emitter {
  /** Append one ONNX node. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs?: Record<string, OnnxAttr>,
  ): void;
  /** An int64 initializer holding `values` (1-D, or rank 0 when `scalar`), deduplicated; returns its name. */
  int64s(values: readonly number[], scalar?: boolean): string;
  /** A float initializer of the dtype holding one value (rank 0); returns its name. */
  scalar(value: number, dtype: DType): string;
  /** A fresh name for an intermediate value. */
  tmp(hint?: string): string;
}

/** Output of an op's shape rule. */
export interface OutSpec {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A node in the symbolic graph: one application of an op. */
export interface OpNode<A = unknown> {
  readonly op: OpDef<A>;
  readonly inputs: readonly Tensor[];
  readonly attrs: A;
  readonly outputs: readonly Tensor[];
}

/**
 * One primitive: its shape rule, its ONNX emission and its vector-Jacobian product, side by side.
 * The VJP is written with the engine's own ops, so gradient graphs are ordinary graphs.
 */
export interface OpDef<A = unknown> {
  readonly name: string;
  /** Output shapes and dtypes; throws ShapeError naming the op and the shapes on bad input. */
  infer(inputs: readonly Tensor[], attrs: A): OutSpec[];
  /** Emit ONNX nodes computing `outputs` from `inputs` (names in the graph). */
  emit(e: Emitter, node: OpNode<A>, inputs: readonly string[], outputs: readonly string[]): void;
  /**
   * Gradients of the inputs given the gradients of the outputs (null where an output does not reach the loss).
   * `needs[i]` says whether input i's gradient is wanted: skip building the others (return null).
   * Return null for inputs that take no gradient. Omit the rule for non-differentiable ops.
   */
  vjp?(
    node: OpNode<A>,
    dy: readonly (Tensor | null)[],
    needs: readonly boolean[],
  ): readonly (Tensor | null)[];
}

/** A shape or dtype error that names the op and the operands' shapes. */
export class ShapeError extends Error {
  constructor(op: string, message: string, operands: readonly Tensor[] = []) {
    const shapes = operands.map((t) => t.toString()).join(', ');
    super(`${op}: ${message}${shapes ? ` (got ${shapes})` : ''}`);
    this.name = 'ShapeError';
  }
}

/** Apply an op to inputs: check shapes, create the node and its output tensors. */
export function apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor[] {
  const specs = op.infer(inputs, attrs);
  const outputs: Tensor[] = [];
  const node: OpNode<A> = { op, inputs: [...inputs], attrs, outputs };
  specs.forEach((s, index) =>
    outputs.push(new Tensor([...s.shape], s.dtype, { kind: 'op', node: node as OpNode, index })),
  );
  return outputs;
}

/** Apply a single-output op. */
export function apply1<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  return apply(op, inputs, attrs)[0];
}

/** Throw unless every operand has the same dtype. */
export function sameDType(op: string, ts: readonly Tensor[]): DType {
  const d = ts[0].dtype;
  for (const t of ts) if (t.dtype !== d) throw new ShapeError(op, 'operands must share one dtype', ts);
  return d;
}

/** Normalise a possibly negative axis against a rank. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new ShapeError(op, `axis ${axis} out of range for rank ${rank}`);
  }
  return a;
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Tensor, b: Tensor): number[] {
  const r = Math.max(a.rank, b.rank);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a.shape[a.rank - r + i] ?? 1;
    const db = b.shape[b.rank - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(op, 'shapes do not broadcast', [a, b]);
    out.push(da === 1 ? db : da);
  }
  return out;
}
