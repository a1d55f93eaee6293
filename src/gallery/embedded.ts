/**
 * The embedded backend: PostgreSQL compiled to WebAssembly (PGlite) with pgvector, running inside this process
 * and persisted in a directory. No server to install; one process at a time (src/gallery/lock.ts).
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { GalleryError } from './errors.js';
import { type DirLock, LOCK_FILE, lockDirectory } from './lock.js';
import { migrate } from './schema.js';
import type { Row, SqlDatabase, SqlQueries } from './sql.js';
import { SqlGalleryStore, type SqlStoreOptions, efSearchSetting } from './sql-store.js';

/** PGlite keeps the database files in this sub-directory, beside the lock file. */
const DATA_DIR = 'pgdata';

interface PgliteLike {
  query<R>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: R[]; blob?: Blob }>;
  exec(text: string): Promise<unknown>;
}

function queries(pg: PgliteLike): SqlQueries {
  return {
    query: async <R extends Row>(text: string, params: readonly unknown[] = []) =>
      (await pg.query<R>(text, [...params])).rows,
    exec: async (text) => {
      await pg.exec(text);
    },
    // PGlite reads COPY input from its virtual /dev/blob: a memory copy, where query parameters cost ~0.5 us a byte.
    copyFrom: async (copySql, data) => {
      const sql = copySql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'");
      if (sql === copySql) throw new Error(`copyFrom needs COPY … FROM STDIN, got: ${copySql}`);
      await pg.query(sql, [], { blob: new Blob([data]) });
    },
    copyTo: async (copySql) => {
      const sql = copySql.replace(/\bTO\s+STDOUT\b/i, "TO '/dev/blob'");
      if (sql === copySql) throw new Error(`copyTo needs COPY … TO STDOUT, got: ${copySql}`);
      const { blob } = await pg.query(sql);
      return new Uint8Array(blob ? await blob.arrayBuffer() : new ArrayBuffer(0));
    },
  };
}

function wrap(pg: PGlite): SqlDatabase {
  return {
    ...queries(pg),
    transaction: (work) => pg.transaction((tx) => work(queries(tx))),
    close: () => pg.close(),
  };
}

/**
 * Open (creating if needed) an embedded gallery in directory `dir`, or in memory when `dir` is undefined.
 * Creating one takes seconds (PostgreSQL's initdb, in WebAssembly); reopening is faster.
 * @throws GalleryError 'locked' when another process has the directory open, 'schema-newer', 'bad-input' when
 *   `dir` is a file or a non-empty directory that is not a gallery.
 */
export async function openEmbeddedGallery(
  dir?: string,
  opts: SqlStoreOptions = {},
): Promise<SqlGalleryStore> {
  let lock: DirLock | undefined;
  let dataDir: string | undefined;
  const where = dir === undefined ? 'memory' : resolve(dir);
  if (dir !== undefined) {
    const st = await stat(dir).catch(() => undefined);
    if (st && !st.isDirectory()) {
      throw new GalleryError('bad-input', `--db ${dir} is a file: an embedded gallery is a directory`);
    }
    if (st) {
      const entries = await readdir(dir);
      if (entries.length > 0 && !entries.includes(DATA_DIR)) {
        throw new GalleryError(
          'bad-input',
          `${where} is a non-empty directory that is not a gallery (no ${DATA_DIR}/ inside): choose a new path`,
        );
      }
    }
    await mkdir(dir, { recursive: true });
    lock = await lockDirectory(join(dir, LOCK_FILE), where);
    dataDir = join(dir, DATA_DIR);
  }
  let pg: PGlite | undefined;
  try {
    pg = new PGlite({ dataDir, extensions: { vector } });
    await pg.waitReady;
    const db = wrap(pg);
    await migrate(db, where);
    await db.exec(efSearchSetting(opts));
    return new SqlGalleryStore(db, 'embedded', where, opts, async () => lock?.release());
  } catch (err) {
    await pg?.close().catch(() => undefined);
    await lock?.release();
    if (err instanceof GalleryError) throw err;
    throw new GalleryError('unavailable', `cannot open the embedded gallery at ${where}: ${String(err)}`, {
      cause: err,
    });
  }
}
