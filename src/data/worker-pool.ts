/**
 * A few worker threads that decode and assemble batches, so `session.run` blocking the main thread
 * never stalls image decoding. Works from the TypeScript sources (under tsx or vitest, by
 * registering tsx inside the worker) and from compiled JavaScript.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BatchRequest, FailedSample, PreparedBatch, SampleCache } from './batch-prepare.js';
import type { SampleSpec } from './image-sample.js';

/** What every worker is started with (the cache's SharedArrayBuffers are shared, not copied). */
export interface WorkerInit {
  readonly spec: SampleSpec;
  readonly cache: SampleCache | null;
}

export type WorkerRequest =
  | { readonly id: number; readonly kind: 'batch'; readonly request: BatchRequest }
  | { readonly id: number; readonly kind: 'fill'; readonly rows: readonly { path: string; slot: number }[] };

export type WorkerReply =
  | { readonly id: number; readonly batch: PreparedBatch }
  | { readonly id: number; readonly failed: FailedSample[] }
  | { readonly id: number; readonly error: string };

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(err: Error): void;
}

/** The worker's source, and how to load it from whatever this module is running as. */
function workerBootstrap(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './batch-worker.ts' : './batch-worker.js', import.meta.url).href;
  if (!fromSource) return `import(${JSON.stringify(entry)});`;
  // A worker does not inherit the parent's tsx loader: register it in the worker before importing.
  const tsx = tsxApiUrl();
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

/** tsx's ESM API (its CommonJS build cannot register the ESM loader from a worker). */
function tsxApiUrl(): string {
  // vitest's module runner may leave import.meta.resolve undefined; the require path is then mapped.
  if (typeof import.meta.resolve === 'function') return import.meta.resolve('tsx/esm/api');
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
}

/** A fixed pool of batch workers; requests go round-robin and are answered in any order. */
export class WorkerPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private readonly busy: number[];
  private nextId = 0;
  private turn = 0;
  private failure: Error | null = null;
  private closed = false;

  /**
   * @param count number of worker threads (at least 1)
   */
  constructor(count: number, init: WorkerInit) {
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`WorkerPool: count must be >= 1, got ${count}`);
    const code = workerBootstrap();
    this.busy = new Array<number>(count).fill(0);
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(code, { eval: true, workerData: init });
      worker.on('message', (reply: WorkerReply) => this.settle(worker, reply));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => {
        // After close() every worker exits with code 1; fail() would unref the ones still stopping.
        if (code !== 0 && !this.closed) this.fail(new Error(`batch worker exited with code ${code}`));
      });
      // An idle pool must not keep the process alive; it is re-referenced while requests are out.
      worker.unref();
      return worker;
    });
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /** Prepare one batch in a worker. */
  async batch(request: BatchRequest): Promise<PreparedBatch> {
    const reply = await this.send({ id: 0, kind: 'batch', request });
    if (!('batch' in reply)) throw new Error('batch worker: unexpected reply');
    return reply.batch;
  }

  /** Decode files into the shared cache in a worker; resolves to the files that failed. */
  async fill(rows: readonly { path: string; slot: number }[]): Promise<FailedSample[]> {
    const reply = await this.send({ id: 0, kind: 'fill', rows });
    if (!('failed' in reply)) throw new Error('batch worker: unexpected reply');
    return reply.failed;
  }

  /** Stop every worker. */
  async close(): Promise<void> {
    this.closed = true;
    this.fail(new Error('worker pool closed'));
    // terminate() settles on the thread's exit, which an unref'd worker does not wait for: without
    // ref() a top-level `await close()` could leave node with an empty loop (exit code 13).
    await Promise.all(
      this.workers.map((w) => {
        w.ref();
        return w.terminate();
      }),
    );
  }

  private send(msg: WorkerRequest): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    const index = this.turn++ % this.workers.length;
    const worker = this.workers[index];
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (reply) => {
          if ('error' in reply) reject(new Error(`batch worker: ${reply.error}`));
          else resolve(reply);
        },
        reject,
      });
      if (this.busy[index]++ === 0) worker.ref();
      worker.postMessage({ ...msg, id });
    });
  }

  private settle(worker: Worker, reply: WorkerReply): void {
    const index = this.workers.indexOf(worker);
    if (--this.busy[index] === 0) worker.unref();
    const p = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    p?.resolve(reply);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.busy.fill(0);
    for (const w of this.workers) w.unref();
  }
}
