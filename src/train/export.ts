/**
 * Export a trained backbone as a standalone inference .onnx: eval-mode BatchNorm, every tensor baked
 * in as an initializer, optionally with each BatchNorm that directly follows a conv or linear layer
 * folded into that layer's weights and bias (fewer nodes, same embeddings up to rounding).
 */
import * as E from '../engine/index.js';
import type { Module, ParamStore } from '../nn/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { loadCheckpoint } from './checkpoint.js';
import { mergeBatchLowerings } from './dynamic-batch.js';
import { buildArchitecture } from './model.js';

export interface ExportOptions {
  /** Fold BatchNorm into the preceding conv / linear layer (default true). */
  readonly foldBatchNorm?: boolean;
  /**
   * Batch size of the exported graph: 'dynamic' (default) takes any batch size (the first input and
   * output dimension is the symbolic `batch`), a number fixes it.
   */
  readonly batch?: number | 'dynamic';
  /** Graph input name (default 'input'). */
  readonly inputName?: string;
  /** Graph output name (default 'embedding'). */
  readonly outputName?: string;
}

/** What export needs: an architecture and its values. */
export interface ExportSource {
  readonly backbone: Module;
  /** Backbone parameters (extra names, e.g. the head's, are ignored). */
  readonly params: ParamStore;
  readonly buffers: ParamStore;
  /** One sample's shape, e.g. [3, 112, 112]. */
  readonly sampleShape: readonly number[];
}

/** The exported model's bytes and interface. */
export interface ExportedModel {
  readonly bytes: Uint8Array;
  /** The graph input; shape[0] is -1 when the batch is dynamic. */
  readonly input: E.ValueSpec;
  /** The graph output; shape[0] is -1 when the batch is dynamic. */
  readonly output: E.ValueSpec;
  readonly nodeCount: number;
  /** BatchNorm modules folded away. */
  readonly folded: readonly string[];
}

const dotted = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

/**
 * Per-channel fold of y = BN(W x + b): W' = W * g, b' = (b - mean) * g + beta, g = gamma / sqrt(var + eps).
 * Computed in float64 and rounded once.
 */
function foldInto(
  src: ExportSource,
  layer: string,
  bn: string,
  eps: number,
  values: Map<string, Float32Array>,
): void {
  const w = src.params.get(`${layer}.weight`);
  const out = w.shape[0];
  const per = w.data.length / out;
  const mean = src.buffers.get(`${bn}.running_mean`).data;
  const variance = src.buffers.get(`${bn}.running_var`).data;
  const gamma = src.params.has(`${bn}.weight`) ? src.params.get(`${bn}.weight`).data : undefined;
  const beta = src.params.has(`${bn}.bias`) ? src.params.get(`${bn}.bias`).data : undefined;
  const bias = src.params.has(`${layer}.bias`) ? src.params.get(`${layer}.bias`).data : undefined;
  if (mean.length !== out)
    throw new Error(`export: cannot fold ${bn} (${mean.length} channels) into ${layer} (${out})`);
  const nw = new Float32Array(w.data.length);
  const nb = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    const g = (gamma ? gamma[o] : 1) / Math.sqrt(variance[o] + eps);
    for (let i = 0; i < per; i++) nw[o * per + i] = w.data[o * per + i] * g;
    nb[o] = ((bias ? bias[o] : 0) - mean[o]) * g + (beta ? beta[o] : 0);
  }
  values.set(`${layer}.weight`, nw);
  values.set(`${layer}.bias`, nb);
}

/** Lower a backbone at one static batch size. */
function lowerAt(src: ExportSource, opts: ExportOptions, batch: number): ExportedModel {
  const values = new Map<string, Float32Array>();
  const tensors = new Map<string, E.Tensor>();
  const folded = new Set<string>();
  if (opts.foldBatchNorm ?? true) {
    const modules = new Map(src.backbone.namedModules());
    for (const [path, m] of modules) {
      for (const [a, b] of m.foldPairs()) {
        const layer = dotted(path, a);
        const bn = dotted(path, b);
        const bnModule = modules.get(bn) as (Module & { eps?: number }) | undefined;
        foldInto(src, layer, bn, bnModule?.eps ?? 1e-5, values);
        const outCh = src.params.get(`${layer}.weight`).shape[0];
        tensors.set(`${layer}.bias`, E.input(`${layer}.bias`, [outCh]));
        folded.add(bn);
      }
    }
  }
  const x = E.input(opts.inputName ?? 'input', [batch, ...src.sampleShape]);
  const fw = src.backbone.forward(x, 'eval', { tensors, folded });
  const initializers = new Map<string, E.TypedArray>();
  for (const name of [...fw.params.keys(), ...fw.buffers.keys()]) {
    const v = values.get(name) ?? (src.params.has(name) ? src.params : src.buffers).get(name).data;
    initializers.set(name, v);
  }
  const outName = opts.outputName ?? 'embedding';
  const g = E.lower({ outputs: { [outName]: fw.y }, initializers, name: 'arcface-ts backbone' });
  if (g.inputs.length !== 1) {
    throw new Error(`export: the graph still has inputs ${g.inputs.map((v) => v.name).join(', ')}`);
  }
  return {
    bytes: g.bytes,
    input: g.inputs[0],
    output: g.outputs[0],
    nodeCount: g.nodeCount,
    folded: [...folded],
  };
}

/** Lower a backbone to a standalone ONNX model (opset 17), by default with a dynamic batch dimension. */
export function exportModel(src: ExportSource, opts: ExportOptions = {}): ExportedModel {
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic') {
    if (!(Number.isInteger(batch) && batch > 0))
      throw new Error(`export: batch must be a positive integer or 'dynamic', got ${batch}`);
    return lowerAt(src, opts, batch);
  }
  // Two batch sizes no layer width is likely to equal, so every batch-scaled constant shows.
  const [ba, bb] = [7, 11];
  const a = lowerAt(src, opts, ba);
  const b = lowerAt(src, opts, bb);
  const dyn = (v: E.ValueSpec): E.ValueSpec => ({ ...v, shape: [-1, ...v.shape.slice(1)] });
  return {
    ...a,
    bytes: mergeBatchLowerings(a.bytes, b.bytes, ba, bb),
    input: dyn(a.input),
    output: dyn(a.output),
  };
}

/**
 * Export a checkpoint file's backbone to an .onnx file (written atomically). A checkpoint holding
 * NaN or infinite values is refused.
 */
export async function exportCheckpoint(
  checkpointPath: string,
  onnxPath: string,
  opts: ExportOptions = {},
): Promise<ExportedModel> {
  const ck = await loadCheckpoint(checkpointPath);
  for (const [group, store] of [
    ['parameter', ck.params],
    ['BatchNorm statistic', ck.buffers],
  ] as const) {
    const bad = store.firstNonFinite();
    if (bad) {
      throw new Error(
        `export: ${checkpointPath} holds non-finite values (${group} '${bad}'); it is not a good checkpoint`,
      );
    }
  }
  const { backbone } = buildArchitecture(ck.config, ck.meta.sampleShape, ck.meta.numClasses);
  const exported = exportModel(
    { backbone, params: ck.params, buffers: ck.buffers, sampleShape: ck.meta.sampleShape },
    opts,
  );
  await writeFileAtomic(onnxPath, exported.bytes);
  return exported;
}
