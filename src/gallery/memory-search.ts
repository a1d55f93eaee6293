/**
 * Exact search over one recogniser's embeddings held in memory: the embedded store's fast path. PGlite runs in
 * this process and one process owns its directory (src/gallery/lock.ts), so every write goes through this
 * process's store, which patches the copy here; searches then scan a Float32Array instead of paying PGlite's
 * per-query cost and its WebAssembly arithmetic.
 *
 * The scan is blocked: faces live in fixed blocks of {@link BLOCK_ROWS} rows, each scored by the engine's
 * MatMul (ONNX Runtime) against the query, in float32. At 100k x 512 that measured 3.5x faster than a plain
 * TypeScript loop (docs/GALLERY.md). The float32 scores only shortlist: every face within a margin of the k-th
 * best subject is rescored in float64 as pgvector's cosine (dot / (|a| |b|)), so the ranking and similarities are
 * those of the SQL exact search, not of float32 rounding.
 */
import { Program, input, matmul } from '../engine/index.js';
import type { SearchHit } from './types.js';

/** Rows per block: one MatMul run each (16 MiB at 512-d). */
export const BLOCK_ROWS = 8192;

/**
 * Below this many faces the scan runs as a float64 TypeScript loop: a few million multiply-adds, cheaper than an
 * ONNX Runtime run over a whole zero-padded block.
 */
export const DEFAULT_ENGINE_FROM = 2048;

/**
 * Shortlist margin on float32 scores. A float32 dot of two unit 512-d vectors is within about 1e-6 of the
 * float64 one; 1e-4 keeps every face that could be in the true top k with room to spare.
 */
const MARGIN = 1e-4;

/** One face as it is loaded or added. */
export interface MemoryFace {
  readonly faceId: number;
  readonly subjectId: number;
  readonly embedding: Float32Array;
}

/** The faces of one recogniser, in blocks; row order is arbitrary (removal moves the last row into the hole). */
export class RecognizerFaces {
  private readonly blocks: Float32Array[] = [];
  private faceIds: Float64Array<ArrayBuffer> = new Float64Array(0);
  private subjectIds: Float64Array<ArrayBuffer> = new Float64Array(0);
  /** 1 / |embedding| per row: pgvector's cosine divides by both norms, and stored vectors are unit only to 1e-3. */
  private invNorms: Float64Array<ArrayBuffer> = new Float64Array(0);
  private rowOfFace = new Map<number, number>();
  private n = 0;

  constructor(readonly dim: number) {}

  /** Faces held. */
  get count(): number {
    return this.n;
  }

  private grow(rows: number): void {
    if (rows <= this.faceIds.length) return;
    const cap = Math.max(rows, 2 * this.faceIds.length, 1024);
    const widen = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      b.set(a.subarray(0, this.n));
      return b;
    };
    this.faceIds = widen(this.faceIds);
    this.subjectIds = widen(this.subjectIds);
    this.invNorms = widen(this.invNorms);
    while (this.blocks.length * BLOCK_ROWS < rows) this.blocks.push(new Float32Array(BLOCK_ROWS * this.dim));
  }

  /** Append faces (their embeddings are copied). @throws Error on a wrong dimension or a face already held. */
  add(faces: readonly MemoryFace[]): void {
    this.grow(this.n + faces.length);
    for (const f of faces) {
      if (f.embedding.length !== this.dim) {
        throw new Error(`memory search: a ${f.embedding.length}-d face among ${this.dim}-d ones`);
      }
      if (this.rowOfFace.has(f.faceId)) throw new Error(`memory search: face #${f.faceId} added twice`);
      const row = this.n++;
      this.blocks[Math.floor(row / BLOCK_ROWS)].set(f.embedding, (row % BLOCK_ROWS) * this.dim);
      this.faceIds[row] = f.faceId;
      this.subjectIds[row] = f.subjectId;
      let s = 0;
      for (let i = 0; i < f.embedding.length; i++) s += f.embedding[i] * f.embedding[i];
      this.invNorms[row] = s > 0 ? 1 / Math.sqrt(s) : 0;
      this.rowOfFace.set(f.faceId, row);
    }
  }

  private removeRow(row: number): void {
    const last = this.n - 1;
    this.rowOfFace.delete(this.faceIds[row]);
    const dst = this.blocks[Math.floor(row / BLOCK_ROWS)];
    const src = this.blocks[Math.floor(last / BLOCK_ROWS)];
    const srcAt = (last % BLOCK_ROWS) * this.dim;
    if (row !== last) {
      dst.set(src.subarray(srcAt, srcAt + this.dim), (row % BLOCK_ROWS) * this.dim);
      this.faceIds[row] = this.faceIds[last];
      this.subjectIds[row] = this.subjectIds[last];
      this.invNorms[row] = this.invNorms[last];
      this.rowOfFace.set(this.faceIds[row], row);
    }
    // Zero the freed row: padded rows of the last block must score 0, not an old face.
    src.fill(0, srcAt, srcAt + this.dim);
    this.n = last;
  }

  /** Drop one face, if held. */
  removeFace(faceId: number): void {
    const row = this.rowOfFace.get(faceId);
    if (row !== undefined) this.removeRow(row);
  }

  /** Drop every face of a subject. */
  removeSubject(subjectId: number): void {
    for (let row = this.n - 1; row >= 0; row--) {
      if (this.subjectIds[row] === subjectId) this.removeRow(row);
    }
  }

  /**
   * The k-th highest per-subject best score: faces in score order, the score where the k-th distinct subject
   * first appears (a subject first appears at its best face). The best few faces are kept in a min-heap, so a
   * search costs one comparison per face, not a map over every subject; when they hold fewer than k subjects
   * (subjects with many near-identical faces) every subject's best is taken instead.
   */
  private kthSubjectScore(scores: Float64Array, k: number): number {
    const n = this.n;
    const cap = Math.min(n, Math.max(4 * k, 64));
    const heap = new Float64Array(cap);
    const heapRow = new Int32Array(cap);
    let size = 0;
    const siftDown = (): void => {
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < size && heap[l] < heap[m]) m = l;
        if (r < size && heap[r] < heap[m]) m = r;
        if (m === i) return;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        [heapRow[i], heapRow[m]] = [heapRow[m], heapRow[i]];
        i = m;
      }
    };
    for (let row = 0; row < n; row++) {
      const v = scores[row];
      if (size < cap) {
        // Sift up.
        let i = size++;
        heap[i] = v;
        heapRow[i] = row;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if (heap[parent] <= heap[i]) break;
          [heap[i], heap[parent]] = [heap[parent], heap[i]];
          [heapRow[i], heapRow[parent]] = [heapRow[parent], heapRow[i]];
          i = parent;
        }
      } else if (v > heap[0]) {
        heap[0] = v;
        heapRow[0] = row;
        siftDown();
      }
    }
    const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => heap[b] - heap[a]);
    const seen = new Set<number>();
    for (const i of order) {
      seen.add(this.subjectIds[heapRow[i]]);
      if (seen.size === k) return heap[i];
    }
    // Every face is in the heap: fewer than k subjects in all, so every face counts.
    if (size === n) return -Infinity;
    const bestOf = new Map<number, number>();
    for (let row = 0; row < n; row++) {
      const sid = this.subjectIds[row];
      const b = bestOf.get(sid);
      if (b === undefined || scores[row] > b) bestOf.set(sid, scores[row]);
    }
    const bests = [...bestOf.values()].sort((a, b) => b - a);
    return bests[Math.min(k, bests.length) - 1];
  }

  /** Float64 cosine of row `row` with `q` (whose inverse norm is `qInv`): pgvector's `1 - (a <=> b)`. */
  private exactScore(row: number, q: Float32Array, qInv: number): number {
    const block = this.blocks[Math.floor(row / BLOCK_ROWS)];
    const o = (row % BLOCK_ROWS) * this.dim;
    let d = 0;
    for (let i = 0; i < this.dim; i++) d += block[o + i] * q[i];
    return Math.max(-1, Math.min(1, d * this.invNorms[row] * qInv));
  }

  /**
   * The k subjects with the most similar face to `q`, best first (ties by subject id), each with its best face.
   * @param scan scores rows of a block against q (float32 MatMul), or undefined for the float64 loop
   * @param nameOf the subject's name
   */
  async search(
    q: Float32Array,
    k: number,
    nameOf: (subjectId: number) => string,
    scan: ((block: Float32Array, q: Float32Array) => Promise<Float32Array>) | undefined,
  ): Promise<SearchHit[]> {
    const n = this.n;
    if (n === 0) return [];
    let qs = 0;
    for (let i = 0; i < q.length; i++) qs += q[i] * q[i];
    const qInv = qs > 0 ? 1 / Math.sqrt(qs) : 0;
    // Pass 1: a score per row (float32 from the engine, or float64 here), best per subject.
    const scores = new Float64Array(n);
    if (scan) {
      for (let b = 0; b * BLOCK_ROWS < n; b++) {
        const s = await scan(this.blocks[b], q);
        const rows = Math.min(BLOCK_ROWS, n - b * BLOCK_ROWS);
        for (let r = 0; r < rows; r++) {
          const row = b * BLOCK_ROWS + r;
          scores[row] = s[r] * this.invNorms[row] * qInv;
        }
      }
    } else {
      for (let row = 0; row < n; row++) scores[row] = this.exactScore(row, q, qInv);
    }
    // The k-th best subject's score bounds what can still make the top k once rescored exactly.
    const cut = this.kthSubjectScore(scores, k) - (scan ? MARGIN : 0);
    // Pass 2: the shortlisted faces in float64, best face per subject.
    const hits = new Map<number, { faceId: number; similarity: number }>();
    for (let row = 0; row < n; row++) {
      if (scores[row] < cut) continue;
      const sim = scan ? this.exactScore(row, q, qInv) : scores[row];
      const sid = this.subjectIds[row];
      const h = hits.get(sid);
      if (!h || sim > h.similarity || (sim === h.similarity && this.faceIds[row] < h.faceId)) {
        hits.set(sid, { faceId: this.faceIds[row], similarity: sim });
      }
    }
    return [...hits.entries()]
      .sort((a, b) => b[1].similarity - a[1].similarity || a[0] - b[0])
      .slice(0, k)
      .map(([subjectId, h]) => ({ subjectId, name: nameOf(subjectId), ...h }));
  }
}

/** Options of {@link MemorySearch}. */
export interface MemorySearchOptions {
  /** Scan with the engine's MatMul from this many faces of a recogniser (default {@link DEFAULT_ENGINE_FROM}). */
  readonly engineFrom?: number;
  /** ONNX Runtime intra-op threads for the scan (default: all cores). */
  readonly threads?: number;
}

/**
 * Each recogniser's faces and the subjects' names, loaded on demand and patched by the owner's writes. The owner
 * (src/gallery/sql-store.ts) brackets every write with {@link beginWrite} / {@link endWrite}: a load that overlaps
 * any write is thrown away (the caller falls back to SQL), so what is installed is never missing a committed
 * write nor holding a rolled-back one.
 */
export class MemorySearch {
  private readonly faces = new Map<string, RecognizerFaces>();
  private names: Map<number, string> | undefined;
  private readonly programs = new Map<number, Promise<Program>>();
  private readonly loading = new Map<string, Promise<boolean>>();
  private writesInFlight = 0;
  private writeSeq = 0;
  private readonly engineFrom: number;

  constructor(private readonly opts: MemorySearchOptions = {}) {
    this.engineFrom = opts.engineFrom ?? DEFAULT_ENGINE_FROM;
  }

  /** Call before a write starts (before its transaction). */
  beginWrite(): void {
    this.writesInFlight++;
    this.writeSeq++;
  }

  /** Call when a write has finished, committed or not, after patching. */
  endWrite(): void {
    this.writesInFlight--;
  }

  /** Forget everything (reloaded on the next search). */
  invalidate(): void {
    this.faces.clear();
    this.names = undefined;
  }

  /** The loaded faces of a recogniser, if any (for patching). */
  loaded(recognizer: string): RecognizerFaces | undefined {
    return this.names ? this.faces.get(recognizer) : undefined;
  }

  /** Subject names, when loaded (for patching). */
  get subjectNames(): Map<number, string> | undefined {
    return this.names;
  }

  /** Remove a subject's faces from every loaded recogniser, and its name. */
  removeSubject(subjectId: number): void {
    for (const f of this.faces.values()) f.removeSubject(subjectId);
    this.names?.delete(subjectId);
  }

  /** Remove one face from every loaded recogniser. */
  removeFace(faceId: number): void {
    for (const f of this.faces.values()) f.removeFace(faceId);
  }

  /**
   * Load (once) and hold a recogniser's faces and the subjects' names.
   * @param loadNames every subject's id and name
   * @param loadFaces every face of the recogniser, in pages
   * @returns false when a write overlapped the load (nothing installed; search through SQL this time)
   */
  async ensure(
    recognizer: string,
    dim: number,
    loadNames: () => Promise<Map<number, string>>,
    loadFaces: (sink: (page: readonly MemoryFace[]) => void) => Promise<void>,
  ): Promise<boolean> {
    if (this.names && this.faces.has(recognizer)) return true;
    if (this.writesInFlight > 0) return false;
    // Concurrent first searches share one load.
    let loading = this.loading.get(recognizer);
    if (!loading) {
      loading = this.load(recognizer, dim, loadNames, loadFaces).finally(() =>
        this.loading.delete(recognizer),
      );
      this.loading.set(recognizer, loading);
    }
    return loading;
  }

  private async load(
    recognizer: string,
    dim: number,
    loadNames: () => Promise<Map<number, string>>,
    loadFaces: (sink: (page: readonly MemoryFace[]) => void) => Promise<void>,
  ): Promise<boolean> {
    const seq = this.writeSeq;
    const names = this.names ?? (await loadNames());
    const faces = new RecognizerFaces(dim);
    await loadFaces((page) => faces.add(page));
    if (this.writeSeq !== seq || this.writesInFlight > 0) return false;
    if (this.names !== names) {
      // Names loaded now: recognisers loaded before (with the old names) stay valid, names are shared.
      this.names = names;
    }
    this.faces.set(recognizer, faces);
    return true;
  }

  /** Exact top-k subjects of a loaded recogniser. Call {@link ensure} first. */
  async search(recognizer: string, q: Float32Array, k: number): Promise<SearchHit[]> {
    const faces = this.faces.get(recognizer);
    const names = this.names;
    if (!faces || !names) throw new Error(`memory search: ${recognizer} is not loaded`);
    const nameOf = (id: number): string => names.get(id) ?? `#${id}`;
    if (faces.count < this.engineFrom) return faces.search(q, k, nameOf, undefined);
    const program = await this.program(faces.dim);
    const qCol = Float32Array.from(q);
    return faces.search(q, k, nameOf, async (block) => {
      const out = await program.run({ g: block, q: qCol });
      return out.s as Float32Array;
    });
  }

  /** The MatMul [BLOCK_ROWS, dim] x [dim, 1], compiled once per dimension. */
  private program(dim: number): Promise<Program> {
    let p = this.programs.get(dim);
    if (!p) {
      const g = input('g', [BLOCK_ROWS, dim]);
      const q = input('q', [dim, 1]);
      // Feeds are checked once, where embeddings enter the store (checkEmbedding), not on every scan.
      p = Program.compile(
        { outputs: { s: matmul(g, q) } },
        { threads: this.opts.threads, checkFinite: false, spinning: false },
      );
      p.catch(() => this.programs.delete(dim));
      this.programs.set(dim, p);
    }
    return p;
  }

  /** Release the engine sessions and the memory. */
  async dispose(): Promise<void> {
    this.invalidate();
    const programs = [...this.programs.values()];
    this.programs.clear();
    for (const p of programs) await (await p.catch(() => undefined))?.dispose();
  }
}
