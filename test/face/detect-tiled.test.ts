/**
 * Tiled detection (src/face/detect-tiled.ts) on real faces: the three faces of face-api's group photo (shipped
 * in node_modules), shrunk to 44-72 px and pasted into a 3000 x 2000 canvas of noise, where the default
 * detector alone (BlazeFace, 256 px input: a 60 px face reaches it as 5 px) misses them. LFW checks that
 * normal-size images take the detector's own path; they skip when ../shared is missing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Candidate,
  DEFAULT_MIN_FACE_SIZE,
  TILE_OVERLAP,
  checkTilingOptions,
  mergeTiled,
  tilePlan,
  withTiles,
} from '../../src/face/detect-tiled.js';
import { decodeImage } from '../../src/face/image.js';
import { type FacePipeline, createFacePipeline } from '../../src/face/pipeline.js';
import type { Box, DetectedFace, FaceDetector, RgbImage } from '../../src/face/types.js';
import { loadDetector } from '../../src/face/zoo.js';
import { GROUP_PHOTO, haveLfw, haveSamplePhotos, lfw } from './data.js';

const THREADS = 1;
const BIN = fileURLToPath(new URL('../../bin/arcface-dev.mjs', import.meta.url));
const W = 3000;
const H = 2000;
const BLAZEFACE_INPUT = { width: 256, height: 256 };

/** A face to paste: centre and face-box side in the scene, in pixels, and which group-photo face. */
interface Placement {
  readonly cx: number;
  readonly cy: number;
  readonly size: number;
  readonly source: number;
}

/** Uniform noise in 60..195 per channel from a fixed seed. */
function noise(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = 60 + (s >>> 24) * (136 / 256);
  }
  return data;
}

/**
 * Paste each source face (a square 1.5 x its box, around the box centre) shrunk so its box measures `size`
 * pixels, centred on (cx, cy), into a W x H canvas of noise.
 */
async function scene(photo: RgbImage, sources: readonly Box[], placements: readonly Placement[]) {
  const data = noise(W, H, 7);
  for (const p of placements) {
    const b = sources[p.source];
    const side = 1.5 * (b.x2 - b.x1);
    const left = Math.round((b.x1 + b.x2) / 2 - side / 2);
    const top = Math.round((b.y1 + b.y2) / 2 - side / 2);
    const out = Math.round(1.5 * p.size);
    const patch = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
      .extract({ left, top, width: Math.round(side), height: Math.round(side) })
      .resize(out, out)
      .raw()
      .toBuffer();
    const x0 = Math.round(p.cx - out / 2);
    const y0 = Math.round(p.cy - out / 2);
    for (let y = 0; y < out; y++)
      data.set(patch.subarray(y * out * 3, (y + 1) * out * 3), ((y0 + y) * W + x0) * 3);
  }
  return { data, width: W, height: H };
}

const contains = (f: DetectedFace, x: number, y: number): boolean =>
  f.box.x1 <= x && x <= f.box.x2 && f.box.y1 <= y && y <= f.box.y2;

/** Whether a face's box is the placement's: about its size, centred on it. */
function boxes(f: DetectedFace, p: Placement): boolean {
  const side = f.box.x2 - f.box.x1;
  return (
    side > 0.6 * p.size &&
    side < 1.6 * p.size &&
    Math.abs((f.box.x1 + f.box.x2) / 2 - p.cx) < 0.2 * p.size &&
    Math.abs((f.box.y1 + f.box.y2) / 2 - p.cy) < 0.2 * p.size
  );
}

/** The one face found at a placement, checked: box around the pasted centre, of about its size, landmarks sound. */
function expectFoundOnce(faces: readonly DetectedFace[], p: Placement): void {
  const at = faces.filter((f) => contains(f, p.cx, p.cy));
  expect(at, `face of ${p.size} px at (${p.cx}, ${p.cy})`).toHaveLength(1);
  const [f] = at;
  // The whole face, not a part of it cut by a tile edge: about its size, centred where it was pasted.
  expect(boxes(f, p), `box ${JSON.stringify(f.box)}`).toBe(true);
  for (const [x, y] of f.landmarks) expect(contains(f, x, y), `landmark (${x}, ${y})`).toBe(true);
  const [le, re, nose, lm, rm] = f.landmarks;
  expect(le[0]).toBeLessThan(re[0]);
  expect(lm[0]).toBeLessThan(rm[0]);
  // Eyes above the nose tip, the nose tip above the mouth (midpoints: the group photo's faces are tilted).
  expect((le[1] + re[1]) / 2).toBeLessThan(nose[1]);
  expect(nose[1]).toBeLessThan((lm[1] + rm[1]) / 2);
}

describe('tile plan', () => {
  it('leaves images the detector already resolves alone', () => {
    expect(tilePlan(250, 250, BLAZEFACE_INPUT)).toEqual([]);
    expect(tilePlan(640, 480, BLAZEFACE_INPUT)).toEqual([]);
    expect(tilePlan(W, H, BLAZEFACE_INPUT, { tiles: false })).toEqual([]);
    // A minimum face the whole-image pass already finds: 16 input px = 188 px of a 3000 px image.
    expect(tilePlan(W, H, BLAZEFACE_INPUT, { minFaceSize: 200 })).toEqual([]);
  });

  it('covers a large image at every level with tiles overlapping by TILE_OVERLAP', () => {
    const levels = tilePlan(W, H, BLAZEFACE_INPUT);
    expect(levels.length).toBeGreaterThan(0);
    // The finest level puts a DEFAULT_MIN_FACE_SIZE face at 16 input pixels.
    expect(levels.at(-1)!.width).toBe(Math.round((W * 16) / DEFAULT_MIN_FACE_SIZE));
    let previous = 256 / W;
    for (const level of levels) {
      const scale = level.width / W;
      expect(scale / previous).toBeLessThanOrEqual(2 + 1e-9);
      previous = scale;
      const xs = [...new Set(level.tiles.map((t) => t.x))].sort((a, b) => a - b);
      const ys = [...new Set(level.tiles.map((t) => t.y))].sort((a, b) => a - b);
      expect(level.tiles).toHaveLength(xs.length * ys.length);
      for (const t of level.tiles) {
        expect([t.width, t.height]).toEqual([256, 256]);
        expect(t.x + t.width).toBeLessThanOrEqual(level.width);
        expect(t.y + t.height).toBeLessThanOrEqual(level.height);
      }
      expect(xs[0]).toBe(0);
      expect(xs.at(-1)! + 256).toBe(level.width);
      expect(ys.at(-1)! + 256).toBe(level.height);
      xs.slice(1).forEach((x, i) => expect(xs[i] + 256 - x).toBeGreaterThanOrEqual(TILE_OVERLAP));
      ys.slice(1).forEach((y, i) => expect(ys[i] + 256 - y).toBeGreaterThanOrEqual(TILE_OVERLAP));
    }
  });

  it('rejects malformed options', () => {
    expect(() => checkTilingOptions({ minFaceSize: 0 })).toThrow(/minFaceSize must be a positive number/);
    expect(() => checkTilingOptions({ minFaceSize: Number.NaN })).toThrow(/minFaceSize/);
    expect(() => checkTilingOptions({ tiles: 'yes' as 'auto' })).toThrow(/tiles must be 'auto' or false/);
  });
});

describe('merging', () => {
  const face = (x1: number, y1: number, side: number, score: number): DetectedFace => {
    const x2 = x1 + side;
    const y2 = y1 + side;
    const p = (fx: number, fy: number): [number, number] => [x1 + fx * side, y1 + fy * side];
    return {
      box: { x1, y1, x2, y2 },
      score,
      landmarks: [p(0.3, 0.4), p(0.7, 0.4), p(0.5, 0.6), p(0.35, 0.8), p(0.65, 0.8)],
    };
  };
  const c = (f: DetectedFace, run: number, cut = false): Candidate => ({ face: f, run, cut });

  it('drops a face cut by a tile edge when its whole face was found, and keeps it when not', () => {
    const whole = face(100, 100, 60, 0.8);
    const half = face(100, 100, 30, 0.9); // a quarter, cut by a tile corner: IoU 0.25, inside the whole
    const alone = face(1000, 100, 30, 0.7);
    expect(mergeTiled([c(whole, 1), c(half, 2, true), c(alone, 3, true)], 0.3)).toEqual([whole, alone]);
  });

  it('keeps one of two boxes that different runs gave the same small face', () => {
    const fine = face(122, 134, 20, 0.74);
    const coarse = face(116, 123, 38, 0.67); // IoU 0.28: NMS alone keeps both
    expect(mergeTiled([c(fine, 5), c(coarse, 1)], 0.3)).toEqual([fine]);
    // Within one run the detector's own NMS has spoken: two faces.
    expect(mergeTiled([c(fine, 5), c(coarse, 5)], 0.3)).toHaveLength(2);
  });
});

describe.runIf(haveSamplePhotos())('tiled detection of small real faces in a 3000 x 2000 image', () => {
  let base: FaceDetector;
  let tiled: FaceDetector;
  let photo: RgbImage;
  let sources: Box[];

  beforeAll(async () => {
    base = await loadDetector('blazeface:back', { threads: THREADS });
    tiled = withTiles(base);
    photo = await decodeImage(GROUP_PHOTO);
    // The photo's three faces (160-200 px), left to right, found by the detector alone.
    const faces = await base.detect(photo);
    expect(faces).toHaveLength(3);
    sources = faces.map((f) => f.box).sort((a, b) => a.x1 - b.x1);
  });
  afterAll(async () => {
    await base?.dispose();
  });

  it('finds each face once, where it was pasted, with sound landmarks; the detector alone finds none', async () => {
    const placements: Placement[] = [
      { cx: 420, cy: 380, size: 44, source: 0 },
      { cx: 1730, cy: 610, size: 56, source: 1 },
      { cx: 2610, cy: 1530, size: 72, source: 2 },
      { cx: 900, cy: 1620, size: 60, source: 1 },
    ];
    const image = await scene(photo, sources, placements);
    const alone = await base.detect(image);
    expect(alone.filter((f) => placements.some((p) => contains(f, p.cx, p.cy)))).toEqual([]);

    const faces = await tiled.detect(image);
    for (const p of placements) expectFoundOnce(faces, p);
    expect(faces).toHaveLength(placements.length);
  });

  it('finds a face that straddles tile edges once', async () => {
    // At the finest level: one face centred on the corner of the first tile (cut by three tiles, whole in the
    // fourth), one centred on the left edge of the second tile (cut by it, whole in the first).
    const finest = tilePlan(W, H, BLAZEFACE_INPUT).at(-1)!;
    const s = finest.width / W;
    const [t0, t1] = finest.tiles;
    expect(t1.y).toBe(t0.y);
    expect(t1.x).toBeLessThan(t0.x + t0.width - TILE_OVERLAP / 2);
    const placements: Placement[] = [
      { cx: Math.round((t0.x + t0.width) / s), cy: Math.round((t0.y + t0.height) / s), size: 56, source: 0 },
      { cx: Math.round(t1.x / s), cy: Math.round((t0.y + t0.height / 2) / s), size: 48, source: 2 },
    ];
    const image = await scene(photo, sources, placements);
    const faces = await tiled.detect(image);
    for (const p of placements) expectFoundOnce(faces, p);
    expect(faces).toHaveLength(placements.length);
  });

  it('keeps a large face found on the whole image once, next to small ones', async () => {
    // 400 px: found by the whole-image pass; tiles of finer levels cut it into pieces that must not survive.
    const placements: Placement[] = [
      { cx: 1500, cy: 1000, size: 400, source: 2 },
      { cx: 500, cy: 500, size: 50, source: 0 },
    ];
    const image = await scene(photo, sources, placements);
    const faces = await tiled.detect(image);
    for (const p of placements) expectFoundOnce(faces, p);
    expect(faces).toHaveLength(placements.length);
  });

  it("gives the detector's own results on images up to 960 px (BlazeFace, default minFaceSize)", async () => {
    const raw = { raw: { width: photo.width, height: photo.height, channels: 3 as const } };
    const c = sources[1];
    const small = [
      await sharp(photo.data, raw).resize(960, 640).raw().toBuffer(),
      await sharp(photo.data, raw)
        .extract({ left: Math.round(c.x1) - 45, top: Math.round(c.y1) - 45, width: 250, height: 250 })
        .raw()
        .toBuffer(),
    ];
    for (const [data, width, height] of [
      [small[0], 960, 640],
      [small[1], 250, 250],
    ] as const) {
      const image = { data: new Uint8Array(data), width, height };
      expect(tilePlan(width, height, BLAZEFACE_INPUT)).toEqual([]);
      const own = await base.detect(image);
      expect(own.length).toBeGreaterThan(0);
      expect(await tiled.detect(image)).toEqual(own);
    }
    expect(tilePlan(961, 640, BLAZEFACE_INPUT).length).toBeGreaterThan(0);
  });

  it('`arcface detect` tiles by default; --no-tiles and --min-face configure it', async () => {
    const placements: Placement[] = [{ cx: 2200, cy: 700, size: 52, source: 1 }];
    const image = await scene(photo, sources, placements);
    const dir = await mkdtemp(join(tmpdir(), 'face-tiles-'));
    try {
      const file = join(dir, 'scene.png');
      await writeFile(
        file,
        await sharp(image.data, { raw: { width: W, height: H, channels: 3 } })
          .png()
          .toBuffer(),
      );
      const detect = (...args: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            [BIN, 'detect', file, '--threads', '1', ...args],
            (err, stdout, stderr) => {
              resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr });
            },
          );
        });
      const faces = (r: { stdout: string }): DetectedFace[] =>
        (
          JSON.parse(r.stdout) as { faces: { box: number[]; score: number; landmarks: [number, number][] }[] }
        ).faces.map((f) => ({
          box: { x1: f.box[0], y1: f.box[1], x2: f.box[2], y2: f.box[3] },
          score: f.score,
          landmarks: f.landmarks as unknown as DetectedFace['landmarks'],
        }));
      const [tiled, off, bad] = await Promise.all([
        detect(),
        detect('--no-tiles'),
        detect('--min-face', '0'),
      ]);
      expect(tiled.code, tiled.stderr).toBe(0);
      expectFoundOnce(faces(tiled), placements[0]);
      expect(off.code, off.stderr).toBe(0);
      expect(faces(off).filter((f) => contains(f, 2200, 700))).toEqual([]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/--min-face.*expected a number > 0/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(haveSamplePhotos())('tiled detection in shrunk group photos', () => {
  it('finds every person of two group photos shrunk to 1/4 and 1/6 (faces of 37-49 px) once', async () => {
    const base = await loadDetector('blazeface:back', { threads: THREADS });
    try {
      const data = noise(W, H, 11);
      const expected: Placement[] = [];
      const photos = [
        { path: GROUP_PHOTO, k: 1 / 4, x: 200, y: 150 },
        { path: GROUP_PHOTO.replace('sample1', 'sample6'), k: 1 / 6, x: 1900, y: 1300 },
      ];
      for (const { path, k, x, y } of photos) {
        const full = await decodeImage(path);
        // At full size the detector alone finds everyone (3 and 4 faces of 150-250 px).
        const faces = await base.detect(full);
        expect(faces.length).toBe(path === GROUP_PHOTO ? 3 : 4);
        const w = Math.round(full.width * k);
        const h = Math.round(full.height * k);
        const small = await sharp(full.data, { raw: { width: full.width, height: full.height, channels: 3 } })
          .resize(w, h)
          .raw()
          .toBuffer();
        for (let r = 0; r < h; r++)
          data.set(small.subarray(r * w * 3, (r + 1) * w * 3), ((y + r) * W + x) * 3);
        for (const f of faces) {
          expected.push({
            cx: x + ((f.box.x1 + f.box.x2) / 2) * (w / full.width),
            cy: y + ((f.box.y1 + f.box.y2) / 2) * (h / full.height),
            size: (f.box.x2 - f.box.x1) * (w / full.width),
            source: -1,
          });
        }
      }
      const image = { data, width: W, height: H };
      // Alone, the detector boxes a few blobs of several faces (70-100 px boxes at scores 0.51-0.56), none a face.
      const alone = await base.detect(image);
      expect(alone.filter((f) => expected.some((p) => boxes(f, p)))).toEqual([]);
      const faces = await withTiles(base).detect(image);
      for (const p of expected) expectFoundOnce(faces, p);
      expect(faces).toHaveLength(expected.length);
    } finally {
      await base.dispose();
    }
  });
});

describe.runIf(haveLfw())('tiling leaves normal-size images alone', () => {
  let auto: FacePipeline;
  let off: FacePipeline;
  beforeAll(async () => {
    auto = await createFacePipeline({ recognizer: false, threads: THREADS });
    off = await createFacePipeline({ recognizer: false, threads: THREADS, detection: { tiles: false } });
  });
  afterAll(async () => {
    await auto?.dispose();
    await off?.dispose();
  });

  it('gives identical detections on LFW 250 x 250 images with tiling on and off', async () => {
    for (const path of [lfw('Abel_Pacheco', 1), lfw('Akhmed_Zakayev', 3), lfw('Dean_Barker', 1)]) {
      const a = await auto.detect(path);
      const b = await off.detect(path);
      expect(a.faces.length).toBeGreaterThan(0);
      expect(a).toEqual(b);
    }
  });
});
