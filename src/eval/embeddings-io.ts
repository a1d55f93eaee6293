/**
 * Embeddings files, shared by face/ (which writes them) and eval/ (which reads them). Two forms:
 *
 * JSON lines (`.jsonl`), one record per line:
 *   {"path": "Name/Name_0001.jpg", "label": "Name", "embedding": [0.1, -0.2, ...]}
 * `path` and `label` are optional; blank lines are skipped; every embedding has the same length.
 *
 * Binary (`AFEMB1`), all integers uint32 little-endian, floats float32 little-endian:
 *   bytes 0..5   ASCII "AFEMB1"
 *   bytes 6..9   count
 *   bytes 10..13 dim
 *   then         count * dim floats, row-major (record i at floats i*dim .. i*dim+dim-1)
 *   then, optional trailer: uint32 byte length L, then L bytes of UTF-8 JSON: an array of `count`
 *   objects `{"path"?: string, "label"?: string}`.
 * The metadata trails the floats so that a reader that ignores it reads floats at a fixed offset (14).
 * Readers tell the forms apart by the magic bytes, not the file name.
 */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { createInterface } from 'node:readline';
import { writeFileAtomic } from '../util/fs.js';
import { EvalInputError } from './errors.js';

/** What is known about one embedding besides its vector. */
export interface EmbeddingMeta {
  /** Image path, relative to the image root (forward slashes). */
  readonly path?: string;
  /** Identity label. */
  readonly label?: string;
}

/** A set of embeddings of one dimension, row-major. */
export interface EmbeddingSet {
  readonly dim: number;
  /** count * dim floats; row i is embedding i. */
  readonly vectors: Float32Array;
  /** One entry per row. */
  readonly meta: readonly EmbeddingMeta[];
}

export const BINARY_MAGIC = 'AFEMB1';
const HEADER_BYTES = 14;

/** Number of rows in a set. */
export function countOf(set: EmbeddingSet): number {
  return set.meta.length;
}

function checkSet(set: EmbeddingSet): void {
  if (!Number.isInteger(set.dim) || set.dim < 1)
    throw new EvalInputError('embeddings', `bad dimension ${set.dim}`);
  if (set.vectors.length !== set.meta.length * set.dim) {
    throw new EvalInputError(
      'embeddings',
      `${set.vectors.length} floats for ${set.meta.length} rows of ${set.dim}`,
    );
  }
}

/** Leading `./` and backslashes do not make another image (the same rule as matching pairs to rows). */
const samePathKey = (p: string): string => p.replace(/\\/g, '/').replace(/^(\.\/)+/, '');

/**
 * Refuse a set in which two rows carry the same image path: a pairs evaluation would silently take one of them
 * and a labelled one would score the image against itself as a "genuine" pair.
 * @param where names row i for the message (a line number, or a row)
 */
function checkDistinctPaths(
  meta: readonly EmbeddingMeta[],
  source: string,
  where: (i: number) => string,
): void {
  const first = new Map<string, number>();
  const dups: string[] = [];
  meta.forEach((m, i) => {
    if (m.path === undefined) return;
    const key = samePathKey(m.path);
    const j = first.get(key);
    if (j === undefined) first.set(key, i);
    else dups.push(`'${m.path}' at ${where(j)} and ${where(i)}`);
  });
  if (dups.length) {
    const more = dups.length > 10 ? `, and ${dups.length - 10} more` : '';
    throw new EvalInputError(
      source,
      `${dups.length} duplicate image path(s): ${dups.slice(0, 10).join('; ')}${more}. Each image must appear once`,
    );
  }
}

function metaOf(v: unknown, where: string): EmbeddingMeta {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new EvalInputError(where, 'expected an object');
  const o = v as Record<string, unknown>;
  const out: { path?: string; label?: string } = {};
  for (const key of ['path', 'label'] as const) {
    const x = o[key];
    if (x === undefined || x === null) continue;
    if (typeof x === 'string') out[key] = x;
    else if (typeof x === 'number' && key === 'label') out.label = String(x);
    else throw new EvalInputError(where, `'${key}' must be a string`);
  }
  return out;
}

/** Encode a set in the binary form (with the metadata trailer). */
export function encodeEmbeddingsBinary(set: EmbeddingSet): Uint8Array {
  checkSet(set);
  const meta = new TextEncoder().encode(JSON.stringify(set.meta));
  const floatBytes = set.vectors.length * 4;
  const out = new Uint8Array(HEADER_BYTES + floatBytes + 4 + meta.length);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(BINARY_MAGIC), 0);
  view.setUint32(6, set.meta.length, true);
  view.setUint32(10, set.dim, true);
  if (endianness() === 'LE') {
    out.set(new Uint8Array(set.vectors.buffer, set.vectors.byteOffset, floatBytes), HEADER_BYTES);
  } else {
    for (let i = 0; i < set.vectors.length; i++) view.setFloat32(HEADER_BYTES + 4 * i, set.vectors[i], true);
  }
  view.setUint32(HEADER_BYTES + floatBytes, meta.length, true);
  out.set(meta, HEADER_BYTES + floatBytes + 4);
  return out;
}

/** Decode the binary form. @param source a name for error messages */
export function decodeEmbeddingsBinary(bytes: Uint8Array, source = 'embeddings'): EmbeddingSet {
  const magic = new TextDecoder().decode(bytes.subarray(0, 6));
  if (magic !== BINARY_MAGIC)
    throw new EvalInputError(source, `not an ${BINARY_MAGIC} file (magic '${magic}')`);
  if (bytes.length < HEADER_BYTES) throw new EvalInputError(source, 'truncated header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(6, true);
  const dim = view.getUint32(10, true);
  // A 0-d embedding has no direction; 0 rows is an empty file: neither can be evaluated.
  if (dim === 0)
    throw new EvalInputError(source, `header says dimension 0 (${count} rows): no embedding has 0 values`);
  if (count === 0) throw new EvalInputError(source, 'no embeddings (the header says 0 rows)');
  const floatBytes = count * dim * 4;
  if (bytes.length < HEADER_BYTES + floatBytes) {
    throw new EvalInputError(
      source,
      `header says ${count} x ${dim} floats but the file is ${bytes.length} bytes`,
    );
  }
  const vectors = new Float32Array(count * dim);
  if (endianness() === 'LE') {
    // Copy rather than view: offset 14 is not 4-byte aligned.
    new Uint8Array(vectors.buffer).set(bytes.subarray(HEADER_BYTES, HEADER_BYTES + floatBytes));
  } else {
    for (let i = 0; i < vectors.length; i++) vectors[i] = view.getFloat32(HEADER_BYTES + 4 * i, true);
  }
  const bad = vectors.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new EvalInputError(
      source,
      `row ${Math.floor(bad / dim)} holds a non-finite value (${vectors[bad]})`,
    );
  }
  let meta: EmbeddingMeta[] = Array.from({ length: count }, () => ({}));
  const rest = bytes.length - HEADER_BYTES - floatBytes;
  if (rest > 0) {
    if (rest < 4) throw new EvalInputError(source, 'truncated metadata trailer');
    const len = view.getUint32(HEADER_BYTES + floatBytes, true);
    if (rest !== 4 + len)
      throw new EvalInputError(source, `metadata trailer says ${len} bytes, ${rest - 4} follow`);
    const start = HEADER_BYTES + floatBytes + 4;
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + len)));
    } catch (err) {
      throw new EvalInputError(source, `metadata trailer is not JSON (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (!Array.isArray(parsed) || parsed.length !== count) {
      throw new EvalInputError(source, `metadata trailer must be an array of ${count} objects`);
    }
    meta = parsed.map((m, i) => metaOf(m, `${source}: metadata of row ${i}`));
    checkDistinctPaths(meta, source, (i) => `row ${i}`);
  }
  return { dim, vectors, meta };
}

/** One line of the JSON-lines form. */
export function embeddingRecordLine(meta: EmbeddingMeta, embedding: ArrayLike<number>): string {
  return JSON.stringify({ ...meta, embedding: Array.from(embedding) });
}

/** Encode a set as JSON lines. */
export function encodeEmbeddingsJsonl(set: EmbeddingSet): string {
  checkSet(set);
  const lines = set.meta.map((m, i) =>
    embeddingRecordLine(m, set.vectors.subarray(i * set.dim, (i + 1) * set.dim)),
  );
  return lines.join('\n') + '\n';
}

/** Collects JSON-lines records, checking each with its line number. */
class JsonlCollector {
  private dim = 0;
  private readonly rows: Float32Array[] = [];
  readonly meta: EmbeddingMeta[] = [];
  /** File line of each row, for messages. */
  private readonly lines: number[] = [];
  constructor(private readonly source: string) {}

  add(text: string, lineNo: number): void {
    if (text.trim() === '') return;
    const where = `${this.source}:${lineNo}`;
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (err) {
      throw new EvalInputError(where, `not JSON (${(err as Error).message})`, { cause: err });
    }
    const meta = metaOf(rec, where);
    const emb = (rec as { embedding?: unknown }).embedding;
    if (!Array.isArray(emb) || emb.length === 0)
      throw new EvalInputError(where, `'embedding' must be a non-empty array`);
    if (this.dim === 0) this.dim = emb.length;
    if (emb.length !== this.dim)
      throw new EvalInputError(where, `embedding has ${emb.length} values, earlier ones ${this.dim}`);
    const row = new Float32Array(emb.length);
    for (let i = 0; i < emb.length; i++) {
      const x: unknown = emb[i];
      // Values finite as doubles can still overflow float32 (1e308 becomes Infinity), so check after storing.
      if (typeof x !== 'number' || !Number.isFinite(Math.fround(x)))
        throw new EvalInputError(where, `embedding[${i}] is not a finite number (as float32)`);
      row[i] = x;
    }
    this.rows.push(row);
    this.meta.push(meta);
    this.lines.push(lineNo);
  }

  finish(): EmbeddingSet {
    if (this.rows.length === 0) throw new EvalInputError(this.source, 'no embeddings');
    checkDistinctPaths(this.meta, this.source, (i) => `line ${this.lines[i]}`);
    const vectors = new Float32Array(this.rows.length * this.dim);
    this.rows.forEach((r, i) => vectors.set(r, i * this.dim));
    return { dim: this.dim, vectors, meta: this.meta };
  }
}

/** Parse the JSON-lines form from a string. @param source a name for error messages */
export function parseEmbeddingsJsonl(text: string, source = 'embeddings'): EmbeddingSet {
  const c = new JsonlCollector(source);
  text.split('\n').forEach((line, i) => c.add(line, i + 1));
  return c.finish();
}

/** Read an embeddings file in either form (told apart by the magic bytes). */
export async function readEmbeddings(file: string): Promise<EmbeddingSet> {
  const fh = await open(file, 'r');
  const head = new Uint8Array(6);
  try {
    await fh.read(head, 0, 6, 0);
  } finally {
    await fh.close();
  }
  if (new TextDecoder().decode(head) === BINARY_MAGIC)
    return decodeEmbeddingsBinary(await readFile(file), file);
  // Stream line by line: a large JSON-lines file can exceed V8's maximum string length.
  const c = new JsonlCollector(file);
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) c.add(line, ++n);
  return c.finish();
}

/**
 * Write an embeddings file atomically: binary when the name ends in `.bin` or `.afemb`, JSON lines
 * otherwise.
 */
export async function writeEmbeddings(file: string, set: EmbeddingSet): Promise<void> {
  const binary = /\.(bin|afemb)$/i.test(file);
  await writeFileAtomic(file, binary ? encodeEmbeddingsBinary(set) : encodeEmbeddingsJsonl(set));
}
