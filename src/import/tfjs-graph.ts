/**
 * TensorFlow.js graph models -> engine graphs. A model.json's GraphDef is walked from the requested
 * outputs back to its placeholders, each TF node becoming engine ops through the op table; the result is
 * an ordinary engine graph, lowered to ONNX and run by ONNX Runtime like any other.
 */
import { readFile } from 'node:fs/promises';
import { type DType, type LoweredGraph, type Tensor, input, lower } from '../engine/index.js';
import { OpContext, TF_OPS, type ConstTable, TfImportError } from './tf-ops/index.js';
import { TF_DTYPES } from './tf-ops/math.js';
import { Attrs, type TfNode, type TfjsModelJson, parseInputRef, parseModelJson } from './tfjs-format.js';
import { type HostTensor, readWeights } from './tfjs-weights.js';

/** A graph input (a Placeholder): its TF shape, -1 where TF leaves a dimension open. */
export interface TfGraphInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A loaded TF.js graph model: nodes, decoded weights, inputs and outputs. */
export interface TfjsGraph {
  /** Where it was loaded from, for messages. */
  readonly source: string;
  readonly json: TfjsModelJson;
  readonly nodes: ReadonlyMap<string, TfNode>;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly inputs: readonly TfGraphInput[];
  /** Output tensor names (`node` or `node:k`): the signature's, else the nodes nothing consumes. */
  readonly outputs: readonly string[];
}

/**
 * Build a {@link TfjsGraph} from a parsed model.json and its decoded weights.
 * @param source a name for messages (usually the file path)
 */
export function tfjsGraph(
  json: unknown,
  weights: ReadonlyMap<string, HostTensor>,
  source: string,
): TfjsGraph {
  const model = parseModelJson(json, source);
  const nodes = new Map<string, TfNode>();
  for (const n of model.modelTopology.node) nodes.set(n.name, n);
  const inputs: TfGraphInput[] = model.modelTopology.node
    .filter((n) => n.op === 'Placeholder')
    .map((n) => {
      const a = new Attrs(n);
      const tfType = a.type('dtype', 'DT_FLOAT');
      const dtype = TF_DTYPES[tfType];
      if (!dtype) throw new TfImportError(n, `input dtype ${tfType} is not supported`);
      return { name: n.name, shape: a.shape('shape') ?? [], dtype };
    });
  const sig = model.signature?.outputs;
  let outputs: string[];
  if (sig && Object.keys(sig).length > 0) {
    outputs = Object.entries(sig).map(([key, v]) => stripZero(v.name ?? key));
  } else {
    const consumed = new Set<string>();
    for (const n of model.modelTopology.node) {
      for (const ref of n.input ?? []) {
        const r = parseInputRef(ref);
        if (r) consumed.add(r.node);
      }
    }
    outputs = model.modelTopology.node
      .filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'Placeholder')
      .map((n) => n.name);
  }
  return { source, json: model, nodes, weights, inputs, outputs };
}

function stripZero(name: string): string {
  return name.endsWith(':0') ? name.slice(0, -2) : name;
}

/**
 * Load a TF.js graph model from its model.json; weight shards are read from the same folder.
 * @throws when the file is not a graph model or a shard is missing
 */
export async function loadTfjsGraph(path: string): Promise<TfjsGraph> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read TF.js model ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      cause: err,
    });
  }
  const json = parseModelJson(JSON.parse(text) as unknown, path);
  return tfjsGraph(json, await readWeights(path, json.weightsManifest), path);
}

/** How to convert a graph. */
export interface ConvertOptions {
  /** Batch size for inputs whose first dimension TF leaves open (default 1). */
  readonly batch?: number;
  /**
   * Tensors to use for inputs, by placeholder name (e.g. a preprocessed image); others become engine
   * `input()`s with the placeholder's name and shape.
   */
  readonly inputs?: Readonly<Record<string, Tensor>>;
  /**
   * Tensors to produce: signature keys, node names or `node:k` names (default: the graph's outputs).
   */
  readonly outputs?: readonly string[];
}

/** Resolve an output request to (node, output index): a signature key, `node`, or `node:k`. */
function resolveOutput(g: TfjsGraph, name: string): { node: string; index: number } {
  const sig = g.json.signature?.outputs?.[name]?.name;
  const ref = parseInputRef(stripZero(sig ?? name));
  if (!ref || !g.nodes.has(ref.node)) {
    throw new Error(`${g.source}: no output '${name}' (outputs: ${g.outputs.join(', ')})`);
  }
  return ref;
}

/**
 * Convert a TF.js graph into engine tensors. Only nodes the requested outputs depend on are converted, so
 * an unsupported op in an unused head does not matter.
 * @returns the output tensors keyed by the names asked for
 * @throws TfImportError naming the op and node for an unsupported op or an unsupported use of one
 */
export function convertTfjsGraph(g: TfjsGraph, opts: ConvertOptions = {}): Record<string, Tensor> {
  const batch = opts.batch ?? 1;
  const consts: ConstTable = new WeakMap();
  const done = new Map<string, readonly Tensor[]>();

  const dataInputs = (n: TfNode): { node: string; index: number }[] =>
    (n.input ?? []).map(parseInputRef).filter((r): r is { node: string; index: number } => r !== null);

  const convertNode = (n: TfNode): readonly Tensor[] => {
    if (n.op === 'Const') {
      const w = g.weights.get(n.name);
      if (!w) throw new TfImportError(n, 'constant has no value in the weights manifest');
      return [new OpContext(n, [], consts).constant(w)];
    }
    if (n.op === 'Placeholder') {
      const spec = g.inputs.find((i) => i.name === n.name)!;
      const shape = spec.shape.map((d, i) => (d < 0 ? (i === 0 ? batch : NaN) : d));
      if (shape.some((d) => Number.isNaN(d))) {
        throw new TfImportError(n, `input shape [${spec.shape.join(',')}] has an open non-batch dimension`);
      }
      const given = opts.inputs?.[n.name];
      if (given) {
        if (given.shape.join(',') !== shape.join(',') || given.dtype !== spec.dtype) {
          throw new TfImportError(n, `given input ${given} does not match ${spec.dtype}[${shape.join(',')}]`);
        }
        return [given];
      }
      return [input(n.name, shape, spec.dtype)];
    }
    const convert = TF_OPS[n.op];
    if (!convert) throw new TfImportError(n, `unsupported TF op '${n.op}'`);
    const ins = dataInputs(n).map((r) => {
      const t = done.get(r.node)?.[r.index];
      if (!t) throw new TfImportError(n, `input '${r.node}:${r.index}' does not exist`);
      return t;
    });
    try {
      const out = convert(new OpContext(n, ins, consts));
      return Array.isArray(out) ? out : [out as Tensor];
    } catch (err) {
      if (err instanceof TfImportError) throw err;
      throw new TfImportError(n, err instanceof Error ? err.message : String(err));
    }
  };

  // Iterative post-order walk: imported networks can be hundreds of nodes deep.
  const visit = (root: string): void => {
    const stack: { name: string; expanded: boolean }[] = [{ name: root, expanded: false }];
    const onPath = new Set<string>();
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (done.has(top.name)) {
        stack.pop();
        continue;
      }
      const node = g.nodes.get(top.name);
      if (!node) throw new Error(`${g.source}: node '${top.name}' is referenced but not defined`);
      if (!top.expanded) {
        top.expanded = true;
        onPath.add(top.name);
        for (const r of dataInputs(node)) {
          if (onPath.has(r.node)) throw new TfImportError(node, 'the graph has a cycle');
          if (!done.has(r.node)) stack.push({ name: r.node, expanded: false });
        }
      } else {
        stack.pop();
        onPath.delete(top.name);
        done.set(top.name, convertNode(node));
      }
    }
  };

  const result: Record<string, Tensor> = {};
  for (const name of opts.outputs ?? g.outputs) {
    const ref = resolveOutput(g, name);
    visit(ref.node);
    const t = done.get(ref.node)?.[ref.index];
    if (!t) throw new Error(`${g.source}: node '${ref.node}' has no output ${ref.index}`);
    result[name] = t;
  }
  return result;
}

/**
 * Convert a TF.js graph and lower it to ONNX (opset 17) model bytes in one step.
 * @param name the ONNX graph's name
 */
export function tfjsToOnnx(g: TfjsGraph, opts: ConvertOptions = {}, name = 'tfjs-import'): LoweredGraph {
  return lower({ outputs: convertTfjsGraph(g, opts), name });
}
