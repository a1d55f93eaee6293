/**
 * Evaluation input that gives no honest number (issue 17, item 4): folds holding one kind of pair, sets
 * without genuine or impostor pairs, duplicate image paths in embeddings files, 0-d binary embeddings, and an
 * image paired with itself.
 */
import { describe, expect, it } from 'vitest';
import {
  BINARY_MAGIC,
  decodeEmbeddingsBinary,
  encodeEmbeddingsBinary,
  parseEmbeddingsJsonl,
} from '../../src/eval/embeddings-io.js';
import { EvalInputError } from '../../src/eval/errors.js';
import { kFoldVerification } from '../../src/eval/kfold.js';
import { LineIssuesError, pairImages, parsePairs } from '../../src/eval/pairs.js';
import { runPairs } from '../../src/eval/run.js';
import { verifyAllPairs, verifyPairs } from '../../src/eval/verification.js';

/** A binary embeddings file with the given header and floats, no metadata. */
function binary(count: number, dim: number, floats: number[] = []): Uint8Array {
  const out = new Uint8Array(14 + 4 * floats.length);
  out.set(new TextEncoder().encode(BINARY_MAGIC));
  const v = new DataView(out.buffer);
  v.setUint32(6, count, true);
  v.setUint32(10, dim, true);
  floats.forEach((x, i) => v.setFloat32(14 + 4 * i, x, true));
  return out;
}

describe('folds', () => {
  it('refuse a fold holding only one kind of pair (it reported 0.00% +- 0.00%)', () => {
    // Fold 0 all genuine, fold 1 all impostor: each threshold is chosen on the other kind alone.
    const scores = [0.9, 0.8, 0.7, 0.2, 0.1, 0.3];
    const same = [1, 1, 1, 0, 0, 0];
    const fold = [0, 0, 0, 1, 1, 1];
    expect(() => kFoldVerification(scores, same, fold)).toThrow(EvalInputError);
    expect(() => kFoldVerification(scores, same, fold)).toThrow(
      /2 of 2 folds hold only one kind of pair \(fold 0: 3 genuine, 0 impostor; fold 1: 0 genuine, 3 impostor\)/,
    );
    // One mixed fold is not enough: the other is still single-kind.
    expect(() => kFoldVerification(scores, same, [0, 0, 0, 0, 1, 1])).toThrow(
      /1 of 2 folds hold only one kind of pair \(fold 1: 0 genuine, 2 impostor\)/,
    );
    expect(kFoldVerification(scores, same, [0, 1, 1, 0, 1, 0]).folds).toHaveLength(2);
  });

  it('refuse an LFW-style pairs file whose folds each hold one kind, through the whole run', async () => {
    // Header '2 2': two folds of 2 matched then 2 mismatched. This file puts all matched pairs first.
    const text = ['2 2', 'A 1 2', 'B 1 2', 'C 1 2', 'D 1 2', 'A 1 B 1', 'C 1 D 1', 'A 2 C 2', 'B 2 D 2'].join(
      '\n',
    );
    const list = parsePairs(text, 'pairs.txt');
    const images = pairImages(list);
    const dim = 4;
    const vectors = new Float32Array(images.paths.length * dim).map((_, i) => Math.sin(i + 1));
    const embedded = { dim, vectors, ok: images.paths.map(() => true), failures: [] };
    await expect(runPairs(list, images, embedded, { threads: 1 })).rejects.toThrow(
      /fold 0: 4 genuine, 0 impostor; fold 1: 0 genuine, 4 impostor/,
    );
  });

  it('refuse verification without genuine or without impostor pairs (AUC was 1.0 or an error deep in ROC)', () => {
    const scores = Float32Array.from([0.9, 0.8, 0.7, 0.6]);
    expect(() => verifyPairs(scores, Uint8Array.from([1, 1, 1, 1]), null, { k: 2 })).toThrow(
      /pairs verification: 4 genuine and 0 impostor pairs/,
    );
    expect(() => verifyPairs(scores, Uint8Array.from([0, 0, 0, 0]), null, { k: 2 })).toThrow(EvalInputError);
    expect(() => verifyAllPairs(scores, new Float32Array(0))).toThrow(/single identity/);
    expect(verifyPairs(scores, Uint8Array.from([1, 0, 1, 0]), null, { k: 2 }).summary.genuinePairs).toBe(2);
  });
});

describe('duplicate image paths in embeddings files', () => {
  it('are an error naming the path and both lines (JSON lines)', () => {
    const text = [
      '{"path":"A/A_0001.jpg","label":"A","embedding":[1,0]}',
      '{"path":"B/B_0001.jpg","label":"B","embedding":[0,1]}',
      '{"path":"./A/A_0001.jpg","label":"A","embedding":[0.5,0.5]}',
    ].join('\n');
    expect(() => parseEmbeddingsJsonl(text, 'e.jsonl')).toThrow(EvalInputError);
    expect(() => parseEmbeddingsJsonl(text, 'e.jsonl')).toThrow(
      /e\.jsonl: 1 duplicate image path\(s\): '\.\/A\/A_0001\.jpg' at line 1 and line 3/,
    );
    // Rows without paths (a labelled set) are not duplicates of each other.
    expect(
      parseEmbeddingsJsonl('{"label":"A","embedding":[1]}\n{"label":"A","embedding":[2]}').meta,
    ).toHaveLength(2);
  });

  it('are an error naming the rows (binary)', () => {
    const bytes = encodeEmbeddingsBinary({
      dim: 2,
      vectors: Float32Array.from([1, 0, 0, 1, 1, 1]),
      meta: [{ path: 'x.jpg' }, { path: 'y.jpg' }, { path: 'x.jpg' }],
    });
    expect(() => decodeEmbeddingsBinary(bytes, 'e.bin')).toThrow(/'x\.jpg' at row 0 and row 2/);
  });
});

describe('binary embeddings headers', () => {
  it('refuse dimension 0 and 0 rows (dimension 0 was accepted)', () => {
    expect(() => decodeEmbeddingsBinary(binary(5, 0), 'z.bin')).toThrow(EvalInputError);
    expect(() => decodeEmbeddingsBinary(binary(5, 0), 'z.bin')).toThrow(/z\.bin: header says dimension 0/);
    expect(() => decodeEmbeddingsBinary(binary(0, 3), 'z.bin')).toThrow(/no embeddings/);
    expect(decodeEmbeddingsBinary(binary(1, 2, [0.5, -1])).vectors).toEqual(Float32Array.from([0.5, -1]));
  });

  it('refuse non-finite values, as the JSON-lines reader does', () => {
    expect(() => decodeEmbeddingsBinary(binary(2, 2, [1, 0, NaN, 1]), 'n.bin')).toThrow(
      /n\.bin: row 1 holds a non-finite value \(NaN\)/,
    );
  });
});

describe('pairs files', () => {
  it('refuse an image paired with itself (it scores 1 whatever the model)', () => {
    const err = (() => {
      try {
        parsePairs('A 1 2\nA 3 3\nA 1 B 1\n', 'p.txt');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(LineIssuesError);
    expect((err as Error).message).toContain('p.txt:2: pairs image 3 of A with itself');
  });

  it('refuse image numbers a double cannot hold exactly (found by the fuzzer: 1e20 became image 1e+20)', () => {
    expect(() => parsePairs('A 99999999999999999999 2\nA 1 B 1\n', 'p.txt')).toThrow(
      /p\.txt:1: expected 'Name i j'/,
    );
    expect(parsePairs('A 9007199254740991 2\nA 1 B 1\n').pairs[0].a.index).toBe(9007199254740991);
  });
});
