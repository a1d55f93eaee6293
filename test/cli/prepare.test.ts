/**
 * `arcface prepare` on a small real LFW subset (the npm-shipped BlazeFace detector): 112 x 112 crops in the
 * same layout, a re-run that skips everything, a corrupt image reported by name without failing the run.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREPARE_MANIFEST, type PrepareManifest } from '../../src/data/prepare-folder.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const LFW = fileURLToPath(new URL('../../../shared/data/lfw/lfw-deepfunneled/', import.meta.url));
const haveLfw = existsSync(LFW);
if (!haveLfw) console.warn(`prepare CLI tests skipped: LFW not found at ${LFW} (../shared/data is absent)`);

const PEOPLE = { Colin_Powell: [1, 2, 3], Tony_Blair: [1, 2] } as const;

const run = (args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dev', timeoutMs: 240_000 });

describe.skipIf(!haveLfw)('arcface prepare (LFW subset)', () => {
  let dir: string;
  let data: string;
  let out: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arcface-prepare-'));
    data = join(dir, 'faces');
    out = join(dir, 'aligned');
    for (const [name, numbers] of Object.entries(PEOPLE)) {
      await mkdir(join(data, name), { recursive: true });
      for (const n of numbers) {
        const file = `${name}_${String(n).padStart(4, '0')}.jpg`;
        await copyFile(join(LFW, name, file), join(data, name, file));
      }
    }
    // Half a JPEG: sharp refuses it; the run must report it and go on.
    const jpeg = await readFile(join(LFW, 'Tony_Blair', 'Tony_Blair_0003.jpg'));
    await writeFile(join(data, 'Tony_Blair', 'broken.jpg'), jpeg.subarray(0, 600));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a 112 x 112 crop per face in the same layout, and reports the corrupt file by name', async () => {
    const r = await run(['prepare', '--data', data, '--out', out, '--threads', '1', '--quiet']);
    expect(r.stderr).toMatch(/6 images: 5 aligned now, 0 already done, 0 with no face, 1 failed/);
    expect(r.stderr).toMatch(/Tony_Blair\/broken\.jpg/);
    expect(r.code).toBe(0);
    for (const [name, numbers] of Object.entries(PEOPLE)) {
      for (const n of numbers) {
        const crop = join(out, name, `${name}_${String(n).padStart(4, '0')}.png`);
        const meta = await sharp(crop).metadata();
        expect([meta.width, meta.height, meta.channels]).toEqual([112, 112, 3]);
      }
    }
    expect(existsSync(join(out, 'Tony_Blair', 'broken.png'))).toBe(false);
    const manifest = JSON.parse(await readFile(join(out, PREPARE_MANIFEST), 'utf8')) as PrepareManifest;
    expect(manifest.size).toBe(112);
    expect(manifest.entries['Tony_Blair/broken.jpg'].status).toBe('failed');
    expect(manifest.entries['Colin_Powell/Colin_Powell_0001.jpg']).toMatchObject({
      status: 'ok',
      crop: 'Colin_Powell/Colin_Powell_0001.png',
    });
    expect(manifest.entries['Colin_Powell/Colin_Powell_0001.jpg'].sha256).toMatch(/^[0-9a-f]{64}$/);
  }, 300_000);

  it('a re-run skips everything already done; a changed source is redone', async () => {
    const again = await run(['prepare', '--data', data, '--out', out, '--threads', '1', '--quiet']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/6 images: 0 aligned now, 6 already done/);
    expect(again.stderr).toMatch(/Tony_Blair\/broken\.jpg/);
    // Replace one source with another image: its hash changes, so it is aligned again.
    await copyFile(
      join(LFW, 'Tony_Blair', 'Tony_Blair_0003.jpg'),
      join(data, 'Tony_Blair', 'Tony_Blair_0002.jpg'),
    );
    const changed = await run(['prepare', '--data', data, '--out', out, '--threads', '1', '--quiet']);
    expect(changed.stderr).toMatch(/6 images: 1 aligned now, 5 already done/);
  }, 300_000);

  it('refuses to mix crops of another size into the same folder', async () => {
    const r = await run(['prepare', '--data', data, '--out', out, '--size', '96', '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/at 112 px, not .* at 96 px/);
  }, 300_000);
});
