/** Reverse-mode automatic differentiation over the symbolic graph. */
import { isFloat } from './dtype.js';
import type { OpNode } from './op.js';
import type { Tensor } from './tensor.js';
import { add } from './ops/elementwise.js';
import { fill } from './ops/shape.js';

/** Nodes reachable backwards from `roots`, in creation order. */
function collectNodes(roots: readonly Tensor[]): OpNode[] {
  const seen = new Set<OpNode>();
  const order: OpNode[] = [];
  const stack = [...roots];
  while (stack.length) {
    const t = stack.pop()!;
    if (t.source.kind !== 'op') continue;
    const node = t.source.node;
    if (seen.has(node)) continue;
    seen.add(node);
    order.push(node);
    stack.push(...node.inputs);
  }
  // Tensor ids grow with creation, so a node's inputs always have smaller ids than its outputs.
  return order.sort((a, b) => a.outputs[0].id - b.outputs[0].id);
}

/**
 * Gradients of `y` with respect to each tensor in `wrt`, as new symbolic tensors.
 * @param y the value to differentiate (usually a scalar loss)
 * @param wrt inputs or intermediate tensors, float dtype
 * @param dy seed gradient with y's shape (default: ones)
 * @returns one gradient per `wrt` entry, same shape; zeros where y does not depend on it
 */
export function grad(y: Tensor, wrt: readonly Tensor[], dy?: Tensor): Tensor[] {
  for (const w of wrt) {
    if (!isFloat(w.dtype)) throw new Error(`grad: cannot differentiate with respect to ${w} (not float)`);
  }
  const nodes = collectNodes([y]);
  // Which tensors depend on some wrt tensor: only those need gradients.
  const depends = new Set<number>(wrt.map((w) => w.id));
  for (const n of nodes) {
    if (n.inputs.some((t) => depends.has(t.id)))
      n.outputs.forEach((o) => isFloat(o.dtype) && depends.add(o.id));
  }
  const grads = new Map<number, Tensor>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    const prev = grads.get(t.id);
    grads.set(t.id, prev ? add(prev, g) : g);
  };
  if (depends.has(y.id)) accumulate(y, dy ?? fill(y.shape, 1, y.dtype));
  const wanted = new Set(wrt.map((w) => w.id));

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (dys.every((g) => g === null)) continue;
    const needs = node.inputs.map((t) => depends.has(t.id) && isFloat(t.dtype));
    if (!needs.some(Boolean)) continue;
    if (!node.op.vjp) {
      if (node.op.name === 'StopGradient') continue;
      throw new Error(`grad: op ${node.op.name} has no gradient rule (inputs ${node.inputs.join(', ')})`);
    }
    const dxs = node.op.vjp(node, dys, needs);
    node.inputs.forEach((t, k) => {
      const g = dxs[k];
      if (g && needs[k]) accumulate(t, g);
    });
    // Free intermediate gradients that are not requested: later nodes never read them again.
    node.outputs.forEach((o) => {
      if (!wanted.has(o.id)) grads.delete(o.id);
    });
  }
  return wrt.map((w) => grads.get(w.id) ?? fill(w.shape, 0, w.dtype));
}
