/**
 * Inference off the event loop: a fixed pool of worker threads, each with its own face pipeline, fed from one
 * bounded queue. `session.run` blocks the thread it runs on, so inference in the main thread would stall every
 * other request (health checks included). A full queue is refused at once (503 + Retry-After) rather than
 * letting latency grow without bound; `drain` lets in-flight work finish for a graceful shutdown.
 *
 * The worker file is resolved like src/data/worker-pool.ts does: from TypeScript sources (tsx registered inside
 * the worker) in development and tests, from the built JavaScript in dist/.
 */
import { workerBootstrap } from '../util/worker-bootstrap.js';
import { Worker } from 'node:worker_threads';
import type { Detection, FaceEmbedding } from '../face/pipeline.js';
import type {
  InferenceOp,
  InferenceRequest,
  InferenceResult,
  ModelInfo,
  WorkerError,
  WorkerMessage,
  WorkerPipelineOptions,
} from './inference-protocol.js';
import { ProblemError } from './problems.js';

export interface InferencePoolOptions {
  /** Worker threads (each holds its own ONNX Runtime sessions). */
  readonly size: number;
  /** Requests allowed to wait for a free worker; beyond that `run` refuses with 503. */
  readonly maxQueue: number;
  /** Per-job limit in ms, queueing included (504 past it); 0 = none. */
  readonly timeoutMs: number;
  readonly pipeline: WorkerPipelineOptions;
}

/**
 * What became of a job: `done` / `failed` (ran, answered with a result or an error), `dropped` (taken off the
 * queue before it ran: its request timed out or its client went away), `abandoned` (it ran, but its request had
 * timed out or gone by the time it finished, so the result was thrown away).
 */
export type JobOutcome = 'done' | 'failed' | 'dropped' | 'abandoned';

interface Job {
  readonly id: number;
  readonly op: InferenceOp;
  readonly image: Uint8Array;
  readonly resolve: (r: InferenceResult) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

/** Turns a worker-side error into the problem the client sees. */
function toProblem(e: WorkerError): Error {
  if (e.name === 'ImageError') {
    return e.code === 'too-large'
      ? new ProblemError('image-too-large', e.message)
      : new ProblemError('invalid-image', e.message, { reason: e.code });
  }
  if (e.name === 'NoFaceError') return new ProblemError('no-face', 'no face was found in the image');
  return new Error(`inference worker: ${e.name}: ${e.message}`);
}

/** The rejection of a job whose client went away (nobody reads it; it names the case in logs and metrics). */
function clientClosed(): ProblemError {
  return new ProblemError('client-closed', 'the client closed the connection before inference');
}

/** A pool of inference workers with a bounded queue. */
export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  private modelInfo: ModelInfo | null = null;
  private readonly code = workerBootstrap(import.meta.url, 'inference-worker');
  private readonly outcomes: Record<JobOutcome, number> = { done: 0, failed: 0, dropped: 0, abandoned: 0 };

  private constructor(private readonly opts: InferencePoolOptions) {}

  /**
   * Start `size` workers and wait until each has loaded its models.
   * @throws when a worker cannot load its models (the message names the model)
   */
  static async start(opts: InferencePoolOptions): Promise<InferencePool> {
    if (!Number.isInteger(opts.size) || opts.size < 1) {
      throw new Error(`inference pool size must be an integer >= 1, got ${opts.size}`);
    }
    if (!Number.isInteger(opts.maxQueue) || opts.maxQueue < 0) {
      throw new Error(`inference queue length must be an integer >= 0, got ${opts.maxQueue}`);
    }
    const pool = new InferencePool(opts);
    try {
      await Promise.all(Array.from({ length: opts.size }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** The models every worker runs. */
  get models(): ModelInfo {
    if (!this.modelInfo) throw new Error('inference pool is not started');
    return this.modelInfo;
  }

  get size(): number {
    return this.opts.size;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Jobs running in a worker. */
  get running(): number {
    return this.slots.filter((s) => s.job !== null).length;
  }

  /** Jobs by outcome since the pool started (a copy). */
  get jobCounts(): Readonly<Record<JobOutcome, number>> {
    return { ...this.outcomes };
  }

  /** True until `close` (and while every worker is alive). */
  get ready(): boolean {
    return !this.closed && this.slots.length === this.opts.size;
  }

  /**
   * Detect faces in an encoded image.
   * @param signal aborted when the answer is no longer wanted (the client went away): a job still queued then is
   *   dropped without running; a running one cannot be interrupted, its result is thrown away.
   * @throws ProblemError overloaded (503) when the queue is full, timeout (504), invalid-image / image-too-large,
   *   client-closed when `signal` aborts first
   */
  async detect(image: Uint8Array, signal?: AbortSignal): Promise<Detection> {
    const r = await this.run('detect', image, signal);
    if (r.op !== 'detect') throw new Error('inference worker: unexpected reply');
    return r.detection;
  }

  /**
   * Embed the (largest) face of an encoded image.
   * @param signal as for {@link detect}
   * @throws ProblemError no-face (422) besides the errors of {@link detect}
   */
  async embed(image: Uint8Array, signal?: AbortSignal): Promise<FaceEmbedding> {
    const r = await this.run('embed', image, signal);
    if (r.op !== 'embed') throw new Error('inference worker: unexpected reply');
    return r.embedding;
  }

  /** Resolves when no job is queued or running. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stop every worker; queued and running jobs are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new ProblemError('shutting-down', 'the service is shutting down');
    for (const job of this.queue.splice(0)) this.settle(job, err);
    const slots = this.slots.splice(0);
    for (const s of slots) if (s.job) this.settle(s.job, err);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    this.notifyDrained();
  }

  private run(op: InferenceOp, image: Uint8Array, signal?: AbortSignal): Promise<InferenceResult> {
    if (this.closed) return Promise.reject(new ProblemError('shutting-down', 'the service is shutting down'));
    if (signal?.aborted) {
      this.outcomes.dropped++;
      return Promise.reject(clientClosed());
    }
    const idle = this.slots.find((s) => s.job === null);
    if (!idle && this.queue.length >= this.opts.maxQueue) {
      const retry = this.retryAfterSeconds();
      return Promise.reject(
        new ProblemError(
          'overloaded',
          `all ${this.opts.size} inference workers are busy and ${this.queue.length} requests are queued`,
          { retryAfterSeconds: retry },
          { 'retry-after': String(retry) },
        ),
      );
    }
    return new Promise<InferenceResult>((resolve, reject) => {
      const job: Job = { id: ++this.nextId, op, image, resolve, reject, settled: false };
      if (this.opts.timeoutMs > 0) {
        job.timer = setTimeout(
          () =>
            this.cancel(
              job,
              new ProblemError('timeout', `inference took longer than ${this.opts.timeoutMs} ms`),
            ),
          this.opts.timeoutMs,
        );
      }
      if (signal) {
        job.signal = signal;
        job.onAbort = () => this.cancel(job, clientClosed());
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (idle) this.dispatch(idle, job);
      else this.queue.push(job);
    });
  }

  /**
   * A job's request timed out or its client went away: a queued job leaves the queue without running; a running
   * one cannot be interrupted inside ONNX Runtime, so its result is thrown away when it arrives.
   */
  private cancel(job: Job, why: Error): void {
    if (job.settled) return;
    const at = this.queue.indexOf(job);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.outcomes.dropped++;
    }
    this.settle(job, why);
    this.notifyDrained();
  }

  /** A rough wait for a place in the queue, in whole seconds (at least 1). */
  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.queue.length / this.opts.size));
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.ref();
    const msg: InferenceRequest = { id: job.id, op: job.op, image: job.image };
    slot.worker.postMessage(msg);
  }

  private settle(job: Job, outcome: InferenceResult | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (outcome instanceof Error) job.reject(outcome);
    else job.resolve(outcome);
  }

  private next(slot: Slot): void {
    slot.job = null;
    let job = this.queue.shift();
    while (job?.settled) job = this.queue.shift();
    if (job) this.dispatch(slot, job);
    else {
      slot.worker.unref();
      this.notifyDrained();
    }
  }

  private notifyDrained(): void {
    if (this.queue.length > 0 || this.running > 0) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private spawn(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(this.code, { eval: true, workerData: this.opts.pipeline });
      const slot: Slot = { worker, job: null };
      let started = false;
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.kind === 'ready') {
          started = true;
          this.modelInfo ??= msg.models;
          this.slots.push(slot);
          worker.unref();
          resolve();
          // A respawned worker picks up waiting work at once.
          this.next(slot);
        } else if (msg.kind === 'fatal') {
          reject(new Error(`inference worker could not load its models: ${msg.error.message}`));
          void worker.terminate();
        } else if (slot.job && slot.job.id === msg.id) {
          const job = slot.job;
          this.outcomes[job.settled ? 'abandoned' : msg.kind === 'result' ? 'done' : 'failed']++;
          this.settle(job, msg.kind === 'result' ? msg.result : toProblem(msg.error));
          this.next(slot);
        }
      });
      worker.on('error', (err) => {
        if (!started) reject(err);
        else this.lost(slot, err);
      });
      worker.on('exit', (exitCode) => {
        if (!started) reject(new Error(`inference worker exited with code ${exitCode} while loading`));
        else if (!this.closed) this.lost(slot, new Error(`inference worker exited with code ${exitCode}`));
      });
    });
  }

  /** A worker died: fail its job, replace it. */
  private lost(slot: Slot, err: Error): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    this.slots.splice(at, 1);
    if (slot.job) {
      if (!slot.job.settled) this.outcomes.failed++;
      this.settle(slot.job, err);
    }
    if (!this.closed) this.spawn().catch(() => undefined);
    this.notifyDrained();
  }
}
