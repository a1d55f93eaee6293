/**
 * The face quality score on real LFW photos through the default detector: a face shrunk to 24 px fails on size,
 * a blurred copy scores lower sharpness, a mirrored copy turns the other way; `verify` and enrolment refuse
 * faces below a minimum quality and say which measure failed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arcfaceTemplate } from '../../src/face/align.js';
import { type FacePipeline, LowQualityError, createFacePipeline } from '../../src/face/pipeline.js';
import {
  DEFAULT_QUALITY_THRESHOLDS,
  type FaceQuality,
  poseOf,
  qualityShortfall,
  scoreQuality,
} from '../../src/face/quality.js';
import type { Landmarks5, Point } from '../../src/face/types.js';
import { enrolImages } from '../../src/gallery/enrol.js';
import { openGallery } from '../../src/gallery/open.js';
import { haveLfw, lfw } from './data.js';

/** A face turned clearly to one side (yaw about -40 degrees through BlazeFace). */
const TURNED = lfw('Abel_Pacheco', 1);
/** A frontal, sharp face (quality 1 through BlazeFace). */
const FRONTAL = lfw('Abel_Pacheco', 4);

describe('pose from five landmarks', () => {
  const template = arcfaceTemplate(112);
  it('reads ArcFace\u2019s frontal template as facing the camera', () => {
    const p = poseOf(template);
    expect(Math.abs(p.yaw)).toBeLessThan(1);
    expect(Math.abs(p.pitch)).toBeLessThan(1);
    expect(Math.abs(p.roll)).toBeLessThan(1);
  });
  it('gives the eye line\u2019s angle as roll and keeps yaw and pitch under rotation', () => {
    const a = (20 * Math.PI) / 180;
    const rot = ([x, y]: Point): Point => [
      Math.cos(a) * x - Math.sin(a) * y + 30,
      Math.sin(a) * x + Math.cos(a) * y - 10,
    ];
    const p = poseOf(template.map(rot) as unknown as Landmarks5);
    // The template's own eye line is 0.32 degrees off level.
    expect(p.roll).toBeCloseTo(poseOf(template).roll + 20, 5);
    expect(Math.abs(p.yaw)).toBeLessThan(1);
    expect(Math.abs(p.pitch)).toBeLessThan(1);
  });
  it('reads a nose moved right as yaw right, and a nose moved towards the mouth as the face tilted down', () => {
    const [l, r, n, ml, mr] = template;
    expect(poseOf([l, r, [n[0] + 8, n[1]], ml, mr]).yaw).toBeGreaterThan(20);
    expect(poseOf([l, r, [n[0] - 8, n[1]], ml, mr]).yaw).toBeLessThan(-20);
    expect(poseOf([l, r, [n[0], n[1] + 8], ml, mr]).pitch).toBeLessThan(-10);
    expect(poseOf([l, r, [n[0], n[1] - 8], ml, mr]).pitch).toBeGreaterThan(10);
  });
});

describe('the combined score and what failed', () => {
  const good: Omit<FaceQuality, 'score' | 'factors'> = {
    size: { interOcular: 45, boxShortSide: 110 },
    sharpness: 0.15,
    yaw: 5,
    pitch: -3,
    roll: 2,
    detectorScore: 0.9,
  };
  it('is 1 for a face past every full-marks level and the product of the factors otherwise', () => {
    expect(scoreQuality(good).score).toBe(1);
    const q = scoreQuality({ ...good, size: { interOcular: 20, boxShortSide: 50 }, yaw: 40 });
    expect(q.factors.size).toBeCloseTo(0.5, 10);
    expect(q.factors.yaw).toBeCloseTo(0.5, 10);
    expect(q.score).toBeCloseTo(0.25, 10);
  });
  it('names the worst measure with the value the minimum needs', () => {
    const q = scoreQuality({ ...good, size: { interOcular: 14, boxShortSide: 40 } });
    expect(qualityShortfall(q, 0.2)).toBeNull();
    const s = qualityShortfall(q, 0.5)!;
    expect(s.measures).toEqual(['size']);
    // Factor 0.5 at 8 + 0.5 * (32 - 8) = 20 px.
    expect(s.message).toBe('quality 0.25 < 0.50: face too small: 14.0 px inter-ocular < 20.0');
  });
  it('names every weak measure when no single one can reach the minimum', () => {
    const q = scoreQuality({ ...good, sharpness: 0.03, yaw: 55 });
    const s = qualityShortfall(q, 0.5)!;
    expect(s.measures).toEqual(['yaw', 'sharpness']);
    expect(s.message).toMatch(/face turned sideways: yaw 55\.0 deg; face blurred: sharpness 0\.030/);
  });
  it('refuses a minimum outside [0, 1]', () => {
    expect(() => qualityShortfall(scoreQuality(good), 1.5)).toThrow(/\[0, 1\]/);
    expect(DEFAULT_QUALITY_THRESHOLDS.interOcular.full).toBeGreaterThan(
      DEFAULT_QUALITY_THRESHOLDS.interOcular.zero,
    );
  });
});

describe.runIf(haveLfw())('quality on real LFW photos (default pipeline)', { timeout: 300_000 }, () => {
  let detector: FacePipeline;
  let dir: string;
  beforeAll(async () => {
    detector = await createFacePipeline({ recognizer: false, threads: 1 });
    dir = await mkdtemp(join(tmpdir(), 'quality-'));
  });
  afterAll(async () => {
    await detector.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  async function only(image: string | Uint8Array): Promise<FaceQuality> {
    const d = await detector.detect(image);
    expect(d.faces.length).toBeGreaterThan(0);
    return d.faces[0].quality;
  }

  it('measures an LFW face: size in pixels, a detector score, a score in [0, 1]', async () => {
    const q = await only(FRONTAL);
    expect(q.size.interOcular).toBeGreaterThan(30);
    expect(q.size.interOcular).toBeLessThan(70);
    expect(q.size.boxShortSide).toBeGreaterThan(q.size.interOcular);
    expect(q.score).toBeGreaterThan(0.5);
    expect(q.score).toBeLessThanOrEqual(1);
    expect(q.factors.size).toBe(1);
  });

  it('fails a copy shrunk to 24 px wide on size', async () => {
    const small = await sharp(FRONTAL).resize({ width: 24 }).png().toBuffer();
    const q = await only(small);
    expect(q.size.interOcular).toBeLessThan(10);
    const s = qualityShortfall(q, 0.5)!;
    expect(s.measures[0]).toBe('size');
    expect(s.message).toMatch(/face too small: \d+\.\d px inter-ocular/);
  });

  it('scores a blurred copy lower on sharpness than the original', async () => {
    const original = await sharp(FRONTAL).png().toBuffer();
    const blurred = await sharp(FRONTAL).blur(4).png().toBuffer();
    const a = await only(original);
    const b = await only(blurred);
    expect(b.sharpness).toBeLessThan(a.sharpness / 2);
    expect(b.factors.sharpness).toBeLessThan(a.factors.sharpness);
  });

  it('gives a mirrored copy the opposite yaw (and roll)', async () => {
    const a = await only(TURNED);
    const b = await only(await sharp(TURNED).flop().png().toBuffer());
    expect(Math.abs(a.yaw)).toBeGreaterThan(15);
    expect(Math.sign(b.yaw)).toBe(-Math.sign(a.yaw));
    expect(Math.abs(a.yaw + b.yaw)).toBeLessThan(0.5 * Math.abs(a.yaw));
    expect(b.roll * a.roll).toBeLessThanOrEqual(0);
  });

  it('verify with a minimum quality refuses the small face, naming size; enrolment skips it and stores the score', async () => {
    const small = join(dir, 'small.png');
    await writeFile(small, await sharp(FRONTAL).resize({ width: 24 }).png().toBuffer());
    const strict = await createFacePipeline({ threads: 1, minQuality: 0.5 });
    try {
      const err = await strict.verify(FRONTAL, small).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LowQualityError);
      expect((err as LowQualityError).image).toBe(small);
      expect((err as LowQualityError).message).toMatch(/small\.png: quality 0\.\d\d < 0\.50: face too small/);
      const ok = await strict.verify(FRONTAL, lfw('Abel_Pacheco', 2));
      expect(ok.faces[0]!.face!.quality.score).toBeGreaterThanOrEqual(0.5);

      const store = await openGallery(join(dir, 'gallery'));
      try {
        const r = await enrolImages(store, strict, 'Abel_Pacheco', [FRONTAL, small], { minQuality: 0.5 });
        expect(r.outcomes.map((o) => o.status)).toEqual(['enrolled', 'low-quality']);
        expect(r.outcomes[1].message).toMatch(/face too small: .* not enrolled$/);
        const subject = await store.getSubject('Abel_Pacheco');
        expect(subject.faces).toHaveLength(1);
        expect(subject.faces[0].quality).toBeCloseTo(r.outcomes[0].quality!.score, 5);
      } finally {
        await store.close();
      }
    } finally {
      await strict.dispose();
    }
  });
});
