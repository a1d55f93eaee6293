import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EmbeddingSet,
  decodeEmbeddingsBinary,
  encodeEmbeddingsBinary,
  parseEmbeddingsJsonl,
  readEmbeddings,
  writeEmbeddings,
} from '../../src/eval/embeddings-io.js';
import { embeddingsForPaths } from '../../src/eval/pair-embeddings.js';

const set: EmbeddingSet = {
  dim: 3,
  vectors: Float32Array.from([0.5, -1.25, 3, 1e-7, 2, -0.1, 7, 8, 9]),
  meta: [{ path: 'A/A_0001.jpg', label: 'A' }, { label: 'B' }, { path: 'C/C_0001.jpg' }],
};

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arcface-emb-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('embeddings files', () => {
  it('round-trips both forms through files, told apart by content', async () => {
    for (const name of ['e.jsonl', 'e.bin', 'odd-name.txt']) {
      await writeEmbeddings(join(dir, name), set);
      const back = await readEmbeddings(join(dir, name));
      expect(back.dim).toBe(3);
      expect([...back.vectors]).toEqual([...set.vectors]);
      expect(back.meta).toEqual(set.meta);
    }
  });

  it('lays the binary form out as documented: magic, count, dim, floats, then a JSON trailer', () => {
    const bytes = encodeEmbeddingsBinary(set);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(new TextDecoder().decode(bytes.subarray(0, 6))).toBe('AFEMB1');
    expect(view.getUint32(6, true)).toBe(3);
    expect(view.getUint32(10, true)).toBe(3);
    expect(view.getFloat32(14, true)).toBe(0.5);
    expect(view.getFloat32(14 + 4 * 8, true)).toBe(9);
    const len = view.getUint32(14 + 36, true);
    expect(JSON.parse(new TextDecoder().decode(bytes.subarray(54, 54 + len)))).toEqual(set.meta);
    // Without the trailer the floats still read, with empty metadata.
    const bare = decodeEmbeddingsBinary(bytes.subarray(0, 50));
    expect([...bare.vectors]).toEqual([...set.vectors]);
    expect(bare.meta).toEqual([{}, {}, {}]);
  });

  it('rejects damaged binary files with a reason', () => {
    const bytes = encodeEmbeddingsBinary(set);
    expect(() => decodeEmbeddingsBinary(bytes.subarray(0, 40), 'x.bin')).toThrow(
      /x\.bin: header says 3 x 3 floats/,
    );
    expect(() => decodeEmbeddingsBinary(bytes.subarray(0, bytes.length - 1), 'x.bin')).toThrow(
      /trailer says/,
    );
    const wrong = bytes.slice();
    wrong[0] = 0x42;
    expect(() => decodeEmbeddingsBinary(wrong, 'x.bin')).toThrow(/not an AFEMB1 file/);
  });

  it('reports bad JSON lines with their line number', () => {
    const ok = '{"label":"A","embedding":[1,2]}';
    expect(() => parseEmbeddingsJsonl(`${ok}\n{"embedding":[1,2,3]}`, 'e.jsonl')).toThrow(
      'e.jsonl:2: embedding has 3 values, earlier ones 2',
    );
    expect(() => parseEmbeddingsJsonl(`${ok}\n\n{oops`, 'e.jsonl')).toThrow(/^e\.jsonl:3: not JSON/);
    expect(() => parseEmbeddingsJsonl(`{"embedding":[1,"x"]}`, 'e.jsonl')).toThrow(
      'e.jsonl:1: embedding[1] is not a finite number',
    );
    expect(() => parseEmbeddingsJsonl(`{"path":3,"embedding":[1]}`, 'e.jsonl')).toThrow(
      "e.jsonl:1: 'path' must be a string",
    );
    expect(() => parseEmbeddingsJsonl('\n', 'e.jsonl')).toThrow('e.jsonl: no embeddings');
  });

  it('streams a JSON-lines file from disk with the same checks', async () => {
    await writeFile(join(dir, 'bad.jsonl'), '{"embedding":[1]}\n{"embedding":[]}\n');
    await expect(readEmbeddings(join(dir, 'bad.jsonl'))).rejects.toThrow(
      /bad\.jsonl:2: 'embedding' must be a non-empty array/,
    );
  });

  it('finds embeddings by relative path, also when the file holds absolute or ./ paths', () => {
    const keyed: EmbeddingSet = {
      dim: 1,
      vectors: Float32Array.from([1, 2, 3]),
      meta: [{ path: '/data/lfw/A/A_0001.jpg' }, { path: './B/B_0002.jpg' }, { path: 'C\\C_0001.jpg' }],
    };
    const r = embeddingsForPaths(keyed, ['B/B_0002.jpg', 'A/A_0001.jpg', 'C/C_0001.jpg', 'D/D_0001.jpg']);
    expect([...r.vectors]).toEqual([2, 1, 3, 0]);
    expect(r.ok).toEqual([true, true, true, false]);
    expect(r.failures).toEqual([
      { path: 'D/D_0001.jpg', message: 'no embedding with this path in the embeddings file' },
    ]);
  });
});
