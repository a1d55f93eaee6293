/**
 * A few worker threads that decode and assemble batches, so `session.run` blocking the main thread
 * never stalls image decoding. Works from the TypeScript sources (under tsx or vitest, by
 * registering tsx inside the worker) and from compiled JavaScript.
 */
import { workerBootstrap } from '../util/worker-bootstrap.js';
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
    const code = workerBootstrap(import.meta.url, 'batch-worker');
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
