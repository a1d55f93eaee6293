/**
 * The gallery store interface: subjects (people) and their faces (embeddings with where they came from), kept in a
 * database. One interface, two backends (src/gallery/embedded.ts: PGlite in a directory; src/gallery/server.ts:
 * PostgreSQL by connection string); the CLI and the HTTP service depend on this file only.
 */
import type { Box, Landmarks5 } from '../face/types.js';

/** A JSON value, as stored in a subject's metadata. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** A subject by numeric id, or by its (unique) name. */
export type SubjectRef = number | string;

/** A person in the gallery. */
export interface Subject {
  readonly id: number;
  readonly name: string;
  readonly metadata: JsonObject;
  readonly createdAt: Date;
  /** Faces enrolled for this subject, all recognisers together. */
  readonly faceCount: number;
}

/** A face to add: one embedding, and where it came from (everything but the embedding is optional). */
export interface NewFace {
  /** L2-normalised embedding (`recognizer`'s dimension). */
  readonly embedding: Float32Array;
  /**
   * Which model produced it, e.g. `faceapi:resnet34` or `onnx:sha256:<hex>` (see `recognizerId`). Embeddings of
   * different recognisers never mix: searches compare only faces of the query's recogniser.
   */
  readonly recognizer: string;
  /** SHA-256 (lower-case hex) of the source image file: the same file is enrolled at most once per recogniser. */
  readonly imageSha256?: string | null;
  /** Where the image came from (a file name), for display only. */
  readonly source?: string | null;
  /** Face box in source image pixels. */
  readonly box?: Box | null;
  readonly landmarks?: Landmarks5 | null;
  /** Detector confidence in [0, 1]. */
  readonly detectorScore?: number | null;
  /** Face quality score in [0, 1] (src/face/quality.ts) at enrolment; null when not measured. */
  readonly quality?: number | null;
  /** Kept on import; new faces get the database's clock. */
  readonly createdAt?: Date;
}

/** A stored face (without its embedding; see {@link GalleryStore.faceEmbeddings}). */
export interface Face {
  readonly id: number;
  readonly subjectId: number;
  readonly recognizer: string;
  readonly dim: number;
  readonly imageSha256: string | null;
  readonly source: string | null;
  readonly box: Box | null;
  readonly landmarks: Landmarks5 | null;
  readonly detectorScore: number | null;
  readonly quality: number | null;
  readonly createdAt: Date;
}

/** A subject with its faces. */
export interface SubjectDetail extends Subject {
  readonly faces: readonly Face[];
}

/** A recogniser whose embeddings the gallery holds. */
export interface RecognizerInfo {
  readonly id: string;
  readonly dim: number;
  readonly faceCount: number;
  /** True once the HNSW index over its faces exists (searches may then be approximate; see `SearchOptions`). */
  readonly indexed: boolean;
}

/** How a search ranks: 'exact' compares with every face; 'hnsw' walks the index; 'auto' picks by gallery size. */
export type SearchMode = 'auto' | 'exact' | 'hnsw';

export interface SearchOptions {
  /** Candidates (subjects) to return, best first (default 5). */
  readonly k?: number;
  /**
   * Default 'auto': on a server, HNSW where the recogniser's index exists (built above `hnswThreshold` faces), else
   * exact; on the embedded store, exact from its in-memory copy (src/gallery/memory-search.ts).
   */
  readonly mode?: SearchMode;
}

/** One candidate of a search: a subject and its most similar face. */
export interface SearchHit {
  readonly subjectId: number;
  readonly name: string;
  /** The subject's face closest to the query. */
  readonly faceId: number;
  /** Cosine similarity in [-1, 1]. */
  readonly similarity: number;
}

export interface SearchResult {
  /** Best first, at most k, one per subject. */
  readonly hits: readonly SearchHit[];
  /** How it was ranked. */
  readonly mode: 'exact' | 'hnsw';
}

/** One line of an export (JSON lines): a header, then each subject followed by its faces. */
export type GalleryRecord =
  | { readonly type: 'gallery'; readonly format: 'arcface-ts-gallery'; readonly version: 1 }
  | {
      readonly type: 'subject';
      readonly name: string;
      readonly metadata: JsonObject;
      readonly createdAt: Date;
    }
  | ({ readonly type: 'face'; readonly subject: string; readonly createdAt: Date } & NewFace);

export interface AddFacesOptions {
  /** Create the subject (with this metadata) when no subject has the name; default: the subject must exist. */
  readonly create?: { readonly metadata?: JsonObject };
}

export interface ImportSummary {
  readonly subjects: number;
  readonly faces: number;
}

/**
 * A gallery. Every method is one transaction: a failure leaves the database as it was. Errors a user can cause
 * (unknown subject, taken name, wrong-dimension or other-model embedding, duplicate image, newer schema) are
 * `GalleryError`s with a message meant to be shown as is.
 */
export interface GalleryStore {
  /** 'embedded' (PGlite in a directory, or in memory) or 'server' (PostgreSQL). */
  readonly backend: 'embedded' | 'server';
  /** The directory or the connection string (password hidden), for messages. */
  readonly location: string;

  /** Create a subject; `name` must be new (1-200 characters). */
  createSubject(name: string, metadata?: JsonObject): Promise<Subject>;
  /** A subject with its faces. @throws 'not-found' */
  getSubject(ref: SubjectRef): Promise<SubjectDetail>;
  /** Subjects by name, with face counts. */
  listSubjects(opts?: { readonly limit?: number; readonly offset?: number }): Promise<Subject[]>;
  /** @throws 'not-found', 'name-taken' */
  renameSubject(ref: SubjectRef, name: string): Promise<Subject>;
  /** Replace a subject's metadata. @throws 'not-found' */
  setMetadata(ref: SubjectRef, metadata: JsonObject): Promise<Subject>;
  /** Delete a subject with all its faces and embeddings, in one transaction; returns the faces deleted. */
  removeSubject(ref: SubjectRef): Promise<{ readonly faces: number }>;

  /**
   * Add faces to a subject in one transaction: all are stored or none.
   * @throws 'not-found' (no such subject and no `create`), 'bad-embedding', 'model-mismatch',
   *   'duplicate-image' (an image hash already enrolled; the message names the subject holding it)
   */
  addFaces(ref: SubjectRef, faces: readonly NewFace[], opts?: AddFacesOptions): Promise<Face[]>;
  /** @throws 'not-found' */
  removeFace(faceId: number): Promise<void>;
  /** Embeddings of faces by id, float32 bits exactly as stored. */
  faceEmbeddings(faceIds: readonly number[]): Promise<Map<number, Float32Array>>;
  /** Which subject holds each of these image hashes (for this recogniser), if any. */
  findImages(recognizer: string, sha256s: readonly string[]): Promise<Map<string, { subject: string }>>;

  /** Recognisers the gallery holds faces of (the first enrolment fixes its recogniser). */
  recognizers(): Promise<RecognizerInfo[]>;
  /**
   * Subjects most similar to `embedding`, one hit per subject (its best face).
   * @throws 'model-mismatch' (the gallery holds another recogniser's faces; names both), 'bad-embedding'
   */
  search(embedding: Float32Array, recognizer: string, opts?: SearchOptions): Promise<SearchResult>;
  /** Build the HNSW index for a recogniser now (otherwise built when it passes `hnswThreshold` faces). */
  buildIndex(recognizer: string): Promise<void>;

  /** Everything, as records (header, then each subject and its faces); embeddings exact. */
  exportRecords(): AsyncIterable<GalleryRecord>;
  /**
   * Add exported records: subjects must not exist yet. Committed in batches (up to 500 subjects or 5,000
   * faces each, a subject never split): a failure rolls back its batch; earlier batches stay.
   * @throws 'bad-input', 'name-taken', and addFaces's errors
   */
  importRecords(records: AsyncIterable<GalleryRecord> | Iterable<GalleryRecord>): Promise<ImportSummary>;

  close(): Promise<void>;
}
