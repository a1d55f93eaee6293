/**
 * Inputs that must be refused with a clear error (issue 17, item 2): blank or out-of-range numbers, a pixel
 * limit of 0, zero or NaN vectors, absurd thread counts, output locations that cannot be written (checked
 * before any work), annotated images in formats that are not written, damaged JPEGs (a warning), and values
 * that are not images at all.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerEvalCommand } from '../../src/cli/commands/eval.js';
import { MAX_THREADS_PER_CORE, finite, integer, numberIn, threadCount } from '../../src/cli/parse.js';
import { checkThreshold, cosineSimilarity, decideSame } from '../../src/eval/similarity.js';
import { ImageError, decodeImage } from '../../src/face/image.js';
import { createFacePipeline } from '../../src/face/pipeline.js';
import { OutputPathError, checkOutputPath, makeDirs, writeFileAtomic } from '../../src/util/fs.js';
import {
  GROUP_PHOTO,
  MOBILEFACENET,
  SCRFD_500M,
  haveSamplePhotos,
  haveSharedData,
  lfw,
} from '../face/data.js';
import { type CliRun, runArcface } from '../helpers/cli.js';

/** The real CLI in a child process; a hang shows up as code -1 after the timeout, never as a stuck test. */
const arcface = (args: string[], timeout = 60_000): Promise<CliRun> =>
  runArcface(args, { bin: 'dist', timeoutMs: timeout });

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arcface-refused-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('number flags', () => {
  it('read blank text as no number (it was 0: --threshold "" made every pair "same")', () => {
    for (const parse of [finite, integer(0), numberIn(-1, 1, '[]'), threadCount]) {
      for (const blank of ['', ' ', '\t\n']) expect(() => parse(blank)).toThrow(InvalidArgumentError);
    }
    expect(numberIn(-1, 1, '[]')('0')).toBe(0);
    expect(numberIn(-1, 1, '[]')(' 0.25 ')).toBe(0.25);
    for (const bad of ['NaN', 'nan', '1.5', '-1.01', 'Infinity', '0.3x'])
      expect(() => numberIn(-1, 1, '[]')(bad)).toThrow(/expected a number in \[-1, 1\]/);
  });

  it('bound --threads to a few per core, saying why', () => {
    const max = MAX_THREADS_PER_CORE * availableParallelism();
    expect(threadCount('1')).toBe(1);
    expect(threadCount(String(max))).toBe(max);
    expect(() => threadCount(String(max + 1))).toThrow(`expected an integer in 1..${max}`);
    expect(() => threadCount('10000')).toThrow(/ONNX Runtime starts every thread up front/);
    expect(() => threadCount('0')).toThrow(InvalidArgumentError);
    expect(() => integer(1, 8)('9')).toThrow('expected an integer in 1..8');
  });

  it('refuses --threshold "", --threads 10000, a negative --score-threshold: exit 2 in every command, no work', async () => {
    const img = join(dir, 'grey.png');
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toFile(img);
    const cases: [string[], RegExp][] = [
      [['verify', img, img, '--threshold', ''], /--threshold.*expected a number in \[-1, 1\]/],
      [['verify', img, img, '--threads', '10000'], /--threads.*expected an integer in 1\.\./],
      [['verify', img, img, '--score-threshold', '-0.5'], /--score-threshold.*expected a number in \[0, 1\]/],
      // Usage errors exit 2 everywhere, so exit 1 always means a command's answer (embed: some images failed).
      [
        ['embed', img, '--out', join(dir, 'e.jsonl'), '--batch-size', '0'],
        /--batch-size.*expected an integer >= 1/,
      ],
      [['eval', '--embeddings', 'x.jsonl', '--threads', ' '], /--threads.*expected an integer in 1\.\./],
    ];
    const runs = await Promise.all(cases.map(([args]) => arcface(args)));
    runs.forEach((r, i) => {
      expect(r.stderr).toMatch(cases[i][1]);
      // 2, never 1: 1 is verify's answer "different".
      expect(r.code).toBe(2);
      expect(r.stdout).not.toMatch(/similarity/);
    });
    expect(existsSync(join(dir, 'e.jsonl'))).toBe(false);
  });
});

describe('similarity and decisions', () => {
  const a = Float32Array.from([0.6, 0.8, 0]);
  it('refuses zero, NaN, infinite and empty vectors, naming the side (it returned NaN, same: false)', () => {
    expect(cosineSimilarity(a, Float32Array.from([0, 3, 0]))).toBeCloseTo(0.8, 6);
    expect(() => cosineSimilarity(a, new Float32Array(3))).toThrow(/second embedding has norm 0/);
    expect(() => cosineSimilarity(Float32Array.from([NaN, 1, 0]), a)).toThrow(/first embedding holds NaN/);
    expect(() => cosineSimilarity(a, Float32Array.from([Infinity, 0, 0]))).toThrow(RangeError);
    expect(() => cosineSimilarity(new Float32Array(0), new Float32Array(0))).toThrow(/is empty/);
    expect(() => cosineSimilarity(a, new Float32Array(4))).toThrow(/differ in length \(3 vs 4\)/);
    expect(() => decideSame(a, new Float32Array(3), 0.3, ['a.jpg', 'b.jpg'])).toThrow(/b\.jpg has norm 0/);
  });

  it('refuses thresholds that are not in [-1, 1]', () => {
    for (const t of [NaN, 1.5, -2, Infinity]) expect(() => checkThreshold(t)).toThrow(RangeError);
    expect(decideSame(a, a, 1)).toEqual({ similarity: 1, same: true });
    expect(decideSame(a, Float32Array.from([0, 0, 1]), -1).same).toBe(true);
  });

  it.runIf(haveSharedData())(
    'pipeline.verify refuses zero and NaN embeddings and NaN thresholds',
    async () => {
      const p = await createFacePipeline({
        detector: `scrfd:${SCRFD_500M}`,
        recognizer: `onnx:${MOBILEFACENET}`,
        threads: 1,
      });
      try {
        const unit = new Float32Array(128);
        unit[0] = 1;
        await expect(p.verify(unit, new Float32Array(128), 0.3)).rejects.toThrow(/embedding b has norm 0/);
        const nan = unit.slice();
        nan[5] = NaN;
        await expect(p.verify(nan, unit, 0.3)).rejects.toThrow(/embedding a holds NaN/);
        await expect(p.verify(unit, unit, NaN)).rejects.toThrow(/threshold must be a number in \[-1, 1\]/);
        await expect(p.verify(unit, unit, 0.3)).resolves.toMatchObject({ similarity: 1, same: true });
      } finally {
        await p.dispose();
      }
    },
  );
});

describe('decodeImage', () => {
  it('throws ImageError, not TypeError, for values that are not images', async () => {
    for (const bad of [null, undefined, 42, {}, { data: 'pixels', width: 1, height: 1 }, [1, 2, 3]]) {
      const err = await decodeImage(bad as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).code).toBe('invalid-input');
    }
    // Found by the fuzzer (seed 2): a channel count sharp does not take threw a plain Error from its constructor.
    const five = { data: new Uint8Array(30), width: 1, height: 6, channels: 5 };
    await expect(decodeImage(five as never)).rejects.toMatchObject({
      name: 'ImageError',
      code: 'invalid-raw',
    });
  });

  it('refuses a pixel limit of 0 (sharp reads it as "no limit"), negative, fractional or NaN', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    for (const maxPixels of [0, -1, 0.5, NaN, Infinity]) {
      const err = await decodeImage(png, { maxPixels }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).code).toBe('invalid-option');
      expect((err as ImageError).message).toMatch(/maxPixels must be a positive integer/);
    }
    expect((await decodeImage(png, { maxPixels: 64 })).width).toBe(8);
    const tooBig = await decodeImage(png, { maxPixels: 63 }).catch((e: unknown) => e);
    expect((tooBig as ImageError).code).toBe('too-large');
  });

  it.runIf(haveSamplePhotos())(
    'warns about a JPEG whose middle is corrupt, and not about a clean one',
    async () => {
      const photo = await sharp(GROUP_PHOTO).resize(320).jpeg({ quality: 92 }).toBuffer();
      const damaged = Buffer.from(photo);
      const mid = Math.floor(photo.length / 2);
      damaged.fill(0, mid, mid + 2000);
      const warnings: string[] = [];
      const img = await decodeImage(damaged, { onWarning: (m) => warnings.push(m) });
      expect([img.width, img.height]).toEqual([320, 213]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^<buffer of \d+ bytes>: .*Corrupt JPEG data/);
      const clean: string[] = [];
      await decodeImage(photo, { onWarning: (m) => clean.push(m) });
      expect(clean).toEqual([]);
      // The CLI prints the warning (library code only reports it).
      const file = join(dir, 'damaged.jpg');
      await writeFile(file, damaged);
      const r = await arcface(['detect', file, '--threads', '1']);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warning: .*damaged\.jpg: .*Corrupt JPEG data/);
    },
  );
});

describe.runIf(haveSharedData())('eval --images with a damaged JPEG', () => {
  it('says so in the report notes (the bar would tear if it printed)', async () => {
    const root = join(dir, 'lfw-damaged');
    const photos: [string, string][] = [
      ['Abel_Pacheco/Abel_Pacheco_0001.jpg', lfw('Abel_Pacheco', 1)],
      ['Abel_Pacheco/Abel_Pacheco_0002.jpg', lfw('Abel_Pacheco', 2)],
      ['Jong_Thae_Hwa/Jong_Thae_Hwa_0001.jpg', lfw('Jong_Thae_Hwa', 1)],
    ];
    for (const [rel, src] of photos) {
      await mkdir(join(root, rel, '..'), { recursive: true });
      const bytes = Buffer.from(await readFile(src));
      // Zero a run in the middle of the first photo's entropy-coded data.
      if (rel.endsWith('_0001.jpg') && rel.startsWith('Abel'))
        bytes.fill(0, bytes.length >> 1, (bytes.length >> 1) + 400);
      await writeFile(join(root, rel), bytes);
    }
    await writeFile(join(dir, 'pairs-damaged.txt'), 'Abel_Pacheco 1 2\nAbel_Pacheco 1 Jong_Thae_Hwa 1\n');
    const program = new Command('arcface').exitOverride();
    registerEvalCommand(program);
    const out = join(dir, 'damaged-report');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await program.parseAsync(
        [
          'eval',
          '--quiet',
          '--pairs',
          join(dir, 'pairs-damaged.txt'),
          '--images',
          root,
          '--detector',
          `scrfd:${SCRFD_500M}`,
          '--model',
          `onnx:${MOBILEFACENET}`,
          '--threads',
          '1',
          '--out',
          out,
        ],
        { from: 'user' },
      );
    } finally {
      log.mockRestore();
    }
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as { notes: string[] };
    expect(report.notes.join('\n')).toMatch(
      /1 decoder warning\(s\): .*Abel_Pacheco_0001\.jpg: .*Corrupt JPEG data/,
    );
  });
});

describe('output locations, checked before the work', () => {
  // A hang (the old recursive mkdir under /proc) fails these by the test's 30 s time limit.
  it('names what is wrong with a location, leaving nothing behind', { timeout: 30_000 }, async () => {
    const file = join(dir, 'a-file.txt');
    await writeFile(file, 'x');
    const expectRefused = async (path: string, kind: 'file' | 'dir', why: RegExp): Promise<void> => {
      const err = await checkOutputPath(path, kind).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputPathError);
      expect((err as Error).message).toMatch(why);
    };
    // Node's recursive mkdir never returns here: this is the hang `embed --out /proc/nope/x.jsonl` had.
    await expectRefused('/proc/nope/x.jsonl', 'file', /creating anything in \/proc fails/);
    await expectRefused(file, 'dir', /exists and is not a folder/);
    await expectRefused(dir, 'file', /is a folder, expected a file/);
    await expectRefused(join(file, 'below', 'x.jsonl'), 'file', /a-file\.txt is not a folder|ENOTDIR/);
    await expectRefused('', 'file', /empty output path/);
    const before = await readdir(dir);
    await checkOutputPath(join(dir, 'new', 'deeper', 'x.jsonl'), 'file');
    await checkOutputPath(join(dir, 'report-dir'), 'dir');
    await checkOutputPath(file, 'file');
    expect(await readdir(dir)).toEqual(before);
  });

  it(
    'writeFileAtomic fails under /proc instead of hanging in recursive mkdir, and still makes nested folders',
    { timeout: 30_000 },
    async () => {
      await expect(writeFileAtomic('/proc/nope/deeper/x.json', '{}')).rejects.toMatchObject({
        code: 'ENOENT',
      });
      const nested = join(dir, 'n1', 'n2', 'n3', 'x.json');
      await writeFileAtomic(nested, '{}');
      expect(existsSync(nested)).toBe(true);
      await makeDirs(join(dir, 'n1', 'n2'));
      await writeFile(join(dir, 'plain'), 'x');
      await expect(makeDirs(join(dir, 'plain', 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    },
  );

  it('embed --out /proc/nope/x.jsonl exits 2 at once instead of hanging', async () => {
    const img = join(dir, 'embed-me.png');
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#406080' } })
      .png()
      .toFile(img);
    const r = await arcface(['embed', img, '--out', '/proc/nope/x.jsonl', '--quiet'], 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\/proc\/nope\/x\.jsonl: cannot be written/);
  });

  it('detect --out a.gif is refused before detection (it wrote PNG bytes under a .gif name)', async () => {
    const img = join(dir, 'detect-me.png');
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#406080' } })
      .png()
      .toFile(img);
    const out = join(dir, 'annotated.gif');
    const r = await arcface(['detect', img, '--out', out, '--threads', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /annotated\.gif: the annotated image is written as \.png, \.jpg, \.jpeg or \.webp/,
    );
    expect(r.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  });

  it('eval refuses an --out that is a file before reading any input', async () => {
    const file = join(dir, 'report-is-a-file');
    await writeFile(file, 'x');
    const evalCli = (args: string[]): Promise<Command> => {
      const program = new Command('arcface').exitOverride();
      registerEvalCommand(program);
      return program.parseAsync(['eval', '--quiet', ...args], { from: 'user' });
    };
    // The embeddings file does not exist: before the fix its ENOENT came first, after all the reading.
    const run = evalCli(['--embeddings', join(dir, 'missing.jsonl'), '--out', file]);
    await expect(run).rejects.toThrow(OutputPathError);
    await mkdir(join(dir, 'ok-out'));
    const save = evalCli([
      '--pairs',
      join(dir, 'missing-pairs.txt'),
      '--images',
      dir,
      '--save-embeddings',
      join(dir, 'ok-out'),
      '--out',
      join(dir, 'ok-out', 'r'),
    ]);
    await expect(save).rejects.toThrow(/ok-out: is a folder, expected a file/);
  });
});
