/**
 * The gallery's SQL schema and its versioned migrations, shared by the embedded (PGlite) and the server
 * (PostgreSQL) backends. `schema_version` records every migration applied; a database whose highest version is
 * above {@link SCHEMA_VERSION} was written by a newer arcface-ts and is refused rather than misread.
 */
import { GalleryError } from './errors.js';
import type { SqlDatabase } from './sql.js';

/** One step of the schema: applied once, in order, inside one transaction. */
interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'subjects, recognisers, faces with pgvector embeddings',
    sql: `
      CREATE TABLE recognizers (
        id text PRIMARY KEY,
        dim integer NOT NULL CHECK (dim > 0),
        -- Name of the HNSW index over this recogniser's faces, once built (NULL: exact search only).
        hnsw_index text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE subjects (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE faces (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        subject_id bigint NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
        recognizer text NOT NULL REFERENCES recognizers (id),
        dim integer NOT NULL,
        embedding vector NOT NULL CHECK (vector_dims(embedding) = dim),
        image_sha256 text CHECK (image_sha256 ~ '^[0-9a-f]{64}$'),
        source text,
        box real[] CHECK (box IS NULL OR cardinality(box) = 4),
        landmarks real[] CHECK (landmarks IS NULL OR cardinality(landmarks) = 10),
        detector_score real,
        quality real,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- One image enrols one face per recogniser: a second enrolment of the same file is a duplicate.
        UNIQUE (recognizer, image_sha256)
      );
      CREATE INDEX faces_subject ON faces (subject_id);
    `,
  },
];

/** The schema version this build writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Serialises migrations between processes sharing one server (an arbitrary constant: "arcface" in ASCII). */
const MIGRATION_LOCK = 0x617263666163;

async function currentVersion(db: SqlDatabase): Promise<number> {
  const [exists] = await db.query<{ t: string | null }>(`SELECT to_regclass('schema_version')::text AS t`);
  if (!exists.t) return 0;
  const [row] = await db.query<{ v: number | null }>(`SELECT max(version) AS v FROM schema_version`);
  return row.v ?? 0;
}

function refuseNewer(version: number, where: string): void {
  if (version > SCHEMA_VERSION) {
    throw new GalleryError(
      'schema-newer',
      `the gallery at ${where} has schema version ${version}, written by a newer arcface-ts; this one ` +
        `understands up to version ${SCHEMA_VERSION}. Upgrade arcface-ts to open it (it was not modified).`,
    );
  }
}

/**
 * Bring the database to {@link SCHEMA_VERSION}: create the pgvector extension, then apply missing migrations.
 * @param where the database's location, for messages.
 * @throws GalleryError 'schema-newer' when the database is newer than this build (nothing is changed).
 */
export async function migrate(db: SqlDatabase, where: string): Promise<void> {
  refuseNewer(await currentVersion(db), where);
  if ((await currentVersion(db)) === SCHEMA_VERSION) return;
  await db.transaction(async (tx) => {
    // Two processes opening a fresh server database at once: the second waits, then sees the work done.
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.exec(`CREATE EXTENSION IF NOT EXISTS vector`);
    await tx.exec(`
      CREATE TABLE IF NOT EXISTS schema_version (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const [row] = await tx.query<{ v: number | null }>(`SELECT max(version) AS v FROM schema_version`);
    const have = row.v ?? 0;
    refuseNewer(have, where);
    for (const m of MIGRATIONS.filter((x) => x.version > have)) {
      await tx.exec(m.sql);
      await tx.query(`INSERT INTO schema_version (version, description) VALUES ($1, $2)`, [
        m.version,
        m.description,
      ]);
    }
  });
}
