/**
 * The quality score from the command line: `detect` and `verify --json` print each face's quality, and
 * `verify --min-quality` exits 2 on a face below it, naming the measure that failed (real LFW photos).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveLfw, lfw } from './data.js';

const BIN = fileURLToPath(new URL('../../bin/arcface-dev.mjs', import.meta.url));

function arcface(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--threads', '1'],
      { timeout: 240_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

describe.runIf(haveLfw())('quality on the command line', { timeout: 600_000 }, () => {
  let dir: string;
  let small: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quality-cli-'));
    small = join(dir, 'small.png');
    await writeFile(small, await sharp(lfw('Abel_Pacheco', 4)).resize({ width: 24 }).png().toBuffer());
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('detect prints each face with its quality', async () => {
    const r = await arcface('detect', lfw('Abel_Pacheco', 4));
    expect(r.code).toBe(0);
    const face = (JSON.parse(r.stdout) as { faces: { score: number; quality: Record<string, unknown> }[] })
      .faces[0];
    expect(face.quality).toMatchObject({ detectorScore: face.score });
    expect(face.quality.score).toBeGreaterThan(0.5);
    expect(Object.keys(face.quality)).toEqual(
      expect.arrayContaining(['size', 'sharpness', 'yaw', 'pitch', 'roll', 'factors']),
    );
  });

  it('verify --min-quality exits 2 naming the small face and its size; verify --json carries quality', async () => {
    const low = await arcface('verify', lfw('Abel_Pacheco', 4), small, '--min-quality', '0.5');
    expect(low.code).toBe(2);
    expect(low.stderr).toMatch(
      /small\.png: quality 0\.\d\d < 0\.50: face too small: \d+\.\d px inter-ocular/,
    );
    expect(low.stdout).toBe('');
    const ok = await arcface(
      'verify',
      lfw('Abel_Pacheco', 4),
      lfw('Abel_Pacheco', 2),
      '--min-quality',
      '0.3',
      '--json',
    );
    expect(ok.code).toBe(0);
    const v = JSON.parse(ok.stdout) as { faces: { a: { quality: { score: number } } } };
    expect(v.faces.a.quality.score).toBeGreaterThanOrEqual(0.3);
    const bad = await arcface('verify', lfw('Abel_Pacheco', 4), small, '--min-quality', '2');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--min-quality/);
  });
});
