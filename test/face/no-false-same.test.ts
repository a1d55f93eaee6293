/**
 * Issue 17, item 1: a decision never rests on a face that is not there; and item 2's recogniser-shape case.
 * Real models throughout: the npm-shipped default pipeline (BlazeFace + face-api's ResNet-34), and the ONNX
 * files in ../shared/data/models for the recogniser checks.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOnnxRecognizer } from '../../src/face/embed-onnx.js';
import { ModelShapeError } from '../../src/face/onnx-model.js';
import { type FacePipeline, NoFaceError, createFacePipeline } from '../../src/face/pipeline.js';
import {
  GROUP_PHOTO,
  MOBILEFACENET,
  SCRFD_500M,
  haveLfw,
  haveSamplePhotos,
  haveSharedData,
  lfw,
} from './data.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const SHARED_MODELS = fileURLToPath(new URL('../../../shared/data/models/', import.meta.url));
const PADDLE = `${SHARED_MODELS}arcface-paddle/arcface_mobilefacenet_paddle.onnx`;

const arcface = (...args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dev', timeoutMs: 90_000 });

/** The case: a solid colour and a landscape (sky over grass), neither holding a face. */
async function facelessImages(dir: string): Promise<{ solid: string; landscape: string }> {
  const solid = join(dir, 'solid.png');
  await sharp({ create: { width: 200, height: 150, channels: 3, background: { r: 40, g: 90, b: 200 } } })
    .png()
    .toFile(solid);
  const w = 240;
  const h = 160;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sky = y < h * 0.55 + 10 * Math.sin(x / 17);
      px.set(
        sky ? [120 + y / 2, 170 + y / 3, 235] : [40 + ((x * 7) % 30), 120 + ((y * 13) % 40), 40],
        (y * w + x) * 3,
      );
    }
  }
  const landscape = join(dir, 'landscape.jpg');
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg()
    .toFile(landscape);
  return { solid, landscape };
}

/** The central `side` x `side` square of an LFW image (250 x 250): the face with almost no context. */
async function tightCrop(path: string, side: number): Promise<Buffer> {
  const off = Math.round((250 - side) / 2);
  return sharp(path).extract({ left: off, top: off, width: side, height: side }).png().toBuffer();
}

describe('never a decision on a face that is not there', () => {
  let dir: string;
  let images: { solid: string; landscape: string };
  let p: FacePipeline;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'no-false-same-'));
    images = await facelessImages(dir);
    p = await createFacePipeline({ threads: 1 });
  });
  afterAll(async () => {
    await p.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('pipeline.verify refuses two faceless images with NoFaceError naming the image', async () => {
    const err = await p.verify(images.solid, images.landscape).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoFaceError);
    expect((err as NoFaceError).image).toBe(images.solid);
    expect((err as Error).message).toBe(`no face in ${images.solid}`);
    // Bytes and pixels are named by their side.
    const bytes = await readFile(images.landscape);
    await expect(p.verify(lfw('Abel_Pacheco', 1), bytes)).rejects.toThrow(/no face in image b/);
  });

  it('embed still embeds a faceless image whole, and says so; noFace: error throws', async () => {
    const e = await p.embed(images.solid);
    expect(e.fallback).toBe(true);
    expect(e.face).toBeNull();
    const strict = await createFacePipeline({ threads: 1, noFace: 'error' });
    try {
      await expect(strict.embed(images.landscape)).rejects.toBeInstanceOf(NoFaceError);
    } finally {
      await strict.dispose();
    }
  });

  it("compares whole images only when asked (noFace: 'whole-image'), and the result says so", async () => {
    const loose = await createFacePipeline({ threads: 1, noFace: 'whole-image' });
    try {
      const v = await loose.verify(images.solid, images.landscape);
      expect(v.fallback).toBe(true);
      expect(v.faces[0]).toMatchObject({ face: null, facesFound: 0, fallback: true });
      expect(v.faces[1]).toMatchObject({ face: null, facesFound: 0, fallback: true });
      // Why the opt-in is needed: the two walls look alike to the recogniser.
      expect(v.similarity).toBeGreaterThan(0.9);
    } finally {
      await loose.dispose();
    }
  });

  it.runIf(haveLfw())('finds the face in tight crops by padding them, matching the full image', async () => {
    // Antony_Leung_0001 cropped to 100 x 100: BlazeFace misses it; on the padded canvas it is found.
    const full = await p.embed(lfw('Antony_Leung', 1));
    const crop = await p.embed(await tightCrop(lfw('Antony_Leung', 1), 100));
    expect(crop.fallback).toBe(false);
    expect(crop.padded).toBe(true);
    expect(full.padded).toBe(false);
    // The box is in the crop's pixels: near the whole 100 x 100 square, possibly past its edges.
    const { x1, y1, x2, y2 } = crop.face!.box;
    expect(x2 - x1).toBeGreaterThan(50);
    expect((x1 + x2) / 2).toBeGreaterThan(25);
    expect((x1 + x2) / 2).toBeLessThan(75);
    expect((y1 + y2) / 2).toBeGreaterThan(25);
    expect((y1 + y2) / 2).toBeLessThan(75);
    let dot = 0;
    for (let i = 0; i < full.embedding.length; i++) dot += full.embedding[i] * crop.embedding[i];
    expect(dot).toBeGreaterThan(0.95);
    const v = await p.verify(lfw('Antony_Leung', 1), await tightCrop(lfw('Antony_Leung', 1), 100));
    expect(v.same).toBe(true);
    expect(v.faces[1]?.padded).toBe(true);
  });

  it('verify exits 2 "no face in X" on faceless images; --allow-no-face compares them and says so', async () => {
    const refused = await arcface('verify', images.solid, images.landscape, '--threads', '1');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`no face in ${images.solid}`);
    const allowed = await arcface(
      'verify',
      images.solid,
      images.landscape,
      '--threads',
      '1',
      '--allow-no-face',
      '--json',
    );
    expect([0, 1]).toContain(allowed.code);
    const r = JSON.parse(allowed.stdout) as {
      faces: { a: { box: null; wholeImage: boolean }; b: { wholeImage: boolean } };
      noFaceFound: string[];
    };
    expect(r.faces.a).toMatchObject({ box: null, wholeImage: true });
    expect(r.faces.b.wholeImage).toBe(true);
    expect(r.noFaceFound).toEqual([images.solid, images.landscape]);
  });

  it.runIf(haveSamplePhotos() && haveLfw())(
    'verify says which face of each image it compared, and how it was chosen',
    async () => {
      const json = await arcface('verify', GROUP_PHOTO, lfw('Abel_Pacheco', 1), '--threads', '1', '--json');
      expect(json.code).toBe(1);
      const r = JSON.parse(json.stdout) as {
        faces: {
          a: { box: number[]; facesFound: number; chosenBy: string; padded: boolean };
          b: { box: number[]; facesFound: number; chosenBy: string | null };
        };
      };
      expect(r.faces.a.facesFound).toBeGreaterThanOrEqual(3);
      expect(r.faces.a.chosenBy).toBe('largest');
      expect(r.faces.a.box).toHaveLength(4);
      expect(r.faces.b).toMatchObject({ facesFound: 1, chosenBy: null });
      // The largest face is the one reported: no face the detector found has a larger box.
      const { faces } = await p.detect(GROUP_PHOTO);
      const area = (b: readonly number[]): number => (b[2] - b[0]) * (b[3] - b[1]);
      const largest = Math.max(...faces.map((f) => area([f.box.x1, f.box.y1, f.box.x2, f.box.y2])));
      expect(area(r.faces.a.box)).toBeCloseTo(largest, -1);

      const text = await arcface(
        'verify',
        GROUP_PHOTO,
        lfw('Abel_Pacheco', 1),
        '--threads',
        '1',
        '--select',
        'score',
      );
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(new RegExp(`${GROUP_PHOTO}: the highest-scoring of \\d+ faces, box \\[`));
      expect(text.stdout).toContain(`${lfw('Abel_Pacheco', 1)}: the only face, box [`);
    },
  );

  it('embed marks the rows embedded whole', async () => {
    const out = join(dir, 'rows.jsonl');
    const r = await arcface('embed', images.solid, '--out', out, '--threads', '1', '--quiet');
    expect(r.code).toBe(0);
    const row = JSON.parse((await readFile(out, 'utf8')).trim()) as { noFace?: boolean };
    expect(row.noFace).toBe(true);
    if (haveLfw()) {
      const face = join(dir, 'face.jsonl');
      expect(
        (await arcface('embed', lfw('Abel_Pacheco', 1), '--out', face, '--threads', '1', '--quiet')).code,
      ).toBe(0);
      expect(JSON.parse((await readFile(face, 'utf8')).trim())).not.toHaveProperty('noFace');
    }
  });
});

describe.runIf(haveSharedData())('an onnx: recogniser must be shaped like one', () => {
  it('refuses SCRFD (nine outputs of anchors), naming the file and the shapes', async () => {
    const err = await loadOnnxRecognizer(SCRFD_500M, { threads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelShapeError);
    const m = (err as Error).message;
    expect(m).toContain(SCRFD_500M);
    expect(m).toContain('is not a face recogniser');
    expect(m).toContain("input 'input.1' [1,3,?,?]");
    expect(m).toMatch(/9 outputs '443' \[392,1\]/);
  });

  it('accepts the two real recognisers', async () => {
    for (const path of [MOBILEFACENET, PADDLE]) {
      const rec = await loadOnnxRecognizer(path, { threads: 1 });
      try {
        expect(rec.dim).toBe(128);
        expect(rec.inputSize).toEqual({ width: 112, height: 112 });
        const [e] = await rec.embed([
          { data: new Uint8Array(112 * 112 * 3).fill(90), width: 112, height: 112 },
        ]);
        expect(e).toHaveLength(128);
      } finally {
        await rec.dispose();
      }
    }
  });

  it('the CLI refuses a detector as recogniser with exit 2 before any decision', async () => {
    const r = await arcface(
      'verify',
      lfw('Abel_Pacheco', 1),
      lfw('Dean_Barker', 1),
      '--recognizer',
      `onnx:${SCRFD_500M}`,
      '--threads',
      '1',
      '--threshold',
      '0.5',
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${SCRFD_500M} is not a face recogniser`);
  });
});
