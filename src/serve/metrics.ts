/**
 * Prometheus metrics for one service instance (its own registry, so several instances in one process, as in
 * tests, never share counters): requests by route and status, latency histograms, the inference queue, and
 * faces enrolled when a gallery is attached.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  /** Jobs waiting for an inference worker. */
  queued(): number;
  /** Jobs running in inference workers. */
  running(): number;
  /** Inference jobs so far by outcome (done, failed, dropped before running, abandoned after). */
  jobs?: () => Readonly<Record<string, number>>;
  /** Faces in the gallery, or null when none is attached. */
  facesEnrolled?: () => Promise<number | null>;
}

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Record one finished request (`route` is the route pattern, not the raw URL, to bound cardinality). */
  observe(method: string, route: string, status: number, seconds: number): void;
}

/** Create an instance's metrics. */
export function createMetrics(sources: MetricsSources): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'arcface_' });
  const requests = new Counter({
    name: 'arcface_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'arcface_http_request_duration_seconds',
    help: 'Time from request received to response sent, seconds',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'arcface_inference_queue_depth',
    help: 'Inference jobs waiting for a worker',
    registers: [registry],
    collect() {
      this.set(sources.queued());
    },
  });
  new Gauge({
    name: 'arcface_inference_running',
    help: 'Inference jobs running in workers',
    registers: [registry],
    collect() {
      this.set(sources.running());
    },
  });
  if (sources.jobs) {
    const jobs = sources.jobs;
    new Counter({
      name: 'arcface_inference_jobs_total',
      help:
        'Inference jobs by outcome: done, failed, dropped (left the queue unrun: timed out or client gone), ' +
        'abandoned (ran after its request had timed out or gone)',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        // The pool keeps the counts; the counter mirrors them at each scrape.
        this.reset();
        for (const [outcome, n] of Object.entries(jobs())) this.inc({ outcome }, n);
      },
    });
  }
  if (sources.facesEnrolled) {
    const count = sources.facesEnrolled;
    new Gauge({
      name: 'arcface_gallery_faces_enrolled',
      help: 'Faces stored in the gallery',
      registers: [registry],
      async collect() {
        const n = await count().catch(() => null);
        if (n !== null) this.set(n);
      },
    });
  }
  return {
    registry,
    observe(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
  };
}
