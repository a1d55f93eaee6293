/**
 * Inference work nobody waits for is not done: a queued job whose client went away, or whose request timed out,
 * leaves the queue without running, so a burst of abandoned requests does not keep the workers busy for later
 * ones. Asserted on the service's own /metrics (queue depth, jobs by outcome), not on time.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type RunningService, sample, startService } from './service.js';

const GROUP = Uint8Array.from(readFileSync(sample(1))); // 1920 x 1280, several faces: the slowest image at hand
const PORTRAIT = Uint8Array.from(readFileSync(sample(2)));

function embed(svc: RunningService, body: Uint8Array<ArrayBuffer>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${svc.url}/v1/embed`, {
    method: 'POST',
    headers: { ...svc.auth(svc.keys.read), 'content-type': 'image/jpeg' },
    body,
    signal,
  });
}

interface PoolMetrics {
  queued: number;
  running: number;
  jobs: Record<string, number>;
}

/** The queue and job gauges from /metrics (Prometheus text). */
async function poolMetrics(svc: RunningService): Promise<PoolMetrics> {
  const res = await fetch(`${svc.url}/metrics`, { headers: svc.auth(svc.keys.admin) });
  expect(res.status).toBe(200);
  const text = await res.text();
  const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  const jobs: Record<string, number> = {};
  for (const m of text.matchAll(/^arcface_inference_jobs_total\{outcome="(\w+)"\} (\d+)$/gm)) {
    jobs[m[1]] = Number(m[2]);
  }
  return {
    queued: value(/^arcface_inference_queue_depth (\d+)$/m),
    running: value(/^arcface_inference_running (\d+)$/m),
    jobs,
  };
}

/** Polls /metrics until `done` holds (the service reacts to closed sockets asynchronously); the last reading. */
async function until(svc: RunningService, done: (m: PoolMetrics) => boolean): Promise<PoolMetrics> {
  let m = await poolMetrics(svc);
  for (let i = 0; i < 600 && !done(m); i++) {
    await new Promise((r) => setTimeout(r, 50));
    m = await poolMetrics(svc);
  }
  return m;
}

const total = (m: PoolMetrics): number => Object.values(m.jobs).reduce((a, n) => a + n, 0);

describe('abandoned inference work', () => {
  it('drops the queued jobs of clients that went away; later requests are served', async () => {
    const svc = await startService({ size: 1, maxQueue: 64, timeoutMs: 120_000 });
    try {
      const burst = 10;
      const client = new AbortController();
      const answers = Array.from({ length: burst }, () =>
        embed(svc, GROUP, client.signal).catch((e: unknown) => e),
      );
      // All in: one running, the rest queued (each waits behind a slow group photo).
      const loaded = await until(svc, (m) => m.running === 1 && m.queued === burst - 1);
      expect(loaded).toMatchObject({ running: 1, queued: burst - 1 });
      client.abort();
      for (const a of await Promise.all(answers)) expect(a).toBeInstanceOf(Error);

      // The queue empties without running the abandoned jobs; the one already running finishes, unread.
      const after = await until(svc, (m) => m.queued === 0 && m.running === 0 && total(m) === burst);
      expect(after.queued).toBe(0);
      expect(after.running).toBe(0);
      expect(total(after)).toBe(burst);
      // At most the running job, and one that a worker picked up while the aborts arrived, ran.
      expect(after.jobs.dropped).toBeGreaterThanOrEqual(burst - 2);
      expect(after.jobs.dropped + after.jobs.abandoned).toBe(burst);
      expect(after.jobs.done).toBe(0);

      // Later requests run at once: nothing abandoned is left in front of them.
      const later = await embed(svc, PORTRAIT);
      expect(later.status).toBe(200);
      expect(((await later.json()) as { embedding: number[] }).embedding).toHaveLength(128);
      const end = await poolMetrics(svc);
      expect(end.jobs.done).toBe(1);
      expect(end.jobs.dropped).toBe(after.jobs.dropped);
      expect(end.queued).toBe(0);
    } finally {
      await svc.close();
    }
  });

  it('drops queued jobs whose request timed out (504), leaving the queue empty', async () => {
    const svc = await startService({ size: 1, maxQueue: 64, timeoutMs: 20 });
    try {
      const burst = 6;
      const responses = await Promise.all(Array.from({ length: burst }, () => embed(svc, GROUP)));
      // 20 ms is less than one group photo takes: every request is answered 504.
      expect(responses.map((r) => r.status)).toEqual(Array(burst).fill(504));
      const after = await until(svc, (m) => m.running === 0 && total(m) === burst);
      expect(after.queued).toBe(0);
      expect(after.running).toBe(0);
      // Only the job already running when its time ran out was computed (and its result thrown away).
      expect(after.jobs.abandoned).toBe(1);
      expect(after.jobs.dropped).toBe(burst - 1);
    } finally {
      await svc.close();
    }
  });
});
