/** Serialisation of symbolic graphs to ONNX (opset 17) ModelProto bytes. */
import type { onnx } from 'onnx-proto';
// onnx-proto is CommonJS: Node's own ESM loader (tsx, the CLI, benches) sees only its default export.
import onnxProto from 'onnx-proto';
import { type DType, ONNX_ELEM_TYPE, type TypedArray, fromNumbers } from './dtype.js';
import type { Emitter, OnnxAttr, OpNode } from './op.js';
import type { Tensor } from './tensor.js';

const proto: typeof onnx = onnxProto.onnx;

export const OPSET = 17;

/** What to serialise: named graph outputs, plus inputs to bake in as initializers (e.g. for export). */
export interface GraphSpec {
  /** Graph outputs by name. */
  readonly outputs: Readonly<Record<string, Tensor>>;
  /** Values for named inputs that become initializers instead of graph inputs. */
  readonly initializers?: ReadonlyMap<string, TypedArray>;
  /** Order of the remaining graph inputs (by name); others follow in discovery order. */
  readonly inputOrder?: readonly string[];
  readonly name?: string;
}

/** A graph input or output as ONNX Runtime will see it. */
export interface ValueSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** The result of lowering: model bytes and the graph's interface. */
export interface LoweredGraph {
  readonly bytes: Uint8Array;
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodeCount: number;
}

function tensorProto(
  name: string,
  dtype: DType,
  dims: readonly number[],
  data: TypedArray,
): onnx.ITensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dataType: ONNX_ELEM_TYPE[dtype], dims: [...dims], rawData: bytes };
}

function valueInfo(v: ValueSpec): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_ELEM_TYPE[v.dtype],
        shape: { dim: v.shape.map((d) => ({ dimValue: d })) },
      },
    },
  };
}

function attrProto(name: string, a: OnnxAttr): onnx.IAttributeProto {
  const T = proto.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('ints' in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ('floats' in a) return { name, type: T.FLOATS, floats: [...a.floats] };
  if ('scalar' in a)
    return { name, type: T.TENSOR, t: tensorProto('', a.dtype, [1], fromNumbers(a.dtype, [a.scalar])) };
  return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
}

/** Topological order of the nodes that produce `roots`, inputs first. */
function topoNodes(roots: readonly Tensor[]): OpNode[] {
  const done = new Set<OpNode>();
  const order: OpNode[] = [];
  // Iterative DFS: deep graphs (hundreds of layers plus their gradients) would overflow recursion.
  const stack: { node: OpNode; expanded: boolean }[] = [];
  const push = (t: Tensor): void => {
    if (t.source.kind === 'op' && !done.has(t.source.node))
      stack.push({ node: t.source.node, expanded: false });
  };
  roots.forEach(push);
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (done.has(top.node)) {
      stack.pop();
      continue;
    }
    if (!top.expanded) {
      top.expanded = true;
      top.node.inputs.forEach(push);
    } else {
      stack.pop();
      done.add(top.node);
      order.push(top.node);
    }
  }
  return order;
}

/** Names the user chose: graph inputs (reachable from the outputs) and graph outputs. */
function userNames(order: readonly OpNode[], outputs: readonly (readonly [string, Tensor])[]): Set<string> {
  const inputNames = new Set<string>();
  const visit = (t: Tensor): void => {
    if (t.source.kind === 'input') inputNames.add(t.source.name);
  };
  for (const node of order) node.inputs.forEach(visit);
  for (const [, t] of outputs) visit(t);
  for (const [name] of outputs) {
    // Identity(x) -> x would define a value twice (and loop back on itself).
    if (inputNames.has(name)) throw new Error(`lower: output '${name}' has the same name as a graph input`);
  }
  return new Set([...inputNames, ...outputs.map(([name]) => name)]);
}

/**
 * A prefix for generated value names (t<id>, c<id>, k<n>, tmp) that no user-chosen name starts with,
 * so a graph input or output called e.g. 't10' can never collide with a generated value. Almost
 * always '_'; it only grows when a user name itself starts with underscores.
 */
function generatedPrefix(user: ReadonlySet<string>): string {
  let prefix = '_';
  while ([...user].some((n) => n.startsWith(prefix))) prefix += '_';
  return prefix;
}

/** Lower a graph to ONNX bytes, naming every value and collecting inputs and initializers. */
export function lower(spec: GraphSpec): LoweredGraph {
  const outputs = Object.entries(spec.outputs);
  if (outputs.length === 0) throw new Error('lower: a graph needs at least one output');
  const order = topoNodes(outputs.map(([, t]) => t));
  const gen = generatedPrefix(userNames(order, outputs));
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const inputs = new Map<string, ValueSpec>();
  const names = new Map<number, string>();
  const int64Cache = new Map<string, string>();
  let tmpCount = 0;
  // The engine op being emitted: node names carry it, so a profile can sum ONNX Runtime's kernel
  // times per engine op (e.g. all of ConvGradWeight's Convs and MatMuls; bench/profile.ts).
  let emitting = 'Graph';

  const e: Emitter = {
    node(opType, ins, outs, attrs) {
      nodes.push({
        opType,
        input: [...ins],
        output: [...outs],
        name: `n${nodes.length}_${emitting}_${opType}`,
        attribute: attrs ? Object.entries(attrs).map(([k, v]) => attrProto(k, v)) : [],
      });
    },
    int64s(values, scalar = false) {
      const key = `${scalar ? 's' : 'v'}:${values.join(',')}`;
      let name = int64Cache.get(key);
      if (!name) {
        name = `${gen}k${int64Cache.size}`;
        int64Cache.set(key, name);
        initializers.push(
          tensorProto(name, 'int64', scalar ? [] : [values.length], fromNumbers('int64', values)),
        );
      }
      return name;
    },
    scalar(value, dtype) {
      const key = `${dtype}:${value}`;
      let name = int64Cache.get(key);
      if (!name) {
        name = `${gen}k${int64Cache.size}`;
        int64Cache.set(key, name);
        initializers.push(tensorProto(name, dtype, [], fromNumbers(dtype, [value])));
      }
      return name;
    },
    tmp(hint = 't') {
      return `${gen}${hint}_tmp${tmpCount++}`;
    },
  };

  const nameOf = (t: Tensor): string => {
    let n = names.get(t.id);
    if (n) return n;
    const src = t.source;
    if (src.kind === 'input') {
      n = src.name;
      const prev = inputs.get(n);
      if (prev && (prev.dtype !== t.dtype || prev.shape.join(',') !== t.shape.join(','))) {
        throw new Error(
          `lower: two different inputs are named '${n}' (${prev.dtype}[${prev.shape}] and ${t})`,
        );
      }
      if (!prev) {
        const baked = spec.initializers?.get(n);
        if (baked) {
          if (baked.length !== t.size)
            throw new Error(`lower: initializer '${n}' has ${baked.length} values, ${t} needs ${t.size}`);
          initializers.push(tensorProto(n, t.dtype, t.shape, baked));
        }
        inputs.set(n, { name: n, shape: t.shape, dtype: t.dtype });
      }
    } else if (src.kind === 'const') {
      n = `${gen}c${t.id}`;
      initializers.push(tensorProto(n, t.dtype, t.shape, src.data));
    } else {
      n = `${gen}t${t.id}`;
    }
    names.set(t.id, n);
    return n;
  };

  for (const node of order) {
    const ins = node.inputs.map(nameOf);
    const outs = node.outputs.map(nameOf);
    emitting = node.op.name;
    node.op.emit(e, node, ins, outs);
  }
  emitting = 'Graph';
  for (const [name, t] of outputs) e.node('Identity', [nameOf(t)], [name]);

  const fed = [...inputs.values()].filter((v) => !spec.initializers?.has(v.name));
  const inputOrder = spec.inputOrder ?? [];
  fed.sort((a, b) => {
    const ia = inputOrder.indexOf(a.name);
    const ib = inputOrder.indexOf(b.name);
    return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib);
  });
  const outSpecs: ValueSpec[] = outputs.map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'arcface-ts',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: spec.name ?? 'graph',
      node: nodes,
      initializer: initializers,
      input: fed.map(valueInfo),
      output: outSpecs.map(valueInfo),
    },
  };
  const bytes = proto.ModelProto.encode(proto.ModelProto.create(model)).finish();
  return { bytes, inputs: fed, outputs: outSpecs, nodeCount: nodes.length };
}
