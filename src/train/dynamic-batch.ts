/**
 * A dynamic batch dimension for a graph the engine lowered with static shapes. The engine knows
 * only static shapes, so the same graph is lowered at two batch sizes and compared: everything must
 * be equal except shape constants that scale with the batch. Those are rewritten (a Reshape target
 * with one batch-scaled entry gets -1, which ONNX infers), and the graph's first input and output
 * dimension becomes the symbolic `batch`. Anything else that depends on the batch is refused, so a
 * model that claims any batch size really runs at any batch size.
 */
import type { onnx } from 'onnx-proto';
// onnx-proto is CommonJS: Node's ESM loader sees only its default export.
import onnxProto from 'onnx-proto';

const proto: typeof onnx = onnxProto.onnx;

/** Name of the symbolic batch dimension in the exported graph. */
export const BATCH_DIM = 'batch';

const INT64 = proto.TensorProto.DataType.INT64;

function int64Values(t: onnx.ITensorProto): bigint[] {
  const raw = t.rawData ?? new Uint8Array();
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 8 }, (_, i) => view.getBigInt64(i * 8, true));
}

function int64Tensor(name: string, values: readonly bigint[]): onnx.ITensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return { name, dataType: INT64, dims: [values.length], rawData: raw };
}

const sameBytes = (a?: Uint8Array | null, b?: Uint8Array | null): boolean =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((v, i) => v === b![i]);

const attrsKey = (n: onnx.INodeProto): string =>
  JSON.stringify(
    (n.attribute ?? []).map((a) => ({ ...a, t: a.t ? { ...a.t, rawData: [...(a.t.rawData ?? [])] } : null })),
  );

/**
 * Merge two lowerings of one graph (batch sizes `batchA` < `batchB`, both > 1) into one model whose
 * batch dimension is symbolic.
 * @returns the model bytes of lowering A with its batch-dependent shape constants rewritten
 * @throws Error naming the node when something other than a Reshape target depends on the batch
 */
export function mergeBatchLowerings(
  bytesA: Uint8Array,
  bytesB: Uint8Array,
  batchA: number,
  batchB: number,
): Uint8Array {
  const a = proto.ModelProto.decode(bytesA);
  const b = proto.ModelProto.decode(bytesB);
  // Decoded messages are class instances: their repeated fields are always arrays.
  const ga = a.graph as onnx.GraphProto;
  const gb = b.graph as onnx.GraphProto;
  const nodesA = ga.node as onnx.NodeProto[];
  const nodesB = gb.node as onnx.NodeProto[];
  const fail = (why: string): never => {
    throw new Error(
      `export: cannot give the model a dynamic batch dimension: ${why}; export with a fixed batch`,
    );
  };
  if (nodesA.length !== nodesB.length) fail('the graph changes with the batch size');
  const initA = new Map(ga.initializer.map((t) => [t.name ?? '', t]));
  const initB = new Map(gb.initializer.map((t) => [t.name ?? '', t]));
  const added: onnx.ITensorProto[] = [];
  nodesA.forEach((na, i) => {
    const nb = nodesB[i];
    const where = `node ${na.name} (${na.opType})`;
    if (na.opType !== nb.opType || na.input.length !== nb.input.length) fail(`${where} differs`);
    if (attrsKey(na) !== attrsKey(nb)) fail(`${where} has attributes that depend on the batch`);
    na.input.forEach((name, j) => {
      const ta = initA.get(name);
      const tb = initB.get(nb.input[j]);
      if (!ta || !tb) {
        if (ta || tb) fail(`${where}: input ${j} is a constant in one lowering only`);
        return;
      }
      const sameDims = (ta.dims ?? []).join(',') === (tb.dims ?? []).join(',');
      if (sameDims && ta.dataType === tb.dataType && sameBytes(ta.rawData, tb.rawData)) return;
      if (!sameDims || ta.dataType !== INT64) fail(`${where}: constant input ${j} depends on the batch`);
      const va = int64Values(ta);
      const vb = int64Values(tb);
      const moved = va.flatMap((v, k) => (v === vb[k] ? [] : [k]));
      const linear = moved.every(
        (k) => va[k] % BigInt(batchA) === 0n && (va[k] / BigInt(batchA)) * BigInt(batchB) === vb[k],
      );
      if (na.opType !== 'Reshape' || j !== 1 || moved.length !== 1 || !linear || va.includes(-1n)) {
        fail(`${where}: shape [${va.join(', ')}] depends on the batch in a way it cannot express`);
      }
      const values = va.map((v, k) => (k === moved[0] ? -1n : v));
      const fresh = `${name}_batch${i}`;
      added.push(int64Tensor(fresh, values));
      na.input[j] = fresh;
    });
  });
  // Drop the constants the rewrite left unused (ONNX Runtime warns about each).
  const used = new Set(nodesA.flatMap((n) => n.input));
  ga.initializer = [...ga.initializer, ...added].filter((t) => used.has(t.name ?? ''));
  for (const [list, what] of [
    [ga.input as onnx.ValueInfoProto[], 'input'],
    [ga.output as onnx.ValueInfoProto[], 'output'],
  ] as const) {
    for (const v of list) {
      const dims = v.type?.tensorType?.shape?.dim ?? [];
      if (Number(dims[0]?.dimValue) !== batchA) fail(`${what} '${v.name}' does not start with the batch`);
      dims[0] = { dimParam: BATCH_DIM };
    }
  }
  return proto.ModelProto.encode(a).finish();
}
