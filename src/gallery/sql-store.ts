/**
 * The gallery store over SQL: one implementation of {@link GalleryStore} for both backends, which differ only in
 * how they open an {@link SqlDatabase} (src/gallery/embedded.ts, src/gallery/server.ts).
 */
import { createHash } from 'node:crypto';
import type { Box, Landmarks5, Point } from '../face/types.js';
import { GalleryError } from './errors.js';
import { type Row, type SqlDatabase, type SqlQueries, sqlLiteral } from './sql.js';
import type {
  AddFacesOptions,
  Face,
  GalleryRecord,
  GalleryStore,
  ImportSummary,
  JsonObject,
  NewFace,
  RecognizerInfo,
  SearchHit,
  SearchOptions,
  SearchResult,
  Subject,
  SubjectDetail,
  SubjectRef,
} from './types.js';
import { type MemoryFace, MemorySearch, type MemorySearchOptions } from './memory-search.js';
import { checkEmbedding, decodeVectorSend, vectorLiteral } from './vector.js';

/**
 * Faces of one recogniser from which the HNSW index is built and searches become approximate by default.
 * Chosen by measurement (bench/gallery.ts, docs/GALLERY.md): at 2,000 faces exact search was as fast as HNSW on
 * both backends; at 10,000 HNSW was 1.7x (embedded) to 4.5x (server) faster with recall@1 1.0 against exact.
 */
export const DEFAULT_HNSW_THRESHOLD = 10_000;

/** pgvector's `hnsw.ef_search` by default: recall@1 against exact search in docs/GALLERY.md. */
export const DEFAULT_EF_SEARCH = 100;

/** The session setting each backend applies to every connection. */
export function efSearchSetting(opts: SqlStoreOptions): string {
  const ef = opts.efSearch ?? DEFAULT_EF_SEARCH;
  if (!Number.isInteger(ef) || ef < 1 || ef > 1000) {
    throw new GalleryError('bad-input', `bad efSearch ${ef}: an integer in [1, 1000]`);
  }
  return `SET hnsw.ef_search = ${ef}`;
}

export interface SqlStoreOptions {
  /** Build a recogniser's HNSW index once it holds this many faces (default {@link DEFAULT_HNSW_THRESHOLD}). */
  readonly hnswThreshold?: number;
  /** pgvector's `hnsw.ef_search` for approximate searches (default 100: recall@1 vs exact in docs/GALLERY.md). */
  readonly efSearch?: number;
  /** `maintenance_work_mem` while building an index (default '256MB'): a graph that fits builds far faster. */
  readonly indexBuildMemory?: string;
  /**
   * Embedded backend only (ignored on a server, where other processes write): answer exact searches from each
   * recogniser's embeddings held in memory (src/gallery/memory-search.ts), loaded on the first search and kept
   * in step by this store's writes. Default true; false searches in SQL. With it, 'auto' searches are exact
   * (the scan beats PGlite's HNSW walk, docs/GALLERY.md) and no index is built unless `hnswThreshold` is given.
   */
  readonly memorySearch?: boolean | MemorySearchOptions;
}

/** Faces per page when loading a recogniser's embeddings into memory. */
const LOAD_PAGE = 5000;
/** Faces per binary COPY when loading from PGlite (about 100 MB at 512-d). */
const COPY_PAGE = 50_000;

/** Rows per INSERT statement: 12 parameters a face stays far below PostgreSQL's 65,535-parameter limit. */
const INSERT_CHUNK = 500;

/**
 * An import commits every this many subjects (or faces, whichever comes first): a subject is never split across
 * transactions, and large imports do not hold one huge transaction.
 */
const IMPORT_BATCH_SUBJECTS = 500;
const IMPORT_BATCH_FACES = 5000;

/** On a server, faces this process adds between two counts for the HNSW threshold (see maintainIndexes). */
const RECOUNT_EVERY = 1000;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** The PostgreSQL SQLSTATE of a driver error (both `pg` and PGlite expose `code`). */
function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function checkName(name: string): string {
  if (typeof name !== 'string' || name.trim() !== name || name.length < 1 || name.length > 200) {
    throw new GalleryError(
      'bad-input',
      `bad subject name ${JSON.stringify(name)}: 1-200 characters, no leading or trailing spaces`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new GalleryError('bad-input', `bad subject name ${JSON.stringify(name)}: control characters`);
  }
  return name;
}

function checkMetadata(metadata: unknown): JsonObject {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new GalleryError('bad-input', 'subject metadata must be a JSON object');
  }
  return metadata as JsonObject;
}

function describeRef(ref: SubjectRef): string {
  return typeof ref === 'number' ? `subject #${ref}` : `subject '${ref}'`;
}

function refWhere(ref: SubjectRef, param: number): { sql: string; value: string | number } {
  if (typeof ref === 'number') {
    if (!Number.isSafeInteger(ref)) throw new GalleryError('bad-input', `bad subject id ${ref}`);
    return { sql: `id = $${param}`, value: ref };
  }
  return { sql: `name = $${param}`, value: ref };
}

function toSubject(r: Row): Subject {
  return {
    id: num(r.id),
    name: String(r.name),
    metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata) as JsonObject,
    createdAt: new Date(r.created_at as string | Date),
    faceCount: num(r.face_count ?? 0),
  };
}

function floats(v: unknown): number[] | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) throw new Error(`expected an array from the database, got ${typeof v}`);
  return v.map((x) => Math.fround(Number(x)));
}

function toFace(r: Row): Face {
  const b = floats(r.box);
  const l = floats(r.landmarks);
  const box: Box | null = b ? { x1: b[0], y1: b[1], x2: b[2], y2: b[3] } : null;
  const landmarks = l
    ? (Array.from({ length: 5 }, (_, i): Point => [l[2 * i], l[2 * i + 1]]) as unknown as Landmarks5)
    : null;
  return {
    id: num(r.id),
    subjectId: num(r.subject_id),
    recognizer: String(r.recognizer),
    dim: num(r.dim),
    imageSha256: (r.image_sha256 as string | null) ?? null,
    source: (r.source as string | null) ?? null,
    box,
    landmarks,
    detectorScore: numOrNull(r.detector_score),
    quality: numOrNull(r.quality),
    createdAt: new Date(r.created_at as string | Date),
  };
}

const SUBJECT_COLUMNS = `s.id, s.name, s.metadata, s.created_at,
  (SELECT count(*) FROM faces f WHERE f.subject_id = s.id) AS face_count`;
const FACE_COLUMNS = `id, subject_id, recognizer, dim, image_sha256, source, box, landmarks, detector_score,
  quality, created_at`;

/** A Postgres array literal of numbers or of strings that need no quoting (hex hashes). */
function arrayLiteral(values: readonly (number | string)[]): string {
  return `{${values.join(',')}}`;
}

function realArray(values: readonly number[] | null): string | null {
  if (!values) return null;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new GalleryError('bad-input', `face geometry value ${v} is not finite`);
  }
  return arrayLiteral(values);
}

/** The index name for a recogniser: a hash, since recogniser ids hold characters an identifier cannot. */
function indexName(recognizer: string): string {
  return `faces_hnsw_${createHash('sha256').update(recognizer).digest('hex').slice(0, 16)}`;
}

async function* iterate<T>(items: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T> {
  for await (const item of items) yield item;
}

/** {@link GalleryStore} over an SQL database migrated to the current schema. */
export class SqlGalleryStore implements GalleryStore {
  private readonly hnswThreshold: number;
  private readonly efSearch: number;
  private readonly indexBuildMemory: string;
  private closed = false;
  /** Faces per recogniser at the last count (Infinity once indexed), to skip counting on every write. */
  private readonly countsSeen = new Map<string, { count: number; since: number }>();
  /** Recognisers seen by searches: dimension and whether their HNSW index exists. */
  private readonly indexed = new Map<string, { dim: number; indexed: boolean }>();
  /** The in-memory exact search (embedded backend), or undefined to search in SQL. */
  private readonly memory: MemorySearch | undefined;

  constructor(
    private readonly db: SqlDatabase,
    readonly backend: 'embedded' | 'server',
    readonly location: string,
    opts: SqlStoreOptions = {},
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    const memory = backend === 'embedded' ? (opts.memorySearch ?? true) : false;
    this.memory = memory === false ? undefined : new MemorySearch(memory === true ? {} : memory);
    // With the scan, an index would only be used by explicit 'hnsw' searches: not built unless asked for.
    this.hnswThreshold = opts.hnswThreshold ?? (this.memory ? Infinity : DEFAULT_HNSW_THRESHOLD);
    this.efSearch = opts.efSearch ?? DEFAULT_EF_SEARCH;
    this.indexBuildMemory = opts.indexBuildMemory ?? '256MB';
    if (!/^\d+\s*(kB|MB|GB)$/.test(this.indexBuildMemory)) {
      throw new GalleryError('bad-input', `bad indexBuildMemory '${this.indexBuildMemory}': e.g. '256MB'`);
    }
  }

  /**
   * Run a write, then patch the in-memory search with its result. Any search load overlapping it is discarded
   * (MemorySearch.beginWrite), and a patch that fails leaves the memory copy invalidated, never stale.
   */
  private async write<T>(work: () => Promise<T>, patch?: (m: MemorySearch, result: T) => void): Promise<T> {
    const m = this.memory;
    if (!m) return work();
    m.beginWrite();
    try {
      const result = await work();
      try {
        patch?.(m, result);
      } catch {
        m.invalidate();
      }
      return result;
    } finally {
      m.endWrite();
    }
  }

  /** Patch the in-memory search with faces just committed (`added[i]` stored from `given[i]`). */
  private static patchFaces(
    m: MemorySearch,
    given: readonly { readonly subject: Subject; readonly face: NewFace }[],
    added: readonly Face[],
  ): void {
    const names = m.subjectNames;
    if (!names) return;
    if (given.length !== added.length) throw new Error('faces returned do not match faces given');
    const byModel = new Map<string, MemoryFace[]>();
    added.forEach((f, i) => {
      const g = given[i];
      // RETURNING gives the rows in VALUES order; checked, since a mismatch would attach vectors to wrong ids.
      if (f.subjectId !== g.subject.id || f.recognizer !== g.face.recognizer) {
        throw new Error('faces returned out of order');
      }
      names.set(g.subject.id, g.subject.name);
      const list = byModel.get(f.recognizer) ?? [];
      list.push({ faceId: f.id, subjectId: f.subjectId, embedding: g.face.embedding });
      byModel.set(f.recognizer, list);
    });
    for (const [recognizer, faces] of byModel) m.loaded(recognizer)?.add(faces);
  }

  private live(): SqlDatabase {
    if (this.closed) throw new GalleryError('unavailable', `the gallery at ${this.location} is closed`);
    return this.db;
  }

  private async subjectRow(q: SqlQueries, ref: SubjectRef): Promise<Subject> {
    const w = refWhere(ref, 1);
    const [row] = await q.query(`SELECT ${SUBJECT_COLUMNS} FROM subjects s WHERE s.${w.sql}`, [w.value]);
    if (!row)
      throw new GalleryError('not-found', `no ${describeRef(ref)} in the gallery at ${this.location}`);
    return toSubject(row);
  }

  async createSubject(name: string, metadata: JsonObject = {}): Promise<Subject> {
    checkName(name);
    const meta = JSON.stringify(checkMetadata(metadata));
    try {
      const [row] = await this.write(
        () =>
          this.live().query(
            `INSERT INTO subjects (name, metadata) VALUES ($1, $2::jsonb)
             RETURNING id, name, metadata, created_at, 0 AS face_count`,
            [name, meta],
          ),
        (m, rows) => m.subjectNames?.set(num(rows[0].id), String(rows[0].name)),
      );
      return toSubject(row);
    } catch (err) {
      if (sqlState(err) === '23505') {
        throw new GalleryError('name-taken', `a subject named '${name}' already exists`, { cause: err });
      }
      throw err;
    }
  }

  async getSubject(ref: SubjectRef): Promise<SubjectDetail> {
    return this.live().transaction(async (tx) => {
      const subject = await this.subjectRow(tx, ref);
      const rows = await tx.query(`SELECT ${FACE_COLUMNS} FROM faces WHERE subject_id = $1 ORDER BY id`, [
        subject.id,
      ]);
      return { ...subject, faces: rows.map(toFace) };
    });
  }

  async listSubjects(opts: { limit?: number; offset?: number } = {}): Promise<Subject[]> {
    const limit = opts.limit ?? null;
    const offset = opts.offset ?? 0;
    if (
      (limit !== null && !(Number.isInteger(limit) && limit >= 0)) ||
      !(Number.isInteger(offset) && offset >= 0)
    ) {
      throw new GalleryError('bad-input', `bad page (limit ${limit}, offset ${offset}): integers >= 0`);
    }
    const rows = await this.live().query(
      `SELECT ${SUBJECT_COLUMNS} FROM subjects s ORDER BY s.name LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    return rows.map(toSubject);
  }

  async renameSubject(ref: SubjectRef, name: string): Promise<Subject> {
    checkName(name);
    return this.write(
      () =>
        this.live().transaction(async (tx) => {
          const subject = await this.subjectRow(tx, ref);
          try {
            await tx.query(`UPDATE subjects SET name = $1 WHERE id = $2`, [name, subject.id]);
          } catch (err) {
            if (sqlState(err) === '23505') {
              throw new GalleryError('name-taken', `a subject named '${name}' already exists`, {
                cause: err,
              });
            }
            throw err;
          }
          return { ...subject, name };
        }),
      (m, s) => m.subjectNames?.set(s.id, s.name),
    );
  }

  async setMetadata(ref: SubjectRef, metadata: JsonObject): Promise<Subject> {
    const meta = JSON.stringify(checkMetadata(metadata));
    return this.live().transaction(async (tx) => {
      const subject = await this.subjectRow(tx, ref);
      await tx.query(`UPDATE subjects SET metadata = $1::jsonb WHERE id = $2`, [meta, subject.id]);
      return { ...subject, metadata: JSON.parse(meta) as JsonObject };
    });
  }

  async removeSubject(ref: SubjectRef): Promise<{ faces: number }> {
    const removed = await this.write(
      () =>
        this.live().transaction(async (tx) => {
          const subject = await this.subjectRow(tx, ref);
          // Faces go by ON DELETE CASCADE, in this same transaction: biometric data leaves with its subject.
          await tx.query(`DELETE FROM subjects WHERE id = $1`, [subject.id]);
          return subject;
        }),
      (m, subject) => m.removeSubject(subject.id),
    );
    return { faces: removed.faceCount };
  }

  /** Register a recogniser (first use fixes the gallery's model) and check the faces' embeddings against it. */
  private async checkRecognizer(
    tx: SqlQueries,
    recognizer: string,
    faces: readonly NewFace[],
  ): Promise<void> {
    const dim = faces[0].embedding.length;
    if (typeof recognizer !== 'string' || recognizer.length === 0) {
      throw new GalleryError('bad-input', 'every face needs a recogniser id');
    }
    const known = await tx.query<{ id: string; dim: number }>(`SELECT id, dim FROM recognizers`);
    const other = known.find((r) => r.id !== recognizer);
    if (other) {
      throw new GalleryError(
        'model-mismatch',
        `this gallery holds faces embedded by ${other.id} (${other.dim}-d); these were embedded by ` +
          `${recognizer} (${dim}-d). Embeddings of different models cannot be compared: use ` +
          `--recognizer ${other.id.startsWith('onnx:sha256:') ? 'onnx:<that file>' : other.id}, or another gallery (--db).`,
      );
    }
    const mine = known.find((r) => r.id === recognizer);
    if (!mine) {
      await tx.query(`INSERT INTO recognizers (id, dim) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [
        recognizer,
        dim,
      ]);
    }
    const expected = mine ? num(mine.dim) : dim;
    for (const f of faces) checkEmbedding(f.embedding, expected, recognizer);
  }

  /** Insert faces of one or more subjects (already in `tx`), after checking models, embeddings and duplicates. */
  private async insertFaces(
    tx: SqlQueries,
    items: readonly { readonly subject: Subject; readonly face: NewFace }[],
  ): Promise<Face[]> {
    if (items.length === 0) return [];
    const faces = items.map((x) => x.face);
    const byModel = new Map<string, NewFace[]>();
    for (const f of faces) {
      const group = byModel.get(f.recognizer);
      if (group) group.push(f);
      else byModel.set(f.recognizer, [f]);
    }
    const ownerOf = new Map<string, string>();
    for (const x of items) if (x.face.imageSha256) ownerOf.set(x.face.imageSha256, x.subject.name);
    for (const [recognizer, group] of byModel) {
      await this.checkRecognizer(tx, recognizer, group);
      const hashes = group.flatMap((f) => (f.imageSha256 ? [f.imageSha256] : []));
      for (const h of hashes) {
        if (!/^[0-9a-f]{64}$/.test(h)) throw new GalleryError('bad-input', `bad image hash '${h}'`);
      }
      const seen = new Set<string>();
      for (const h of hashes) {
        if (seen.has(h)) {
          throw new GalleryError(
            'duplicate-image',
            `the same image (sha256 ${h.slice(0, 12)}…) is given twice`,
          );
        }
        seen.add(h);
      }
      const held = await this.findImagesIn(tx, recognizer, hashes);
      const first = held.entries().next();
      if (!first.done) {
        const [h, where] = first.value;
        const mine = ownerOf.get(h);
        throw new GalleryError(
          'duplicate-image',
          `the image with sha256 ${h.slice(0, 12)}… is already enrolled` +
            (where.subject === mine ? ` for '${mine}'` : ` as '${where.subject}'`),
        );
      }
    }
    const out: Face[] = [];
    for (let start = 0; start < items.length; start += INSERT_CHUNK) {
      const chunk = items.slice(start, start + INSERT_CHUNK);
      // Where the backend takes a binary COPY (PGlite), embeddings travel as float32 bytes into a staging table:
      // 5-6x faster than their decimal text through PGlite's protocol (docs/GALLERY.md, bulk load).
      const staged = tx.copyFrom !== undefined;
      if (tx.copyFrom) {
        await tx.exec(`CREATE TEMP TABLE IF NOT EXISTS face_stage (ord integer, embedding vector)`);
        await tx.copyFrom(
          `COPY face_stage (ord, embedding) FROM STDIN WITH (FORMAT binary)`,
          copyBinaryVectors(chunk.map((x) => x.face.embedding)),
        );
      }
      const params: unknown[] = [];
      const values = chunk.map(({ subject, face: f }, ord) => {
        const b = f.box ? [f.box.x1, f.box.y1, f.box.x2, f.box.y2] : null;
        const l = f.landmarks ? f.landmarks.flatMap(([x, y]) => [x, y]) : null;
        const row = [
          staged ? ord : vectorLiteral(f.embedding),
          subject.id,
          f.recognizer,
          f.embedding.length,
          f.imageSha256 ?? null,
          f.source ?? null,
          realArray(b),
          realArray(l),
          f.detectorScore ?? null,
          f.quality ?? null,
          f.createdAt ? f.createdAt.toISOString() : null,
        ];
        const at = params.length;
        params.push(...row);
        const p = (i: number): string => `$${at + i + 1}`;
        return (
          `(${p(0)}::${staged ? 'integer' : 'vector'}, ${p(1)}::bigint, ${p(2)}, ${p(3)}::integer, ${p(4)}, ` +
          `${p(5)}, ${p(6)}::real[], ${p(7)}::real[], ${p(8)}::real, ${p(9)}::real, ` +
          `COALESCE(${p(10)}::timestamptz, now()))`
        );
      });
      const columns = `subject_id, recognizer, dim, image_sha256, source, box, landmarks, detector_score, quality,
        created_at`;
      const sql = staged
        ? // ORDER BY ord: rows are inserted, and returned, in the order given (checked below).
          `INSERT INTO faces (embedding, ${columns})
           SELECT s.embedding, ${columns} FROM (VALUES ${values.join(', ')}) AS v(ord, ${columns})
           JOIN face_stage s ON s.ord = v.ord ORDER BY v.ord RETURNING ${FACE_COLUMNS}`
        : `INSERT INTO faces (embedding, ${columns}) VALUES ${values.join(', ')} RETURNING ${FACE_COLUMNS}`;
      try {
        const rows = await tx.query(sql, params);
        if (staged) await tx.exec(`TRUNCATE face_stage`);
        const faces = rows.map(toFace);
        if (faces.length !== chunk.length || faces.some((f, i) => i > 0 && f.id <= faces[i - 1].id)) {
          throw new Error(`inserting ${chunk.length} faces returned ${faces.length} rows out of order`);
        }
        out.push(...faces);
      } catch (err) {
        if (sqlState(err) === '23505') {
          // Another process enrolled the same image between our check and our insert.
          throw new GalleryError('duplicate-image', `an image given is already enrolled (concurrently)`, {
            cause: err,
          });
        }
        throw err;
      }
    }
    return out;
  }

  async addFaces(ref: SubjectRef, faces: readonly NewFace[], opts: AddFacesOptions = {}): Promise<Face[]> {
    let given: { subject: Subject; face: NewFace }[] = [];
    const added = await this.write(
      () =>
        this.live().transaction(async (tx) => {
          if (opts.create && typeof ref === 'string') {
            checkName(ref);
            // ON CONFLICT: two processes enrolling the same new name both end up adding to the one subject.
            await tx.query(
              `INSERT INTO subjects (name, metadata) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING`,
              [ref, JSON.stringify(checkMetadata(opts.create.metadata ?? {}))],
            );
          }
          const subject = await this.subjectRow(tx, ref);
          given = faces.map((face) => ({ subject, face }));
          return this.insertFaces(tx, given);
        }),
      (m, rows) => SqlGalleryStore.patchFaces(m, given, rows),
    );
    await this.maintainIndexes(new Set(faces.map((f) => f.recognizer)), faces.length);
    return added;
  }

  async removeFace(faceId: number): Promise<void> {
    const rows = await this.write(
      () => this.live().query(`DELETE FROM faces WHERE id = $1 RETURNING id`, [faceId]),
      (m) => m.removeFace(faceId),
    );
    if (rows.length === 0) throw new GalleryError('not-found', `no face #${faceId} in the gallery`);
  }

  async faceEmbeddings(faceIds: readonly number[]): Promise<Map<number, Float32Array>> {
    if (faceIds.some((id) => !Number.isSafeInteger(id))) throw new GalleryError('bad-input', 'bad face id');
    const rows = await this.live().query(
      `SELECT id, vector_send(embedding) AS v FROM faces WHERE id = ANY($1::bigint[])`,
      [arrayLiteral(faceIds)],
    );
    return new Map(rows.map((r) => [num(r.id), decodeVectorSend(r.v as Uint8Array)]));
  }

  private async findImagesIn(
    q: SqlQueries,
    recognizer: string,
    sha256s: readonly string[],
  ): Promise<Map<string, { subject: string }>> {
    if (sha256s.length === 0) return new Map();
    for (const h of sha256s) {
      if (!/^[0-9a-f]{64}$/.test(h)) throw new GalleryError('bad-input', `bad image hash '${h}'`);
    }
    const rows = await q.query(
      `SELECT f.image_sha256 AS h, s.name FROM faces f JOIN subjects s ON s.id = f.subject_id
       WHERE f.recognizer = $1 AND f.image_sha256 = ANY($2::text[])`,
      [recognizer, arrayLiteral(sha256s)],
    );
    return new Map(rows.map((r) => [String(r.h), { subject: String(r.name) }]));
  }

  async findImages(
    recognizer: string,
    sha256s: readonly string[],
  ): Promise<Map<string, { subject: string }>> {
    return this.findImagesIn(this.live(), recognizer, sha256s);
  }

  async recognizers(): Promise<RecognizerInfo[]> {
    const rows = await this.live().query(
      `SELECT r.id, r.dim, r.hnsw_index, (SELECT count(*) FROM faces f WHERE f.recognizer = r.id) AS n
       FROM recognizers r ORDER BY r.created_at`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      dim: num(r.dim),
      faceCount: num(r.n),
      indexed: r.hnsw_index !== null,
    }));
  }

  async search(embedding: Float32Array, recognizer: string, opts: SearchOptions = {}): Promise<SearchResult> {
    const k = opts.k ?? 5;
    if (!Number.isInteger(k) || k < 1 || k > 1000) {
      throw new GalleryError('bad-input', `bad k ${k}: an integer in [1, 1000]`);
    }
    const db = this.live();
    const mode = opts.mode ?? 'auto';
    // A recogniser's dimension never changes and an index once built stays, so the lookup query is skipped when
    // the index is known to exist, or always on the embedded backend, where no other process builds one (a round
    // trip is most of a search's time on PGlite).
    let rec = this.indexed.get(recognizer);
    if (rec && !rec.indexed && this.backend !== 'embedded') rec = undefined;
    if (!rec) {
      const known = await db.query<{ id: string; dim: number; hnsw_index: string | null }>(
        `SELECT id, dim, hnsw_index FROM recognizers`,
      );
      const row = known.find((r) => r.id === recognizer);
      if (!row) {
        if (known.length === 0) return { hits: [], mode: 'exact' };
        const other = known[0];
        throw new GalleryError(
          'model-mismatch',
          `this gallery holds faces embedded by ${other.id} (${other.dim}-d), but the query was embedded by ` +
            `${recognizer} (${embedding.length}-d): embeddings of different models cannot be compared`,
        );
      }
      rec = { dim: num(row.dim), indexed: row.hnsw_index !== null };
      this.indexed.set(recognizer, rec);
    }
    const dim = rec.dim;
    checkEmbedding(embedding, dim, recognizer);
    if (mode === 'hnsw' && !rec.indexed) {
      throw new GalleryError('bad-input', `no HNSW index for ${recognizer} yet: build it first (buildIndex)`);
    }
    if (this.memory && mode !== 'hnsw') {
      const hits = await this.memorySearch(this.memory, recognizer, dim, embedding, k);
      if (hits) return { hits, mode: 'exact' };
    }
    const q = vectorLiteral(embedding);
    if (mode === 'exact' || !rec.indexed) {
      // Every face compared; the best face per subject, then the k best subjects.
      const rows = await db.query(
        `SELECT t.subject_id, s.name, t.face_id, t.d FROM (
           SELECT DISTINCT ON (subject_id) subject_id, id AS face_id, embedding <=> $1::vector AS d
           FROM faces WHERE recognizer = $2 ORDER BY subject_id, d
         ) t JOIN subjects s ON s.id = t.subject_id ORDER BY t.d, t.subject_id LIMIT $3`,
        [q, recognizer, k],
      );
      return { hits: rows.map(toHit), mode: 'exact' };
    }
    // Approximate: the index gives the nearest faces; several may belong to one subject, so fetch more than k.
    const fetch = Math.max(k * 4, 20);
    const ef = Math.min(1000, Math.max(this.efSearch, fetch));
    const expr = `(embedding::vector(${dim}))`;
    // The recogniser is inlined so the planner can match the partial index's predicate.
    const sql = `SELECT t.subject_id, s.name, t.face_id, t.d FROM (
        SELECT subject_id, id AS face_id, ${expr} <=> $1::vector(${dim}) AS d
        FROM faces WHERE recognizer = ${sqlLiteral(recognizer)}
        ORDER BY ${expr} <=> $1::vector(${dim}) LIMIT ${fetch}
      ) t JOIN subjects s ON s.id = t.subject_id ORDER BY t.d`;
    // Each session starts at ef_search = efSearch (set by the backend); only a larger fetch needs its own.
    const rows =
      ef <= this.efSearch
        ? await db.query(sql, [q])
        : await db.transaction(async (tx) => {
            await tx.exec(`SET LOCAL hnsw.ef_search = ${ef}`);
            return tx.query(sql, [q]);
          });
    const best = new Map<number, SearchHit>();
    for (const r of rows) {
      const hit = toHit(r);
      if (!best.has(hit.subjectId)) best.set(hit.subjectId, hit);
    }
    return { hits: [...best.values()].slice(0, k), mode: 'hnsw' };
  }

  /** Exact search from memory; undefined when a write overlapped loading it (then SQL answers). */
  private async memorySearch(
    m: MemorySearch,
    recognizer: string,
    dim: number,
    q: Float32Array,
    k: number,
  ): Promise<SearchHit[] | undefined> {
    const db = this.live();
    const ok = await m.ensure(
      recognizer,
      dim,
      async () => {
        const rows = await db.query(`SELECT id, name FROM subjects`);
        return new Map(rows.map((r) => [num(r.id), String(r.name)]));
      },
      async (sink) => {
        if (db.copyTo) {
          // PGlite hands results over slowly (~1 MB/s measured); a binary COPY comes out as one blob. Paged, so
          // that no blob nears the 32-bit WebAssembly heap's limit (1M 512-d faces are 2 GB).
          for (let lastId = 0; ;) {
            const bytes = await db.copyTo(
              `COPY (SELECT id, subject_id, embedding FROM faces
                 WHERE recognizer = ${sqlLiteral(recognizer)} AND id > ${lastId} ORDER BY id LIMIT ${COPY_PAGE})
               TO STDOUT WITH (FORMAT binary)`,
            );
            const page = parseCopyFaces(bytes);
            if (page.length === 0) return;
            lastId = page[page.length - 1].faceId;
            sink(page);
          }
        }
        for (let lastId = 0; ;) {
          const rows = await db.query(
            `SELECT id, subject_id, vector_send(embedding) AS v FROM faces
             WHERE recognizer = $1 AND id > $2 ORDER BY id LIMIT ${LOAD_PAGE}`,
            [recognizer, lastId],
          );
          if (rows.length === 0) return;
          lastId = num(rows[rows.length - 1].id);
          sink(
            rows.map((r) => ({
              faceId: num(r.id),
              subjectId: num(r.subject_id),
              embedding: decodeVectorSend(r.v as Uint8Array),
            })),
          );
        }
      },
    );
    return ok ? m.search(recognizer, q, k) : undefined;
  }

  async buildIndex(recognizer: string): Promise<void> {
    await this.live().transaction(async (tx) => {
      const [rec] = await tx.query<{ dim: number; hnsw_index: string | null }>(
        // NO KEY UPDATE serialises builders but not other writers' foreign-key checks on this row (FOR KEY
        // SHARE): with FOR UPDATE, a writer blocked on it while holding its faces lock deadlocks CREATE INDEX.
        `SELECT dim, hnsw_index FROM recognizers WHERE id = $1 FOR NO KEY UPDATE`,
        [recognizer],
      );
      if (!rec) throw new GalleryError('not-found', `the gallery holds no faces of ${recognizer}`);
      if (rec.hnsw_index) return;
      const name = indexName(recognizer);
      await tx.exec(`SET LOCAL maintenance_work_mem = '${this.indexBuildMemory}'`);
      await tx.exec(
        `CREATE INDEX IF NOT EXISTS ${name} ON faces USING hnsw ((embedding::vector(${num(rec.dim)})) ` +
          `vector_cosine_ops) WHERE recognizer = ${sqlLiteral(recognizer)}`,
      );
      await tx.query(`UPDATE recognizers SET hnsw_index = $1 WHERE id = $2`, [name, recognizer]);
    });
    this.indexed.delete(recognizer);
  }

  /** Build the HNSW index of recognisers that passed the threshold. */
  private async maintainIndexes(recognizers: ReadonlySet<string>, added: number): Promise<void> {
    for (const id of recognizers) {
      // Counting faces costs a scan, so it is skipped while this process's last count plus what it added since
      // stays below the threshold. On a server other processes add faces too: recount every RECOUNT_EVERY faces
      // this process adds, so that writers each below the threshold still trigger the build together.
      const seen = this.countsSeen.get(id);
      if (seen !== undefined) {
        const since = seen.since + added;
        const stale = this.backend === 'server' && since >= RECOUNT_EVERY;
        if (seen.count + since < this.hnswThreshold && !stale) {
          this.countsSeen.set(id, { count: seen.count, since });
          continue;
        }
      }
      const [row] = await this.live().query(
        `SELECT r.hnsw_index, (SELECT count(*) FROM faces f WHERE f.recognizer = r.id) AS n
         FROM recognizers r WHERE r.id = $1`,
        [id],
      );
      if (!row) continue;
      this.countsSeen.set(id, { count: row.hnsw_index === null ? num(row.n) : Infinity, since: 0 });
      if (row.hnsw_index === null && num(row.n) >= this.hnswThreshold) await this.buildIndex(id);
    }
  }

  async *exportRecords(): AsyncIterable<GalleryRecord> {
    yield { type: 'gallery', format: 'arcface-ts-gallery', version: 1 };
    const page = 200;
    for (let lastId = 0; ;) {
      const subjects = await this.live().query(
        `SELECT id, name, metadata, created_at FROM subjects WHERE id > $1 ORDER BY id LIMIT $2`,
        [lastId, page],
      );
      if (subjects.length === 0) return;
      lastId = num(subjects[subjects.length - 1].id);
      const faces = await this.live().query(
        `SELECT ${FACE_COLUMNS}, vector_send(embedding) AS v FROM faces
         WHERE subject_id = ANY($1::bigint[]) ORDER BY subject_id, id`,
        [arrayLiteral(subjects.map((s) => num(s.id)))],
      );
      const bySubject = new Map<number, Row[]>();
      for (const f of faces) {
        const id = num(f.subject_id);
        bySubject.set(id, [...(bySubject.get(id) ?? []), f]);
      }
      for (const row of subjects) {
        const s = toSubject(row);
        yield { type: 'subject', name: s.name, metadata: s.metadata, createdAt: s.createdAt };
        for (const f of bySubject.get(s.id) ?? []) {
          const face = toFace(f);
          yield {
            type: 'face',
            subject: s.name,
            recognizer: face.recognizer,
            embedding: decodeVectorSend(f.v as Uint8Array),
            imageSha256: face.imageSha256,
            source: face.source,
            box: face.box,
            landmarks: face.landmarks,
            detectorScore: face.detectorScore,
            quality: face.quality,
            createdAt: face.createdAt,
          };
        }
      }
    }
  }

  async importRecords(
    records: AsyncIterable<GalleryRecord> | Iterable<GalleryRecord>,
  ): Promise<ImportSummary> {
    let subjects = 0;
    let faces = 0;
    let header = false;
    interface Pending {
      readonly name: string;
      readonly metadata: JsonObject;
      readonly createdAt: Date;
      readonly faces: NewFace[];
    }
    let batch: Pending[] = [];
    let batchFaces = 0;
    const names = new Set<string>();
    const touched = new Set<string>();
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const group = batch;
      let given: { subject: Subject; face: NewFace }[] = [];
      await this.write(
        () =>
          this.live().transaction(async (tx) => {
            const taken = await tx.query(
              `SELECT name FROM subjects WHERE name IN (SELECT jsonb_array_elements_text($1::jsonb))`,
              [JSON.stringify(group.map((g) => g.name))],
            );
            if (taken.length > 0) {
              throw new GalleryError(
                'name-taken',
                `cannot import '${String(taken[0].name)}': a subject of that name exists`,
              );
            }
            const byName = new Map<string, Subject>();
            for (let start = 0; start < group.length; start += INSERT_CHUNK) {
              const chunk = group.slice(start, start + INSERT_CHUNK);
              const params = chunk.flatMap((g) => [
                checkName(g.name),
                JSON.stringify(checkMetadata(g.metadata)),
                g.createdAt.toISOString(),
              ]);
              const rows = await tx.query(
                `INSERT INTO subjects (name, metadata, created_at) VALUES ${chunk
                  .map((_, i) => `($${3 * i + 1}, $${3 * i + 2}::jsonb, $${3 * i + 3}::timestamptz)`)
                  .join(', ')}
             RETURNING id, name, metadata, created_at, 0 AS face_count`,
                params,
              );
              for (const r of rows) byName.set(String(r.name), toSubject(r));
            }
            given = group.flatMap((g) =>
              g.faces.map((face) => ({ subject: byName.get(g.name) as Subject, face })),
            );
            const added = await this.insertFaces(tx, given);
            return { subjects: [...byName.values()], added };
          }),
        (m, r) => {
          for (const sub of r.subjects) m.subjectNames?.set(sub.id, sub.name);
          SqlGalleryStore.patchFaces(m, given, r.added);
        },
      );
      subjects += group.length;
      for (const g of group) {
        faces += g.faces.length;
        for (const f of g.faces) touched.add(f.recognizer);
      }
      batch = [];
      batchFaces = 0;
    };
    for await (const r of iterate(records)) {
      if (!header) {
        if (r.type !== 'gallery' || r.format !== 'arcface-ts-gallery' || r.version !== 1) {
          throw new GalleryError('bad-input', 'not an arcface-ts gallery export (no version 1 header first)');
        }
        header = true;
        continue;
      }
      if (r.type === 'subject') {
        if (names.has(r.name)) {
          throw new GalleryError('bad-input', `subject '${r.name}' appears twice in the import`);
        }
        names.add(r.name);
        if (batch.length >= IMPORT_BATCH_SUBJECTS || batchFaces >= IMPORT_BATCH_FACES) await flush();
        batch.push({ name: r.name, metadata: r.metadata, createdAt: r.createdAt, faces: [] });
      } else if (r.type === 'face') {
        const current = batch[batch.length - 1];
        if (!current || r.subject !== current.name) {
          throw new GalleryError(
            'bad-input',
            `a face of '${r.subject}' does not follow its subject's record` +
              (current ? ` (it follows '${current.name}')` : ''),
          );
        }
        current.faces.push(r);
        batchFaces += 1;
      } else {
        throw new GalleryError('bad-input', 'a second export header in the middle of the records');
      }
    }
    await flush();
    if (!header) throw new GalleryError('bad-input', 'empty export: no header');
    await this.maintainIndexes(touched, faces);
    return { subjects, faces };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.memory?.dispose();
      await this.db.close();
    } finally {
      await this.onClose();
    }
  }
}

/** Signature, flags and header-extension length of PostgreSQL's binary COPY format. */
const COPY_HEADER = [
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
];

/**
 * Rows (ord integer, embedding vector) in PostgreSQL's binary COPY format; a vector's binary form is pgvector's
 * `vector_send`: uint16 dimension, uint16 unused, big-endian float32s (bit-exact, no decimal round trip).
 */
function copyBinaryVectors(vectors: readonly Float32Array[]): Uint8Array<ArrayBuffer> {
  let size = COPY_HEADER.length + 2;
  for (const v of vectors) size += 2 + 4 + 4 + 4 + 4 + 4 * v.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(COPY_HEADER);
  let o = COPY_HEADER.length;
  vectors.forEach((v, ord) => {
    view.setInt16(o, 2);
    view.setInt32(o + 2, 4);
    view.setInt32(o + 6, ord);
    view.setInt32(o + 10, 4 + 4 * v.length);
    view.setUint16(o + 14, v.length);
    view.setUint16(o + 16, 0);
    o += 18;
    for (let i = 0; i < v.length; i++, o += 4) view.setFloat32(o, v[i]);
  });
  view.setInt16(o, -1);
  return bytes;
}

/** Parse binary COPY output of (id bigint, subject_id bigint, embedding vector) rows. */
function parseCopyFaces(bytes: Uint8Array): MemoryFace[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): Error => new Error(`binary COPY output: ${what}`);
  for (let i = 0; i < 11; i++) if (bytes[i] !== COPY_HEADER[i]) throw bad('no PGCOPY signature');
  let o = 15;
  o += 4 + view.getUint32(o);
  const out: MemoryFace[] = [];
  for (;;) {
    const fields = view.getInt16(o);
    o += 2;
    if (fields === -1) return out;
    if (fields !== 3) throw bad(`${fields} fields in a row, expected 3`);
    if (view.getInt32(o) !== 8 || view.getInt32(o + 12) !== 8) throw bad('ids are not bigint');
    const faceId = Number(view.getBigInt64(o + 4));
    const subjectId = Number(view.getBigInt64(o + 16));
    o += 24;
    const len = view.getInt32(o);
    const embedding = decodeVectorSend(bytes.subarray(o + 4, o + 4 + len));
    o += 4 + len;
    out.push({ faceId, subjectId, embedding });
  }
}

function toHit(r: Row): SearchHit {
  return {
    subjectId: num(r.subject_id),
    name: String(r.name),
    faceId: num(r.face_id),
    // pgvector's cosine distance is 1 - cos; float4 arithmetic, so clamp the tiny excursions past +-1.
    similarity: Math.max(-1, Math.min(1, 1 - num(r.d))),
  };
}
