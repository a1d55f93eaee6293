/**
 * Inference off the event loop, under load and at shutdown: a full queue answers 503 with Retry-After at once,
 * a request past the time limit answers 504, health checks answer while inference runs, and closing the
 * server lets in-flight requests finish. Also `arcface serve` itself: keys commands, start, SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { problemType } from '../../src/serve/problems.js';
import { sample, startService } from './service.js';

const GROUP = Uint8Array.from(readFileSync(sample(1))); // 1920 x 1280, several faces: the slowest image at hand
const BIN = fileURLToPath(new URL('../../bin/arcface.mjs', import.meta.url));
const run = promisify(execFile);

function embed(url: string, key: string, body: Uint8Array<ArrayBuffer> = GROUP): Promise<Response> {
  return fetch(`${url}/v1/embed`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'image/jpeg' },
    body,
  });
}

describe('the inference pool under load', () => {
  it('503 + Retry-After when the queue is full; health stays responsive; close drains in-flight work', async () => {
    const svc = await startService({ size: 1, maxQueue: 1 });
    try {
      const inFlight = [1, 2, 3, 4, 5].map(() => embed(svc.url, svc.keys.read));
      // While the worker computes, the event loop is free: /healthz answers between two readings that both see
      // the job running (an ordering, not a time limit, which a loaded machine would break).
      const running = async (): Promise<number> =>
        ((await (await fetch(`${svc.url}/readyz`)).json()) as { running: number }).running;
      let before = await running();
      for (let i = 0; i < 400 && before === 0; i++) {
        await new Promise((r) => setTimeout(r, 25));
        before = await running();
      }
      expect(before).toBe(1);
      expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
      expect(await running()).toBe(1);
      const responses = await Promise.all(inFlight);
      const statuses = responses.map((r) => r.status).sort();
      // One runs, one waits; the other three are refused at once.
      expect(statuses).toEqual([200, 200, 503, 503, 503]);
      const refused = responses.find((r) => r.status === 503);
      expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await refused?.json()).toMatchObject({ type: problemType('overloaded') });

      // Graceful shutdown: a request in flight when close() is called still gets its answer.
      const pending = embed(svc.url, svc.keys.read);
      await new Promise((r) => setTimeout(r, 200));
      const closing = svc.close();
      const answer = await pending;
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { embedding: number[] }).embedding).toHaveLength(128);
      await closing;
      await expect(fetch(`${svc.url}/healthz`)).rejects.toThrow();
    } finally {
      await svc.close().catch(() => undefined);
    }
  });

  it('504 when inference takes longer than the per-request limit', async () => {
    const svc = await startService({ size: 1, timeoutMs: 20 });
    try {
      const res = await embed(svc.url, svc.keys.read);
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ type: problemType('timeout') });
    } finally {
      await svc.close();
    }
  });
});

describe('arcface serve', () => {
  it('creates, lists and revokes keys; serves; exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arcface-serve-cli-'));
    const keys = join(dir, 'keys.json');
    try {
      const created = await run('node', [
        BIN,
        'serve',
        'keys',
        'create',
        '--name',
        'ci',
        '--scopes',
        'read',
        '--keys',
        keys,
      ]);
      const key = created.stdout.trim();
      expect(key).toMatch(/^afk_[0-9a-f]{8}_/);
      const spare = await run('node', [
        BIN,
        'serve',
        'keys',
        'create',
        '--name',
        'spare',
        '--scopes',
        'admin',
        '--keys',
        keys,
      ]);
      const spareId = /^afk_([0-9a-f]{8})_/.exec(spare.stdout.trim())?.[1] ?? '';
      await run('node', [BIN, 'serve', 'keys', 'revoke', spareId, '--keys', keys]);
      const listed = (await run('node', [BIN, 'serve', 'keys', 'list', '--keys', keys])).stdout;
      expect(listed).toMatch(new RegExp(`^${key.slice(4, 12)}\\s+read\\s+active`, 'm'));
      expect(listed).toMatch(new RegExp(`^${spareId}\\s+admin\\s+revoked`, 'm'));
      expect(listed).not.toContain(key.slice(13));

      const child = spawn(
        'node',
        [BIN, 'serve', '--port', '0', '--keys', keys, '--workers', '1', '--no-gallery', '--no-log'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(stderr);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const res = await embed(url, key, Uint8Array.from(readFileSync(sample(2))));
      expect(res.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toContain('SIGTERM: draining');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
