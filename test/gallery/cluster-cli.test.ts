import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../src/gallery/contact-sheet.js';
import { GROUP_PHOTO, haveLfw, haveSamplePhotos, lfw } from '../face/data.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

const PEOPLE = ['Angela_Merkel', 'Serena_Williams', 'Vladimir_Putin'];

const arcface = (...args: string[]): Promise<CliRun> => runArcface(args, { bin: 'dist', timeoutMs: 110_000 });

describe.runIf(haveLfw())('arcface cluster on real LFW photos', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cluster-cli-'));
    // Unlabelled: all nine photos in one folder (a sub-folder for two of them, to check recursion).
    await mkdir(join(dir, 'in', 'sub'), { recursive: true });
    for (const p of PEOPLE) {
      for (let i = 1; i <= 3; i++) {
        const to = i === 3 && p !== 'Angela_Merkel' ? join(dir, 'in', 'sub') : join(dir, 'in');
        await copyFile(lfw(p, i), join(to, basename(lfw(p, i))));
      }
    }
    await mkdir(join(dir, 'empty'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds three groups of three, one per person, with thumbnails and a contact sheet', async () => {
    const out = join(dir, 'out');
    const r = await arcface('cluster', join(dir, 'in'), '--out', out, '--threads', '1', '--quiet');
    expect(r.stderr).toMatch(/9 photos, 9 faces: 3 groups, 0 unclustered/);
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'clusters.json'), 'utf8')) as ClusterReport;
    expect(report.groups).toHaveLength(3);
    const people = report.groups.map((g) => {
      const names = new Set(g.faces.map((f) => basename(f.image).replace(/_\d{4}\.jpg$/, '')));
      expect(names.size).toBe(1);
      expect(g.faces).toHaveLength(3);
      return [...names][0];
    });
    expect(people.sort()).toEqual(PEOPLE);
    // The default method runs at the threshold measured for it on LFW.
    expect(report.method).toBe('whispers');
    expect(report.threshold).toBeCloseTo(0.955, 6);
    expect(report.thresholdSource).toBe('measured for clustering');
    const thumb = report.groups[0].faces[0].thumbnail!;
    const meta = await sharp(join(out, thumb)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 96, 96]);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    expect(html.match(/<img /g)).toHaveLength(9);
    expect(html).toContain(`src="${thumb}"`);
  });

  it('a threshold above every similarity leaves every face unclustered', async () => {
    const out = join(dir, 'out-strict');
    const r = await arcface(
      'cluster',
      join(dir, 'in'),
      '--out',
      out,
      '--threshold',
      '1',
      '--method',
      'components',
      '--quiet',
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(join(out, 'clusters.json'), 'utf8')) as ClusterReport;
    expect(report.groups).toHaveLength(0);
    expect(report.unclustered).toHaveLength(9);
  });

  it('lists photos without a face and unreadable photos, and exits 1 for the latter', async () => {
    const mixed = join(dir, 'mixed');
    await mkdir(mixed);
    await copyFile(lfw('Angela_Merkel', 1), join(mixed, 'merkel.jpg'));
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } })
      .png()
      .toFile(join(mixed, 'blank.png'));
    await writeFile(join(mixed, 'broken.jpg'), 'not an image');
    const out = join(dir, 'out-mixed');
    const r = await arcface('cluster', mixed, '--out', out, '--threads', '1', '--quiet');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/skipped .*broken\.jpg/);
    const report = JSON.parse(await readFile(join(out, 'clusters.json'), 'utf8')) as ClusterReport;
    expect(report.faces).toBe(1);
    expect(report.noFace.map((p) => basename(p))).toEqual(['blank.png']);
    expect(report.failed.map((f) => basename(f.image))).toEqual(['broken.jpg']);
    const html = await readFile(join(out, 'index.html'), 'utf8');
    expect(html).toContain('Photos without a detected face');
  });

  it('exits 2 with a message for a folder without images and for a bad method', async () => {
    const empty = await arcface('cluster', join(dir, 'empty'), '--out', join(dir, 'x'));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no images .* under/);
    const bad = await arcface('cluster', join(dir, 'in'), '--out', join(dir, 'x'), '--method', 'kmeans');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--method.*kmeans.*Allowed choices/s);
  });
});

describe.runIf(haveSamplePhotos())('arcface cluster on a group photo', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cluster-group-'));
    await mkdir(join(dir, 'in'));
    await copyFile(GROUP_PHOTO, join(dir, 'in', 'group.jpg'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('embeds every face of a photo by default, only the largest with --faces largest', async () => {
    const all = await arcface('cluster', join(dir, 'in'), '--out', join(dir, 'all'), '--quiet');
    expect(all.code).toBe(0);
    const a = JSON.parse(await readFile(join(dir, 'all', 'clusters.json'), 'utf8')) as ClusterReport;
    // Different people in one photo: several faces, none grouped with another.
    expect(a.faces).toBeGreaterThan(1);
    expect(a.groups).toHaveLength(0);
    expect(new Set(a.unclustered.map((f) => f.face)).size).toBe(a.faces);
    const one = await arcface(
      'cluster',
      join(dir, 'in'),
      '--out',
      join(dir, 'one'),
      '--faces',
      'largest',
      '--quiet',
    );
    expect(one.code).toBe(0);
    const b = JSON.parse(await readFile(join(dir, 'one', 'clusters.json'), 'utf8')) as ClusterReport;
    expect(b.faces).toBe(1);
    expect(b.unclustered).toHaveLength(1);
  });
});
