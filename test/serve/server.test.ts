/**
 * The service over a real socket: every face route's happy path in each body form, and the security cases
 * (no key, wrong scope, oversized body, a decompression bomb, not an image, no face). One worker, the
 * npm-shipped models, face-api's sample photos; LFW pairs where ../shared is present.
 */
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemType } from '../../src/serve/problems.js';
import type { FaceOut } from '../../src/serve/schemas.js';
import { type RunningService, haveLfw, lfw, sample, startService } from './service.js';

let svc: RunningService;
beforeAll(async () => {
  svc = await startService();
});
afterAll(async () => {
  await svc?.close();
});

const PORTRAIT = readFileSync(sample(2));

async function post(
  path: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string | null; json: Record<string, unknown> }> {
  const r = await fetch(`${svc.url}${path}`, { method: 'POST', body, headers });
  const text = await r.text();
  return {
    status: r.status,
    type: r.headers.get('content-type'),
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

function expectProblem(
  res: { status: number; type: string | null; json: Record<string, unknown> },
  status: number,
  slug: string,
): void {
  expect(res.status).toBe(status);
  expect(res.type).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({ type: problemType(slug as never), status });
  expect(typeof res.json.title).toBe('string');
  // Never a stack trace.
  expect(JSON.stringify(res.json)).not.toMatch(/\n\s+at |\.ts:\d+/);
}

/** A PNG whose header declares `width x height` RGB pixels but whose data is a few bytes: a decompression bomb. */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('face routes', () => {
  it('POST /v1/detect with a raw JPEG body: boxes, scores, landmarks, model ids', async () => {
    const res = await post('/v1/detect', PORTRAIT, {
      ...svc.auth(svc.keys.read),
      'content-type': 'image/jpeg',
    });
    expect(res.status).toBe(200);
    const meta = await sharp(PORTRAIT).metadata();
    expect(res.json).toMatchObject({
      models: { detector: 'blazeface:back', recognizer: 'faceapi:resnet34', dim: 128 },
      width: meta.width,
      height: meta.height,
    });
    const faces = res.json.faces as FaceOut[];
    expect(faces.length).toBeGreaterThanOrEqual(1);
    const f = faces[0];
    expect(f.score).toBeGreaterThan(0.5);
    // Every face carries its quality: the detector's score among the measures, a combined score in [0, 1].
    expect(f.quality.detectorScore).toBe(f.score);
    expect(f.quality.score).toBeGreaterThanOrEqual(0);
    expect(f.quality.score).toBeLessThanOrEqual(1);
    expect(f.quality.size.interOcular).toBeGreaterThan(10);
    expect(Object.keys(f.quality.factors).sort()).toEqual(['detector', 'pitch', 'sharpness', 'size', 'yaw']);
    expect(f.box.x2).toBeGreaterThan(f.box.x1);
    expect(f.landmarks).toHaveLength(5);
    // The eyes lie inside the box.
    for (const [x, y] of f.landmarks.slice(0, 2)) {
      expect(x).toBeGreaterThan(f.box.x1);
      expect(x).toBeLessThan(f.box.x2);
      expect(y).toBeGreaterThan(f.box.y1);
      expect(y).toBeLessThan(f.box.y2);
    }
  });

  it('POST /v1/embed: multipart, JSON base64 and raw bodies give the same unit-length embedding', async () => {
    const form = new FormData();
    form.append('image', new Blob([PORTRAIT], { type: 'image/jpeg' }), 'portrait.jpg');
    const viaForm = await post('/v1/embed', form, svc.auth(svc.keys.read));
    const viaJson = await post('/v1/embed', JSON.stringify({ image: PORTRAIT.toString('base64') }), {
      ...svc.auth(svc.keys.read),
      'content-type': 'application/json',
    });
    const viaRaw = await post('/v1/embed', PORTRAIT, {
      'x-api-key': svc.keys.read,
      'content-type': 'image/jpeg',
    });
    for (const r of [viaForm, viaJson, viaRaw]) expect(r.status).toBe(200);
    const e = viaForm.json.embedding as number[];
    expect(e).toHaveLength(128);
    expect(Math.hypot(...e)).toBeCloseTo(1, 4);
    expect(viaJson.json.embedding).toEqual(e);
    expect(viaRaw.json.embedding).toEqual(e);
    expect(viaForm.json.facesFound).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!haveLfw())(
    'POST /v1/verify: same person same, different people not, with the threshold used',
    async () => {
      const pair = (a: string, b: string): FormData => {
        const form = new FormData();
        form.append('image1', new Blob([readFileSync(a)]), 'a.jpg');
        form.append('image2', new Blob([readFileSync(b)]), 'b.jpg');
        return form;
      };
      const same = await post(
        '/v1/verify',
        pair(lfw('Aaron_Peirsol', 1), lfw('Aaron_Peirsol', 2)),
        svc.auth(svc.keys.read),
      );
      expect(same.status).toBe(200);
      expect(same.json).toMatchObject({ same: true, threshold: 0.913 });
      expect(same.json.faces).toHaveLength(2);
      const diff = await post(
        '/v1/verify?threshold=0.95',
        pair(lfw('Aaron_Peirsol', 1), lfw('George_W_Bush', 1)),
        svc.auth(svc.keys.read),
      );
      expect(diff.json).toMatchObject({ same: false, threshold: 0.95 });
      expect(diff.json.similarity as number).toBeLessThan(same.json.similarity as number);
    },
  );

  it('POST /v1/verify with JSON base64', async () => {
    const body = JSON.stringify({ image1: PORTRAIT.toString('base64'), image2: PORTRAIT.toString('base64') });
    const res = await post('/v1/verify', body, {
      ...svc.auth(svc.keys.read),
      'content-type': 'application/json',
    });
    expect(res.status).toBe(200);
    expect(res.json.similarity as number).toBeCloseTo(1, 5);
    expect(res.json.same).toBe(true);
  });
  it.skipIf(!haveLfw())(
    'POST /v1/cluster groups photos by person and lists the ones without a face',
    async () => {
      const form = new FormData();
      const photos = [
        lfw('Aaron_Peirsol', 1),
        lfw('George_W_Bush', 1),
        lfw('Aaron_Peirsol', 2),
        lfw('George_W_Bush', 2),
        lfw('Aaron_Peirsol', 3),
        lfw('George_W_Bush', 3),
      ];
      for (const p of photos) form.append('images', new Blob([readFileSync(p)]), 'photo.jpg');
      const grey = await sharp({ create: { width: 120, height: 120, channels: 3, background: '#888' } })
        .png()
        .toBuffer();
      form.append('images', new Blob([Uint8Array.from(grey)]), 'grey.png');
      const res = await post('/v1/cluster', form, svc.auth(svc.keys.read));
      expect(res.status).toBe(200);
      const groups = (res.json.groups as number[][]).map((g) => [...g].sort());
      expect(groups.sort()).toEqual([
        [0, 2, 4],
        [1, 3, 5],
      ]);
      expect(res.json).toMatchObject({ noFace: [6], unclustered: [], method: 'whispers' });
      expect((res.json.faces as unknown[])[6]).toBeNull();
    },
  );
});

describe('security and limits', () => {
  it('401 without a key or with an unknown one, 403 for a key without the scope', async () => {
    const noKey = await post('/v1/detect', PORTRAIT, { 'content-type': 'image/jpeg' });
    expectProblem(noKey, 401, 'unauthorized');
    const bad = await post('/v1/detect', PORTRAIT, {
      ...svc.auth('afk_00000000_' + 'x'.repeat(43)),
      'content-type': 'image/jpeg',
    });
    expectProblem(bad, 401, 'unauthorized');
    const metrics = await fetch(`${svc.url}/metrics`, { headers: svc.auth(svc.keys.read) });
    expect(metrics.status).toBe(403);
    expect(await metrics.json()).toMatchObject({ type: problemType('forbidden'), requiredScope: 'admin' });
  });

  it('a revoked key is refused at once', async () => {
    const { key, record } = await svc.keyFile.create('temporary', ['read']);
    const ok = await post('/v1/detect', PORTRAIT, { ...svc.auth(key), 'content-type': 'image/jpeg' });
    expect(ok.status).toBe(200);
    await svc.keyFile.revoke(record.id);
    expectProblem(
      await post('/v1/detect', PORTRAIT, { ...svc.auth(key), 'content-type': 'image/jpeg' }),
      401,
      'unauthorized',
    );
  });

  it('413 for a 100 MB body (raw and multipart), before it is decoded', async () => {
    const big = Buffer.alloc(100 * 1024 * 1024, 0xff);
    const raw = await post('/v1/detect', big, {
      ...svc.auth(svc.keys.read),
      'content-type': 'image/jpeg',
    }).catch((err: unknown) => err);
    expect(raw).toMatchObject({ status: 413 });
    const form = new FormData();
    form.append('image', new Blob([big]), 'big.jpg');
    const multi = await post('/v1/detect', form, svc.auth(svc.keys.read));
    expectProblem(multi, 413, 'payload-too-large');
  });

  it('413 for a decompression bomb (a small PNG declaring 100k x 100k pixels)', async () => {
    const bomb = pngBomb(100_000, 100_000);
    expect(bomb.length).toBeLessThan(2000);
    const res = await post('/v1/embed', new Uint8Array(bomb), {
      ...svc.auth(svc.keys.read),
      'content-type': 'image/png',
    });
    expectProblem(res, 413, 'image-too-large');
  });

  it('422 for bytes that are not an image, and for an image without a face', async () => {
    const text = await post('/v1/embed', Buffer.from('SELECT * FROM faces;'), {
      ...svc.auth(svc.keys.read),
      'content-type': 'image/jpeg',
    });
    expectProblem(text, 422, 'invalid-image');
    const grey = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const noFace = await post('/v1/embed', new Uint8Array(grey), {
      ...svc.auth(svc.keys.read),
      'content-type': 'image/png',
    });
    expectProblem(noFace, 422, 'no-face');
  });

  it('400 for malformed JSON, a missing image or bad base64; 415 for other media types; 404 problem', async () => {
    const h = svc.auth(svc.keys.read);
    expectProblem(
      await post('/v1/embed', '{"image":', { ...h, 'content-type': 'application/json' }),
      400,
      'bad-request',
    );
    expectProblem(
      await post('/v1/embed', '{}', { ...h, 'content-type': 'application/json' }),
      400,
      'bad-request',
    );
    expectProblem(
      await post('/v1/embed', JSON.stringify({ image: '%%%' }), { ...h, 'content-type': 'application/json' }),
      400,
      'bad-request',
    );
    expectProblem(
      await post('/v1/embed', 'hello', { ...h, 'content-type': 'text/csv' }),
      415,
      'unsupported-media-type',
    );
    const form = new FormData();
    form.append('image1', new Blob([PORTRAIT]), 'a.jpg');
    expectProblem(await post('/v1/verify', form, h), 400, 'bad-request');
    const missing = await fetch(`${svc.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ type: problemType('not-found') });
  });

  it('CORS is off unless configured', async () => {
    const r = await fetch(`${svc.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('operations', () => {
  it('healthz and readyz answer without a key', async () => {
    expect(await (await fetch(`${svc.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', workers: 1, models: { dim: 128 } });
  });

  it('/metrics (admin) counts requests by route and status, and shows the queue', async () => {
    const r = await fetch(`${svc.url}/metrics`, { headers: svc.auth(svc.keys.admin) });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toMatch(
      /arcface_http_requests_total\{method="POST",route="\/v1\/embed",status="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /arcface_http_requests_total\{method="POST",route="\/v1\/detect",status="401"\} [1-9]/,
    );
    expect(text).toMatch(
      /arcface_http_request_duration_seconds_bucket\{le="0.5",method="POST",route="\/v1\/embed"\}/,
    );
    expect(text).toMatch(/^arcface_inference_queue_depth 0$/m);
  });
});
