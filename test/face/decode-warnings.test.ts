import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/face/image.js';
import { letterbox } from '../../src/face/letterbox.js';

// libvips queues decoder warnings process-wide; the sharp call that finishes next takes them all. A warning
// must still land on the image it belongs to when decodes and resizes overlap, as they do in `arcface eval`.
async function jpeg(seed: number): Promise<Buffer> {
  // A smooth picture: zeroing a run of its entropy-coded data is what libjpeg recovers from with a warning.
  const w = 320;
  const h = 240;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x + seed) & 0xff;
      raw[i + 1] = y;
      raw[i + 2] = (x * y) & 0xff;
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

describe('decoder warnings under concurrency', () => {
  it('attach to the damaged image only, however the calls overlap', async () => {
    const healthy = await jpeg(1);
    const damaged = Buffer.from(await jpeg(2));
    damaged.fill(0, damaged.length >> 1, (damaged.length >> 1) + 400);
    const raw = await decodeImage(healthy);

    const seen = new Map<string, string[]>();
    const decode = (name: string, bytes: Buffer): Promise<unknown> =>
      decodeImage(bytes, { onWarning: (m) => seen.set(name, [...(seen.get(name) ?? []), m]) });
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      jobs.push(decode(`healthy-${i}`, healthy));
      if (i % 3 === 0) jobs.push(decode(`damaged-${i}`, damaged));
      jobs.push(letterbox(raw, 160, 160));
    }
    await Promise.all(jobs);

    const names = [...seen.keys()].sort();
    expect(names).toEqual(['damaged-0', 'damaged-3', 'damaged-6', 'damaged-9']);
    for (const name of names) expect(seen.get(name)!.join('\n')).toMatch(/Corrupt JPEG data/);
  });
});
