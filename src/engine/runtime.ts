/**
 * Running lowered graphs in ONNX Runtime: session caching, threads, execution providers, and typed
 * feeds and fetches with checks that fail in TypeScript with a clear message, not inside the runtime.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { type DType, type TypedArray, dtypeOf, isFloat } from './dtype.js';
import { type GraphSpec, type LoweredGraph, type ValueSpec, lower } from './onnx.js';
import { sizeOf } from './tensor.js';

/** Where and how a program runs. */
export interface RuntimeOptions {
  /** Intra-op threads (default: all cores). */
  readonly threads?: number;
  /** 'cpu' (default), 'cuda' (fails if unavailable) or 'auto' (CUDA when this onnxruntime build has it). */
  readonly device?: 'cpu' | 'cuda' | 'auto';
  /** ONNX Runtime graph optimisation level (default 'all'). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Keep freed CPU buffers in ONNX Runtime's memory arena for reuse (default true). The arena saves
   * the page faults of fresh allocations on every run (MobileFaceNet training step, batch 16: about
   * 10% faster than without), but it grows in doubling chunks and never returns memory to the
   * system, so peak RSS can exceed what a run needs: training steps measured 5.6 GB against 4.5 GB
   * without (IResNet-18, batch 64) and 3.2 GB against 2.4 GB (MobileFaceNet, batch 32), though
   * sometimes the same (MobileFaceNet, batch 64: 4.3 GB). Set false where memory matters more than
   * speed.
   */
  readonly enableCpuMemArena?: boolean;
  /**
   * Plan every intermediate tensor of a run into one block laid out after the first run (default
   * false). The block is allocated whole, so on training graphs it raised peak RSS by a third to a
   * half (IResNet-18 step, batch 16: 3.6 GB against 2.2 GB; ArcFace head at 100k classes: 2.1 GB
   * against 1.5 GB) without making runs faster; it may help small inference graphs with many nodes.
   */
  readonly enableMemPattern?: boolean;
  /** Reject NaN or infinite values in float feeds (default true). */
  readonly checkFinite?: boolean;
}

function executionProviders(device: RuntimeOptions['device']): string[] {
  const available = ort.listSupportedBackends().map((b) => b.name);
  if (device === 'cuda') {
    if (!available.includes('cuda')) {
      throw new Error(
        `device 'cuda' requested but this onnxruntime-node build offers: ${available.join(', ')}`,
      );
    }
    return ['cuda', 'cpu'];
  }
  if (device === 'auto' && available.includes('cuda')) return ['cuda', 'cpu'];
  return ['cpu'];
}

const sessionCache = new Map<string, Promise<ort.InferenceSession>>();

async function session(bytes: Uint8Array, opts: RuntimeOptions): Promise<ort.InferenceSession> {
  const key = createHash('sha256').update(bytes).digest('hex') + JSON.stringify(opts);
  let s = sessionCache.get(key);
  if (!s) {
    s = ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: opts.optimization ?? 'all',
      enableCpuMemArena: opts.enableCpuMemArena ?? true,
      enableMemPattern: opts.enableMemPattern ?? false,
      executionProviders: executionProviders(opts.device),
    });
    sessionCache.set(key, s);
    s.catch(() => sessionCache.delete(key));
  }
  return s;
}

/** Forget cached sessions (they are released when garbage-collected). */
export function clearSessionCache(): void {
  sessionCache.clear();
}

/** Feeds by input name. */
export type Feeds = Readonly<Record<string, TypedArray>>;

/** A compiled graph: call `run` with typed arrays, get typed arrays back. */
export class Program {
  private constructor(
    readonly graph: LoweredGraph,
    private readonly session: ort.InferenceSession,
    private readonly opts: RuntimeOptions,
  ) {}

  /** Lower a graph and create (or reuse) its ONNX Runtime session. */
  static async compile(spec: GraphSpec, opts: RuntimeOptions = {}): Promise<Program> {
    const graph = lower(spec);
    return new Program(graph, await session(graph.bytes, opts), opts);
  }

  /** The graph inputs still to be fed. */
  get inputs(): readonly ValueSpec[] {
    return this.graph.inputs;
  }

  get outputs(): readonly ValueSpec[] {
    return this.graph.outputs;
  }

  /**
   * Run the graph.
   * @param feeds one typed array per input, row-major, length = product of the input's shape
   * @param fetch output names to return (default: all)
   */
  async run(feeds: Feeds, fetch?: readonly string[]): Promise<Record<string, TypedArray>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    const known = new Set(this.graph.inputs.map((v) => v.name));
    for (const name of Object.keys(feeds)) {
      if (!known.has(name))
        throw new Error(`run: unknown input '${name}' (inputs: ${[...known].join(', ')})`);
    }
    for (const v of this.graph.inputs) {
      const data = feeds[v.name];
      if (!data) throw new Error(`run: missing input '${v.name}' (${v.dtype}[${v.shape.join(',')}])`);
      checkFeed(v, data, this.opts.checkFinite ?? true);
      ortFeeds[v.name] = new ort.Tensor(v.dtype, data, [...v.shape]);
    }
    const names = fetch ?? this.graph.outputs.map((o) => o.name);
    const result = await this.session.run(ortFeeds, [...names]);
    const out: Record<string, TypedArray> = {};
    for (const n of names) out[n] = result[n].data as TypedArray;
    return out;
  }
}

function checkFeed(v: ValueSpec, data: TypedArray, checkFinite: boolean): void {
  const want = sizeOf(v.shape);
  const got: DType = dtypeOf(data);
  if (got !== v.dtype) throw new Error(`run: input '${v.name}' wants ${v.dtype}, got ${got}`);
  if (data.length !== want) {
    throw new Error(
      `run: input '${v.name}' wants ${want} values for shape [${v.shape.join(',')}], got ${data.length}`,
    );
  }
  if (checkFinite && isFloat(got)) {
    const a = data as Float32Array;
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i]))
        throw new Error(`run: input '${v.name}' has a non-finite value (${a[i]}) at index ${i}`);
    }
  }
}

/** Compile and run once: convenient for tests and one-off evaluation. */
export async function evaluate(
  outputs: GraphSpec['outputs'],
  feeds: Feeds = {},
  opts: RuntimeOptions = {},
): Promise<Record<string, TypedArray>> {
  const p = await Program.compile({ outputs }, opts);
  return p.run(feeds);
}
