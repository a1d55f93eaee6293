/**
 * LFW-format pairs files: an optional header (`10 300`: 10 folds of 300 matched then 300
 * mismatched pairs; or `N` or `1 N`: one set of N matched then N mismatched), then one pair per line,
 * either matched `Name i j` or mismatched `NameA i NameB j` (whitespace-separated, 1-based image
 * numbers). Image i of Name is `Name/Name_000i.jpg` under the image folder.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';

/** One face image as a pairs file names it. */
export interface FaceRef {
  readonly name: string;
  /** 1-based image number. */
  readonly index: number;
}

/** One pair with its place in the file. */
export interface Pair {
  /** 1-based line number in the file, for messages. */
  readonly line: number;
  readonly a: FaceRef;
  readonly b: FaceRef;
  /** Same identity (a matched line). */
  readonly same: boolean;
  /** Fold id from the header's layout, or -1 when the file does not define folds. */
  readonly fold: number;
}

export interface PairsList {
  readonly pairs: readonly Pair[];
  /** Number of folds the header defines; null when it defines none (no header, or a single set). */
  readonly folds: number | null;
  readonly source: string;
}

/** A problem at a line of an input file. */
export interface LineIssue {
  readonly line: number;
  readonly message: string;
}

/** Thrown with every problem found, each with its line number, so a user fixes a file in one pass. */
export class LineIssuesError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly LineIssue[],
    /** What an issue is, singular and plural, for the headline. */
    what: readonly [one: string, many: string] = ['problem', 'problems'],
  ) {
    const shown = issues.slice(0, 20).map((i) => `  ${source}:${i.line}: ${i.message}`);
    const more = issues.length > 20 ? [`  ... and ${issues.length - 20} more`] : [];
    super(
      [`${source}: ${issues.length} ${what[issues.length === 1 ? 0 : 1]}:`, ...shown, ...more].join('\n'),
    );
    this.name = 'LineIssuesError';
  }
}

/** A decimal integer >= 1 that a double holds exactly (`99999999999999999999` would become 1e20). */
const positiveInt = (s: string): number | null =>
  /^[1-9]\d*$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : null;

/**
 * Parse a pairs file. Throws {@link LineIssuesError} listing every malformed line with its number,
 * and a count that does not match the header.
 * @param source the file name, for messages
 */
export function parsePairs(text: string, source = 'pairs.txt'): PairsList {
  const lines = text.split(/\r?\n/);
  const issues: LineIssue[] = [];
  const pairs: Pair[] = [];
  let first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new LineIssuesError(source, [{ line: 1, message: 'the file has no pairs' }]);

  let folds: number | null = null;
  let perFold = 0;
  const head = lines[first].trim().split(/\s+/);
  const headNums = head.map(positiveInt);
  if (headNums.every((n) => n !== null) && (head.length === 1 || head.length === 2)) {
    perFold = headNums[head.length - 1]!;
    // One set (`1 300`, or pairsDevTrain's bare `1100`) defines no folds to hold out.
    if (head.length === 2 && headNums[0]! > 1) folds = headNums[0];
    first++;
  }

  for (let i = first; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    const lineNo = i + 1;
    const t = raw.split(/\s+/);
    let a: FaceRef | null = null;
    let b: FaceRef | null = null;
    if (t.length === 3) {
      const [ia, ib] = [positiveInt(t[1]), positiveInt(t[2])];
      if (ia !== null && ib !== null)
        [a, b] = [
          { name: t[0], index: ia },
          { name: t[0], index: ib },
        ];
    } else if (t.length === 4) {
      const [ia, ib] = [positiveInt(t[1]), positiveInt(t[3])];
      if (ia !== null && ib !== null)
        [a, b] = [
          { name: t[0], index: ia },
          { name: t[2], index: ib },
        ];
    }
    if (!a || !b) {
      issues.push({
        line: lineNo,
        message: `expected 'Name i j' or 'NameA i NameB j' with image numbers >= 1, got '${raw.slice(0, 80)}'`,
      });
      continue;
    }
    // An image paired with itself scores 1 whatever the model: a "genuine" pair that measures nothing.
    if (a.name === b.name && a.index === b.index) {
      issues.push({ line: lineNo, message: `pairs image ${a.index} of ${a.name} with itself` });
      continue;
    }
    const fold = folds === null ? -1 : Math.floor(pairs.length / (2 * perFold));
    pairs.push({ line: lineNo, a, b, same: a.name === b.name, fold });
  }

  const expected = perFold > 0 ? (folds ?? 1) * 2 * perFold : null;
  const found = pairs.length + issues.length;
  if (expected !== null && found !== expected) {
    const layout = folds === null ? `2 x ${perFold}` : `${folds} folds x 2 x ${perFold}`;
    issues.push({
      line: first,
      message: `the header promises ${expected} pairs (${layout}), found ${found}`,
    });
  }
  if (pairs.length === 0 && issues.length === 0)
    issues.push({ line: first + 1, message: 'the file has no pairs' });
  if (issues.length) throw new LineIssuesError(source, issues);
  return { pairs, folds, source };
}

/** LFW's relative path of an image: `Name/Name_0001.jpg`. */
export function lfwRelativePath(ref: FaceRef): string {
  return `${ref.name}/${ref.name}_${String(ref.index).padStart(4, '0')}.jpg`;
}

/** The distinct images a pairs list uses, and each pair's two rows in that list. */
export interface PairImages {
  /** Relative paths (forward slashes), in order of first use. */
  readonly paths: readonly string[];
  readonly indexA: Int32Array;
  readonly indexB: Int32Array;
}

/** Collect the distinct images of a pairs list. */
export function pairImages(list: PairsList): PairImages {
  const row = new Map<string, number>();
  const paths: string[] = [];
  const at = (ref: FaceRef): number => {
    const p = lfwRelativePath(ref);
    let r = row.get(p);
    if (r === undefined) {
      r = paths.length;
      row.set(p, r);
      paths.push(p);
    }
    return r;
  };
  const indexA = new Int32Array(list.pairs.length);
  const indexB = new Int32Array(list.pairs.length);
  list.pairs.forEach((p, i) => {
    indexA[i] = at(p.a);
    indexB[i] = at(p.b);
  });
  return { paths, indexA, indexB };
}

/**
 * Check that every image a pairs list names exists under `imagesDir`; throws
 * {@link LineIssuesError} naming each missing image with the line that uses it.
 */
export async function checkPairImages(list: PairsList, imagesDir: string): Promise<void> {
  const cache = new Map<string, Promise<boolean>>();
  const exists = (rel: string): Promise<boolean> => {
    let p = cache.get(rel);
    if (!p) {
      p = access(join(imagesDir, rel)).then(
        () => true,
        () => false,
      );
      cache.set(rel, p);
    }
    return p;
  };
  const uses = list.pairs.flatMap((pair) =>
    [pair.a, pair.b].map((ref) => ({ line: pair.line, rel: lfwRelativePath(ref) })),
  );
  const found = await Promise.all(uses.map((u) => exists(u.rel)));
  const issues: LineIssue[] = uses
    .filter((_, i) => !found[i])
    .map((u) => ({ line: u.line, message: `image ${u.rel} not found in ${imagesDir}` }));
  if (issues.length) throw new LineIssuesError(list.source, issues, ['missing image', 'missing images']);
}
