/**
 * The one place ONNX Runtime sessions are created: threads, thread spinning, execution provider, graph
 * optimisation, memory arena, logging, and a release that may be called any number of times. The engine's
 * programs and every face model (imported graphs and users' ONNX files) open their sessions here.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { type DType, type TypedArray, dtypeOf } from './dtype.js';

/** How a session runs. Every field is optional; the defaults are ONNX Runtime's except where noted. */
export interface SessionOptions {
  /** Intra-op threads (default: all cores). */
  readonly threads?: number;
  /** 'cpu' (default), 'cuda' (fails if unavailable) or 'auto' (CUDA when this onnxruntime build has it). */
  readonly device?: 'cpu' | 'cuda' | 'auto';
  /** ONNX Runtime graph optimisation level (default 'all'). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Keep freed CPU buffers in ONNX Runtime's arena for reuse (ONNX Runtime's default: true). */
  readonly enableCpuMemArena?: boolean;
  /** Plan intermediate tensors into one block after the first run (ONNX Runtime's default: true). */
  readonly enableMemPattern?: boolean;
  /**
   * Let idle intra-op threads spin waiting for work (ONNX Runtime's default: true). Turn it off where two
   * sessions run in turn on the same cores, as a face pipeline's detector and recogniser do: each one's
   * spinning threads take the cores the other needs (2.6-2.7x slower per face on 2 cores, bench/face.ts).
   */
  readonly spinning?: boolean;
  /** Lowest severity ONNX Runtime logs (default 'warning'). */
  readonly logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /**
   * Record ONNX Runtime's profile (kernel time per node) to a JSON file whose name starts with this path,
   * written by {@link Session.endProfiling} (bench --profile).
   */
  readonly profilePrefix?: string;
}

/** A tensor fed to or fetched from a session: row-major data and its shape. */
export interface SessionTensor {
  readonly data: TypedArray;
  readonly dims: readonly number[];
}

/** A fed tensor; `type` is needed only where the array does not say it (a Uint8Array of 'bool'). */
export interface SessionFeed extends SessionTensor {
  readonly type?: DType;
}

/** A fetched tensor: also says its element type as ONNX Runtime names it (e.g. 'float32'). */
export interface SessionOutput extends SessionTensor {
  readonly type: string;
}

/** Thrown when a released session is run. */
export class SessionDisposedError extends Error {
  override readonly name = 'SessionDisposedError';
}

const LOG_LEVEL = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;

/** The execution providers for a device, checked against what this onnxruntime-node build offers. */
export function executionProviders(device: SessionOptions['device']): string[] {
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

function ortOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionProviders: executionProviders(opts.device),
  };
  // Unset fields are left out, not written as ONNX Runtime's defaults, so its own defaults stay in force.
  return {
    ...o,
    ...(opts.enableCpuMemArena === undefined ? {} : { enableCpuMemArena: opts.enableCpuMemArena }),
    ...(opts.enableMemPattern === undefined ? {} : { enableMemPattern: opts.enableMemPattern }),
    ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    ...(opts.logLevel === undefined ? {} : { logSeverityLevel: LOG_LEVEL[opts.logLevel] }),
    ...(opts.profilePrefix === undefined
      ? {}
      : { enableProfiling: true, profileFilePrefix: opts.profilePrefix }),
  };
}

/** An open ONNX Runtime session. `dispose()` releases it; a second `dispose()` does nothing. */
export class Session {
  private released: Promise<void> | null = null;

  private constructor(
    private readonly inner: ort.InferenceSession,
    /** Names the session in errors (a file path or model spec). */
    readonly label: string,
  ) {}

  /**
   * Open a session on ONNX model bytes.
   * @param label names the model in errors (a path or spec)
   * @throws an Error naming `label` when ONNX Runtime rejects the bytes or the options (ONNX Runtime's
   *   error is its `cause`)
   */
  static async create(bytes: Uint8Array, opts: SessionOptions = {}, label = 'model'): Promise<Session> {
    const options = ortOptions(opts);
    let inner: ort.InferenceSession;
    try {
      inner = await ort.InferenceSession.create(bytes, options);
    } catch (err) {
      throw new Error(
        `${label}: ONNX Runtime cannot create a session (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
    return new Session(inner, label);
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /** Shape of each tensor input by name; a string or negative entry is a dynamic dimension. */
  get inputShapes(): ReadonlyMap<string, readonly (number | string)[]> {
    const shapes = new Map<string, readonly (number | string)[]>();
    for (const meta of this.inner.inputMetadata) {
      if (meta.isTensor) shapes.set(meta.name, meta.shape);
    }
    return shapes;
  }

  /** True once `dispose()` has been called. */
  get disposed(): boolean {
    return this.released !== null;
  }

  /**
   * Run the model. Feeds are not checked here (the engine's `Program.run` checks its own).
   * @param fetch output names to return (default: all)
   * @throws {@link SessionDisposedError} after `dispose()`
   */
  async run(
    feeds: Readonly<Record<string, SessionFeed>>,
    fetch?: readonly string[],
  ): Promise<Record<string, SessionOutput>> {
    if (this.released) throw new SessionDisposedError(`${this.label}: the session was disposed`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(t.type ?? dtypeOf(t.data), t.data, [...t.dims]);
    }
    const result = fetch ? await this.inner.run(ortFeeds, [...fetch]) : await this.inner.run(ortFeeds);
    const out: Record<string, SessionOutput> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { data: t.data as TypedArray, dims: t.dims, type: t.type };
    }
    return out;
  }

  /** Stop profiling and write the profile file (sessions opened with `profilePrefix`). */
  endProfiling(): void {
    if (this.released) throw new SessionDisposedError(`${this.label}: the session was disposed`);
    this.inner.endProfiling();
  }

  /** Release the native session. Safe to call again, or concurrently: the release happens once. */
  dispose(): Promise<void> {
    this.released ??= this.inner.release();
    return this.released;
  }
}
