/**
 * The server backend: PostgreSQL with the pgvector extension, reached by connection string through `pg`. Several
 * processes and machines can share one database; the schema and queries are the embedded backend's.
 */
import pg from 'pg';
import { GalleryError } from './errors.js';
import { migrate } from './schema.js';
import type { Row, SqlDatabase, SqlQueries } from './sql.js';
import { SqlGalleryStore, type SqlStoreOptions, efSearchSetting } from './sql-store.js';

/** The connection string with any password replaced by `***`, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

function queries(client: pg.Pool | pg.PoolClient): SqlQueries {
  return {
    query: async <R extends Row>(text: string, params: readonly unknown[] = []) =>
      (await client.query<R>(text, [...params])).rows,
    exec: async (text) => {
      await client.query(text);
    },
  };
}

export interface ServerOptions extends SqlStoreOptions {
  /** Connections kept open (default 4). */
  readonly poolSize?: number;
}

/**
 * Connect to a gallery on a PostgreSQL server (pgvector installed there), creating the schema when the database
 * is empty.
 * @throws GalleryError 'unavailable' (server unreachable, or pgvector missing, with what to do), 'schema-newer'.
 */
export async function openServerGallery(url: string, opts: ServerOptions = {}): Promise<SqlGalleryStore> {
  const where = redactUrl(url);
  // Every connection starts with the store's hnsw.ef_search (a startup option: no extra round trip).
  const efSearch = efSearchSetting(opts).replace(/^SET (\S+) = (\d+)$/, '-c $1=$2');
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 4, options: efSearch });
  // An idle client's error (server restarted) must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db: SqlDatabase = {
    ...queries(pool),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(queries(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
  try {
    await migrate(db, where);
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof GalleryError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const hint = /extension "vector"/.test(message)
      ? ' (pgvector is not installed on the server: see docs/GALLERY.md)'
      : '';
    throw new GalleryError('unavailable', `cannot open the gallery at ${where}: ${message}${hint}`, {
      cause: err,
    });
  }
  return new SqlGalleryStore(db, 'server', where, opts);
}
