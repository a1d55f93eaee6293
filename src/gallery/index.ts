/** The gallery: subjects and faces in a database (embedded PGlite or PostgreSQL), enrolment and identification. */
export type {
  AddFacesOptions,
  Face,
  GalleryRecord,
  GalleryStore,
  ImportSummary,
  JsonObject,
  JsonValue,
  NewFace,
  RecognizerInfo,
  SearchHit,
  SearchMode,
  SearchOptions,
  SearchResult,
  Subject,
  SubjectDetail,
  SubjectRef,
} from './types.js';
export { GalleryError, type GalleryErrorCode } from './errors.js';
export { defaultGalleryDir, isServerUrl, openGallery } from './open.js';
export { openEmbeddedGallery } from './embedded.js';
export { openServerGallery, redactUrl, type ServerOptions } from './server.js';
export { DEFAULT_HNSW_THRESHOLD, type SqlStoreOptions } from './sql-store.js';
export { SCHEMA_VERSION } from './schema.js';
export { lineToRecord, parseLines, recordToLine } from './jsonl.js';
export {
  enrolImages,
  identifyEmbedding,
  identifyImage,
  recognizerId,
  type EnrolOptions,
  type EnrolOutcome,
  type EnrolResult,
  type EnrolStatus,
  type Identification,
  type IdentifyOptions,
  type ImageIdentification,
} from './enrol.js';
