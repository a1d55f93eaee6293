/**
 * Scale-out: two service instances, each with its own inference workers and its own connections, on one
 * PostgreSQL gallery and one key file. What one enrols the other identifies; deletes through one are seen by the
 * other. Needs PostgreSQL + pgvector (test/gallery/postgres.ts starts a throwaway cluster; skipped with a message
 * without it, failing under CI=true) and LFW.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openServerGallery } from '../../src/gallery/server.js';
import { type TestCluster, havePostgres, startPostgres } from '../gallery/postgres.js';
import { type RunningService, haveLfw, lfw, startService } from './service.js';

const CAN_RUN = haveLfw() && havePostgres();

describe.skipIf(!CAN_RUN)('two instances on one PostgreSQL gallery', () => {
  let cluster: TestCluster;
  let a: RunningService;
  let b: RunningService;

  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase('serve_scale_out');
    a = await startService({}, { gallery: await openServerGallery(url) });
    b = await startService({}, { gallery: await openServerGallery(url) }, a);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cluster?.stop();
  });

  const send = async (
    svc: RunningService,
    method: string,
    path: string,
    body?: Uint8Array<ArrayBuffer> | Record<string, unknown>,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const headers: Record<string, string> = svc.auth(svc.keys.enrol);
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array) {
      payload = body;
      headers['content-type'] = 'image/jpeg';
    } else if (body) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const r = await fetch(`${svc.url}${path}`, { method, headers, body: payload });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  const jpeg = (name: string, n: number): Uint8Array<ArrayBuffer> =>
    Uint8Array.from(readFileSync(lfw(name, n)));

  it('enrol through one instance, identify through the other, delete through the first', async () => {
    const created = await send(a, 'POST', '/v1/subjects', { name: 'Aaron Peirsol' });
    expect(created.status).toBe(201);
    const id = created.json.id as number;
    expect((await send(a, 'POST', `/v1/subjects/${id}/faces`, jpeg('Aaron_Peirsol', 1))).status).toBe(201);

    const seen = await send(b, 'GET', `/v1/subjects/${id}`);
    expect(seen.json).toMatchObject({ name: 'Aaron Peirsol', faceCount: 1 });
    const who = await send(b, 'POST', '/v1/identify', jpeg('Aaron_Peirsol', 2));
    expect(who.status).toBe(200);
    expect(who.json).toMatchObject({ known: true, match: { subjectId: id } });

    // Both instances enrol into the same subject at once: nothing is lost.
    const both = await Promise.all([
      send(a, 'POST', `/v1/subjects/${id}/faces`, jpeg('Aaron_Peirsol', 3)),
      send(b, 'POST', `/v1/subjects/${id}/faces`, jpeg('Aaron_Peirsol', 4)),
    ]);
    expect(both.map((r) => r.status)).toEqual([201, 201]);
    expect((await send(a, 'GET', `/v1/subjects/${id}`)).json.faceCount).toBe(3);

    expect((await send(a, 'DELETE', `/v1/subjects/${id}`)).json).toEqual({ deleted: true, faces: 3 });
    expect((await send(b, 'GET', `/v1/subjects/${id}`)).status).toBe(404);
    const after = await send(b, 'POST', '/v1/identify', jpeg('Aaron_Peirsol', 2));
    expect(after.json).toMatchObject({ known: false, candidates: [] });
  });

  it('readiness reports the gallery reachable on both', async () => {
    for (const svc of [a, b]) {
      const r = await fetch(`${svc.url}/readyz`);
      expect(await r.json()).toMatchObject({ status: 'ready', gallery: 'ok' });
    }
  });
});
