/**
 * The gallery routes over a real socket, on an embedded (in-memory PGlite) gallery: subjects, faces, identify,
 * verify against a subject, names that look like SQL or paths, unknown subjects, concurrent enrolments; and the
 * OpenAPI document of a service with every route, validated and compared with the routes registered.
 */
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedGallery } from '../../src/gallery/embedded.js';
import { problemType } from '../../src/serve/problems.js';
import { type RunningService, haveLfw, lfw, startService } from './service.js';

const LFW = haveLfw();
let svc: RunningService;

beforeAll(async () => {
  svc = await startService({}, { gallery: await openEmbeddedGallery() });
});
afterAll(async () => {
  await svc?.close();
});

type Json = Record<string, unknown>;

async function call(
  method: string,
  path: string,
  key: string | null,
  body?: Uint8Array<ArrayBuffer> | FormData | Json,
  contentType?: string,
): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  let payload: BodyInit | undefined;
  if (body instanceof Uint8Array || body instanceof FormData) payload = body as BodyInit;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  if (contentType) headers['content-type'] = contentType;
  const r = await fetch(`${svc.url}${path}`, { method, headers, body: payload });
  return { status: r.status, json: (await r.json()) as Json };
}

const jpeg = (path: string): Uint8Array<ArrayBuffer> => Uint8Array.from(readFileSync(path));

describe('subjects', () => {
  it('create, list, show, rename, set metadata; names and metadata are data, never SQL or paths', async () => {
    const names = ["Robert'); DROP TABLE subjects;--", '../../etc/passwd', 'Zoë "Z" O\u2019Neil \\ %_'];
    const ids: number[] = [];
    for (const name of names) {
      const meta = { note: "'; DELETE FROM faces; --", path: '/etc/shadow', nested: { n: [1, 2] } };
      const res = await call('POST', '/v1/subjects', svc.keys.enrol, { name, metadata: meta });
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({ name, metadata: meta, faceCount: 0 });
      ids.push(res.json.id as number);
    }
    const list = await call('GET', '/v1/subjects?limit=1000', svc.keys.read);
    const listed = (list.json.subjects as Json[]).map((s) => s.name);
    for (const n of names) expect(listed).toContain(n);
    const shown = await call('GET', `/v1/subjects/${ids[1]}`, svc.keys.read);
    expect(shown.json).toMatchObject({ id: ids[1], name: '../../etc/passwd', faces: [] });
    const renamed = await call('PATCH', `/v1/subjects/${ids[2]}`, svc.keys.enrol, {
      name: 'renamed',
      metadata: { team: 'blue' },
    });
    expect(renamed.json).toMatchObject({ id: ids[2], name: 'renamed', metadata: { team: 'blue' } });
    const taken = await call('POST', '/v1/subjects', svc.keys.enrol, { name: 'renamed' });
    expect(taken).toMatchObject({ status: 409, json: { type: problemType('name-taken') } });
    for (const id of ids)
      expect((await call('DELETE', `/v1/subjects/${id}`, svc.keys.enrol)).status).toBe(200);
  });

  it('scopes: read cannot create, no key is 401; unknown subjects are 404 problems', async () => {
    expect((await call('POST', '/v1/subjects', svc.keys.read, { name: 'x' })).status).toBe(403);
    expect((await call('GET', '/v1/subjects', null)).status).toBe(401);
    for (const [method, path] of [
      ['GET', '/v1/subjects/999999'],
      ['PATCH', '/v1/subjects/999999'],
      ['DELETE', '/v1/subjects/999999'],
      ['DELETE', '/v1/subjects/999999/faces/1'],
    ] as const) {
      const res = await call(method, path, svc.keys.enrol, method === 'PATCH' ? { name: 'y' } : undefined);
      expect(res, `${method} ${path}`).toMatchObject({
        status: 404,
        json: { type: problemType('not-found') },
      });
    }
    const bad = await call('GET', '/v1/subjects/abc', svc.keys.read);
    expect(bad.status).toBe(400);
  });
});

describe.skipIf(!LFW)('faces, identify and verify (LFW)', () => {
  let aaron: number;
  let george: number;

  beforeAll(async () => {
    aaron = (await call('POST', '/v1/subjects', svc.keys.enrol, { name: 'Aaron Peirsol' })).json.id as number;
    george = (await call('POST', '/v1/subjects', svc.keys.enrol, { name: 'George W Bush' })).json
      .id as number;
  });

  it('enrols faces (raw and multipart); the same image twice is a 409; an image without a face a 422', async () => {
    const first = await call(
      'POST',
      `/v1/subjects/${aaron}/faces`,
      svc.keys.enrol,
      jpeg(lfw('Aaron_Peirsol', 1)),
      'image/jpeg',
    );
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ subjectId: aaron, recognizer: 'faceapi:resnet34', dim: 128 });
    expect(first.json.imageSha256).toMatch(/^[0-9a-f]{64}$/);
    // The face's quality score is stored at enrolment.
    expect(first.json.quality).toBeGreaterThan(0);
    expect(first.json.quality).toBeLessThanOrEqual(1);
    const form = new FormData();
    form.append('image', new Blob([jpeg(lfw('George_W_Bush', 1))]), 'gwb.jpg');
    expect((await call('POST', `/v1/subjects/${george}/faces`, svc.keys.enrol, form)).status).toBe(201);
    const again = await call(
      'POST',
      `/v1/subjects/${george}/faces`,
      svc.keys.enrol,
      jpeg(lfw('Aaron_Peirsol', 1)),
      'image/jpeg',
    );
    expect(again).toMatchObject({ status: 409, json: { type: problemType('duplicate-image') } });
    const grey = await sharp({ create: { width: 160, height: 160, channels: 3, background: '#777' } })
      .png()
      .toBuffer();
    const none = await call(
      'POST',
      `/v1/subjects/${george}/faces`,
      svc.keys.enrol,
      Uint8Array.from(grey),
      'image/png',
    );
    expect(none).toMatchObject({ status: 422, json: { type: problemType('no-face') } });
    const unknown = await call(
      'POST',
      '/v1/subjects/999999/faces',
      svc.keys.enrol,
      jpeg(lfw('Aaron_Peirsol', 2)),
      'image/jpeg',
    );
    expect(unknown.status).toBe(404);
  });

  it('identifies a new photo of an enrolled person, and calls a stranger unknown', async () => {
    const known = await call(
      'POST',
      '/v1/identify?top=2',
      svc.keys.read,
      jpeg(lfw('Aaron_Peirsol', 3)),
      'image/jpeg',
    );
    expect(known.status).toBe(200);
    expect(known.json).toMatchObject({
      known: true,
      match: { subjectId: aaron, name: 'Aaron Peirsol' },
      threshold: 0.913,
    });
    expect((known.json.candidates as Json[]).length).toBe(2);
    expect(known.json.models).toMatchObject({ recognizer: 'faceapi:resnet34' });
    const stranger = await call('POST', '/v1/identify', svc.keys.read, {
      image: Buffer.from(jpeg(lfw('Abdullah_Gul', 1))).toString('base64'),
    });
    expect(stranger.status).toBe(200);
    expect(stranger.json).toMatchObject({ known: false, match: null });
  });

  it('verifies an image against a subject', async () => {
    const form = new FormData();
    form.append('image', new Blob([jpeg(lfw('Aaron_Peirsol', 4))]), 'a.jpg');
    form.append('subject', String(aaron));
    const same = await call('POST', '/v1/verify', svc.keys.read, form);
    expect(same.status).toBe(200);
    expect(same.json).toMatchObject({ same: true, subject: { id: aaron, name: 'Aaron Peirsol' } });
    const other = await call(
      'POST',
      `/v1/verify?subject=${george}`,
      svc.keys.read,
      jpeg(lfw('Aaron_Peirsol', 4)),
      'image/jpeg',
    );
    expect(other.json).toMatchObject({ same: false, subject: { id: george } });
    const missing = await call(
      'POST',
      '/v1/verify?subject=999999',
      svc.keys.read,
      jpeg(lfw('Aaron_Peirsol', 4)),
      'image/jpeg',
    );
    expect(missing.status).toBe(404);
  });

  it('concurrent enrolments lose nothing; concurrent creates of one name give one subject', async () => {
    const people = ['Alvaro_Uribe', 'Amelie_Mauresmo', 'Andre_Agassi'];
    const subjects = await Promise.all(
      people.map(
        async (p) => (await call('POST', '/v1/subjects', svc.keys.enrol, { name: p })).json.id as number,
      ),
    );
    const uploads = people.flatMap((p, i) =>
      [1, 2].map((n) =>
        call('POST', `/v1/subjects/${subjects[i]}/faces`, svc.keys.enrol, jpeg(lfw(p, n)), 'image/jpeg'),
      ),
    );
    const results = await Promise.all(uploads);
    expect(results.map((r) => r.status)).toEqual(new Array(6).fill(201));
    for (const id of subjects) {
      expect((await call('GET', `/v1/subjects/${id}`, svc.keys.read)).json.faceCount).toBe(2);
    }
    const racing = await Promise.all(
      [1, 2, 3, 4].map(() => call('POST', '/v1/subjects', svc.keys.enrol, { name: 'same name' })),
    );
    expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
    expect(racing.filter((r) => r.status === 409)).toHaveLength(3);
  });

  it('deletes a face, then the subject with every face; /metrics counts enrolled faces', async () => {
    const shown = await call('GET', `/v1/subjects/${aaron}`, svc.keys.read);
    const faceId = (shown.json.faces as Json[])[0].id as number;
    expect((await call('DELETE', `/v1/subjects/${george}/faces/${faceId}`, svc.keys.enrol)).status).toBe(404);
    expect((await call('DELETE', `/v1/subjects/${aaron}/faces/${faceId}`, svc.keys.enrol)).json).toEqual({
      deleted: true,
      faces: 1,
    });
    const metrics = await (await fetch(`${svc.url}/metrics`, { headers: svc.auth(svc.keys.admin) })).text();
    const enrolled = Number(/^arcface_gallery_faces_enrolled (\d+)$/m.exec(metrics)?.[1]);
    expect(enrolled).toBeGreaterThanOrEqual(7);
    const gone = await call('DELETE', `/v1/subjects/${george}`, svc.keys.enrol);
    expect(gone.json).toEqual({ deleted: true, faces: 1 });
    expect((await call('GET', `/v1/subjects/${george}`, svc.keys.read)).status).toBe(404);
    const after = await call(
      'POST',
      '/v1/identify',
      svc.keys.read,
      jpeg(lfw('George_W_Bush', 2)),
      'image/jpeg',
    );
    expect(after.json.match === null || (after.json.match as Json).subjectId !== george).toBe(true);
  });
});

describe('OpenAPI', () => {
  it('is a valid OpenAPI 3.1 document that lists exactly the registered routes', async () => {
    const r = await fetch(`${svc.url}/openapi.json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as OpenAPIV3_1.Document;
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
    const documented = Object.entries(doc.paths ?? {})
      .flatMap(([path, item]) =>
        Object.keys(item ?? {})
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    const registered = svc.app.routeList.map((r) => r.replace(/:(\w+)/g, '{$1}')).sort();
    expect(documented).toEqual(registered);
    expect(registered).toEqual(
      expect.arrayContaining([
        'POST /v1/identify',
        'DELETE /v1/subjects/{id}/faces/{faceId}',
        'GET /metrics',
      ]),
    );
    // Every operation documents its problem+json errors; secured routes name the schemes.
    const identify = doc.paths?.['/v1/identify']?.post;
    expect(identify?.responses?.['4XX']).toBeDefined();
    expect(identify?.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys((identify?.requestBody as OpenAPIV3_1.RequestBodyObject).content)).toEqual(
      expect.arrayContaining(['application/json', 'multipart/form-data', 'image/jpeg']),
    );
    // Faces in responses document their quality object.
    const detect = JSON.stringify([doc.paths?.['/v1/detect'], doc.components]);
    for (const field of ['interOcular', 'sharpness', 'yaw', 'detectorScore']) expect(detect).toContain(field);
  });

  it('serves a docs page', async () => {
    const r = await fetch(`${svc.url}/docs/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('swagger-ui');
  });
});
