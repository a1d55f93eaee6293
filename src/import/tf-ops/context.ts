/**
 * What an op converter sees: the TF node, its attributes, its inputs as engine tensors, and the host
 * values of inputs that are constants (shapes, axes, paddings and weights are read from those).
 */
import { type Tensor, constant } from '../../engine/index.js';
import { Attrs, type TfNode } from '../tfjs-format.js';
import type { HostTensor } from '../tfjs-weights.js';

/** Host values of the tensors that came from Const nodes (or were folded from them). */
export type ConstTable = WeakMap<Tensor, HostTensor>;

/** One TF op converted to engine ops: returns the node's outputs in order. */
export type TfOpConverter = (c: OpContext) => Tensor | readonly Tensor[];

/** An error raised while converting one node, naming it. */
export class TfImportError extends Error {
  constructor(node: TfNode, message: string) {
    super(`${node.op} '${node.name}': ${message}`);
    this.name = 'TfImportError';
  }
}

export class OpContext {
  readonly attrs: Attrs;

  constructor(
    readonly node: TfNode,
    /** Data inputs in order (control dependencies dropped). */
    readonly inputs: readonly Tensor[],
    private readonly consts: ConstTable,
  ) {
    this.attrs = new Attrs(node);
  }

  /** An error naming this node. */
  error(message: string): TfImportError {
    return new TfImportError(this.node, message);
  }

  /** Input i, or an error saying how many the op needs. */
  input(i: number): Tensor {
    const t = this.inputs[i];
    if (!t) throw this.error(`needs at least ${i + 1} inputs, got ${this.inputs.length}`);
    return t;
  }

  /** The host value of input i when it is a constant. */
  constValue(i: number): HostTensor | undefined {
    return this.consts.get(this.input(i));
  }

  /** Input i's values as plain numbers; it must be a constant (the engine's shapes are static). */
  ints(i: number, what: string): number[] {
    const v = this.constValue(i);
    if (!v) throw this.error(`${what} (input ${i}) must be a constant`);
    return Array.from(v.data, Number);
  }

  /** Make a constant tensor and remember its host value, so later ops can read it statically. */
  constant(value: HostTensor): Tensor {
    const t = constant(value.data, value.shape, value.dtype);
    this.consts.set(t, value);
    return t;
  }
}
