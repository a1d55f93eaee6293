/**
 * Running lowered graphs in ONNX Runtime: session caching, threads, execution providers, and typed
 * feeds and fetches with checks that fail in TypeScript with a clear message, not inside the runtime.
 */
import { createHash } from 'node:crypto';
import { type DType, type TypedArray, dtypeOf, isFloat } from './dtype.js';
import { type GraphSpec, type LoweredGraph, type ValueSpec, lower } from './onnx.js';
import { Session, SessionDisposedError, type SessionFeed, type SessionOptions } from './session.js';
import { sizeOf } from './tensor.js';

/** Where and how a program runs: the session's options (session.ts), with the engine's own defaults. */
export interface RuntimeOptions extends SessionOptions {
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

/**
 * One cached session and the programs using it. Programs compiled from the same bytes and options share
 * a session; the last one disposed releases it and takes it out of the cache.
 */
interface CacheEntry {
  readonly key: string;
  readonly session: Promise<Session>;
  users: number;
}

const sessionCache = new Map<string, CacheEntry>();

function acquire(bytes: Uint8Array, opts: RuntimeOptions): CacheEntry {
  const key = createHash('sha256').update(bytes).digest('hex') + JSON.stringify(opts);
  let entry = sessionCache.get(key);
  if (!entry) {
    const session = Session.create(
      bytes,
      {
        ...opts,
        enableCpuMemArena: opts.enableCpuMemArena ?? true,
        enableMemPattern: opts.enableMemPattern ?? false,
      },
      'engine graph',
    );
    const created: CacheEntry = { key, session, users: 0 };
    session.catch(() => {
      if (sessionCache.get(key) === created) sessionCache.delete(key);
    });
    sessionCache.set(key, created);
    entry = created;
  }
  entry.users++;
  return entry;
}

async function releaseEntry(entry: CacheEntry): Promise<void> {
  entry.users--;
  if (entry.users > 0) return;
  if (sessionCache.get(entry.key) === entry) sessionCache.delete(entry.key);
  await (await entry.session).dispose();
}

/**
 * Forget cached sessions, so the next compile creates fresh ones. Sessions still held by a program stay
 * open until that program's `dispose()`.
 */
export function clearSessionCache(): void {
  sessionCache.clear();
}

/** How many sessions the cache holds (for tests and diagnostics). */
export function cachedSessionCount(): number {
  return sessionCache.size;
}

/** Feeds by input name. */
export type Feeds = Readonly<Record<string, TypedArray>>;

/** A compiled graph: call `run` with typed arrays, get typed arrays back. */
export class Program {
  private released = false;

  private constructor(
    readonly graph: LoweredGraph,
    private readonly session: Session,
    private readonly entry: CacheEntry,
    private readonly opts: RuntimeOptions,
  ) {}

  /** Lower a graph and create (or reuse) its ONNX Runtime session. */
  static async compile(spec: GraphSpec, opts: RuntimeOptions = {}): Promise<Program> {
    const graph = lower(spec);
    const entry = acquire(graph.bytes, opts);
    let session: Session;
    try {
      session = await entry.session;
    } catch (err) {
      entry.users--;
      throw err;
    }
    return new Program(graph, session, entry, opts);
  }

  /** True once `dispose()` has been called. */
  get disposed(): boolean {
    return this.released;
  }

  /**
   * Stop using the session. The session is released when no other program compiled from the same graph
   * and options holds it. A second call does nothing.
   */
  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await releaseEntry(this.entry);
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
    if (this.released) throw new SessionDisposedError('run: this program was disposed');
    const sessionFeeds: Record<string, SessionFeed> = {};
    const known = new Set(this.graph.inputs.map((v) => v.name));
    for (const name of Object.keys(feeds)) {
      if (!known.has(name))
        throw new Error(`run: unknown input '${name}' (inputs: ${[...known].join(', ')})`);
    }
    for (const v of this.graph.inputs) {
      const data = feeds[v.name];
      if (!data) throw new Error(`run: missing input '${v.name}' (${v.dtype}[${v.shape.join(',')}])`);
      checkFeed(v, data, this.opts.checkFinite ?? true);
      sessionFeeds[v.name] = { type: v.dtype, data, dims: v.shape };
    }
    const names = fetch ?? this.graph.outputs.map((o) => o.name);
    const result = await this.session.run(sessionFeeds, names);
    const out: Record<string, TypedArray> = {};
    for (const n of names) out[n] = result[n].data;
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
