import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LineIssuesError,
  checkPairImages,
  lfwRelativePath,
  pairImages,
  parsePairs,
} from '../../src/eval/pairs.js';

const LFW = resolve(__dirname, '../../../shared/data/lfw');

function issuesOf(fn: () => unknown): LineIssuesError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LineIssuesError) return err;
    throw err;
  }
  throw new Error('expected a LineIssuesError');
}

describe('pairs files', () => {
  it('parses both line forms, tabs or spaces, CRLF, and assigns folds from the header', () => {
    const text = '2 1\r\nAl_Gore\t1\t2\r\nAl_Gore 1 Bo_Derek 3\r\nCher 2 4\nCher  1  Al_Gore 12\n\n';
    const list = parsePairs(text, 'p.txt');
    expect(list.folds).toBe(2);
    expect(list.pairs.map((p) => [p.line, p.a.name, p.a.index, p.b.name, p.b.index, p.same, p.fold])).toEqual(
      [
        [2, 'Al_Gore', 1, 'Al_Gore', 2, true, 0],
        [3, 'Al_Gore', 1, 'Bo_Derek', 3, false, 0],
        [4, 'Cher', 2, 'Cher', 4, true, 1],
        [5, 'Cher', 1, 'Al_Gore', 12, false, 1],
      ],
    );
    expect(lfwRelativePath(list.pairs[3].b)).toBe('Al_Gore/Al_Gore_0012.jpg');
    const imgs = pairImages(list);
    expect(imgs.paths).toEqual([
      'Al_Gore/Al_Gore_0001.jpg',
      'Al_Gore/Al_Gore_0002.jpg',
      'Bo_Derek/Bo_Derek_0003.jpg',
      'Cher/Cher_0002.jpg',
      'Cher/Cher_0004.jpg',
      'Cher/Cher_0001.jpg',
      'Al_Gore/Al_Gore_0012.jpg',
    ]);
    expect([...imgs.indexA]).toEqual([0, 0, 3, 5]);
    expect([...imgs.indexB]).toEqual([1, 2, 4, 6]);
  });

  it('accepts a file without a header (folds left to the caller) and a single-count header', () => {
    expect(parsePairs('A 1 2\nA 1 B 1\n').folds).toBeNull();
    expect(parsePairs('A 1 2\nA 1 B 1\n').pairs[0].fold).toBe(-1);
    const one = parsePairs('1\nA 1 2\nA 1 B 1\n');
    expect(one.folds).toBeNull();
    expect(one.pairs.map((p) => p.line)).toEqual([2, 3]);
  });

  it('reports every malformed line with its line number', () => {
    const text = ['3 1', 'A 1 2', 'A one 2', 'A 1 B', 'A 0 B 1', 'B 1 2 3 4 5', 'C 1 C 2'].join('\n');
    const err = issuesOf(() => parsePairs(text, 'bad.txt'));
    expect(err.issues.map((i) => i.line)).toEqual([3, 4, 5, 6]);
    expect(err.message).toContain("bad.txt:3: expected 'Name i j' or 'NameA i NameB j'");
    expect(err.message).toContain("got 'A one 2'");
    expect(err.message).toContain('bad.txt:5:');
    expect(err.message).toMatch(/^bad\.txt: 4 problems:/);
  });

  it('reports a pair count that does not match the header', () => {
    const err = issuesOf(() => parsePairs('10 300\nA 1 2\nA 1 B 1\n', 'short.txt'));
    expect(err.issues).toHaveLength(1);
    expect(err.message).toContain(
      'short.txt:1: the header promises 6000 pairs (10 folds x 2 x 300), found 2',
    );
    expect(() => parsePairs('\n\n', 'empty.txt')).toThrow(/no pairs/);
  });

  describe('missing images', () => {
    let dir = '';
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('names each missing image with the line that uses it', async () => {
      dir = await mkdtemp(join(tmpdir(), 'arcface-pairs-'));
      await mkdir(join(dir, 'A'));
      await writeFile(join(dir, 'A', 'A_0001.jpg'), 'x');
      await writeFile(join(dir, 'A', 'A_0002.jpg'), 'x');
      const list = parsePairs('A 1 2\nA 1 B 1\nA 2 3\n', 'm.txt');
      const err = await checkPairImages(list, dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LineIssuesError);
      const issues = (err as LineIssuesError).issues;
      expect(issues.map((i) => i.line)).toEqual([2, 3]);
      expect(issues[0].message).toBe(`image B/B_0001.jpg not found in ${dir}`);
      expect((err as Error).message).toContain('m.txt: 2 missing images:');
      await expect(checkPairImages(parsePairs('A 1 2\n'), dir)).resolves.toBeUndefined();
    });
  });

  it.skipIf(!existsSync(join(LFW, 'pairs.txt')))(
    'reads the real LFW pairs.txt: 10 folds of 300 + 300, every image present',
    async () => {
      const list = parsePairs(readFileSync(join(LFW, 'pairs.txt'), 'utf8'), 'pairs.txt');
      expect(list.folds).toBe(10);
      expect(list.pairs).toHaveLength(6000);
      for (let f = 0; f < 10; f++) {
        const inFold = list.pairs.filter((p) => p.fold === f);
        expect(inFold.filter((p) => p.same)).toHaveLength(300);
        expect(inFold.filter((p) => !p.same)).toHaveLength(300);
      }
      await checkPairImages(list, join(LFW, 'lfw-deepfunneled'));
    },
  );
  if (!existsSync(join(LFW, 'pairs.txt'))) {
    it.skip(`real LFW checks need ${LFW} (../shared/data beside the project)`, () => undefined);
  }
});
