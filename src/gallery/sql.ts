/**
 * The little SQL surface both backends provide (PGlite in process, PostgreSQL through `pg`), so the store,
 * its schema and its migrations are written once.
 */

/** A row as the driver returns it: column name to value. */
export type Row = Record<string, unknown>;

/** Queries on one connection (or inside one transaction). */
export interface SqlQueries {
  /** One statement with `$1..$n` parameters; the result rows. */
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Several statements separated by semicolons, no parameters (migrations). */
  exec(text: string): Promise<void>;
  /**
   * `COPY … FROM STDIN` with `data` as its input (binary or text format, as the statement says). Only where the
   * backend does it cheaply (PGlite); absent elsewhere, and callers then use plain INSERTs.
   */
  copyFrom?(copySql: string, data: Uint8Array<ArrayBuffer>): Promise<void>;
  /** `COPY … TO STDOUT`: its output bytes. Only where the backend does it cheaply (PGlite), like copyFrom. */
  copyTo?(copySql: string): Promise<Uint8Array>;
}

/** A database: queries, transactions, close. */
export interface SqlDatabase extends SqlQueries {
  /** Run `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlQueries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `value` as an SQL string literal (single quotes doubled), for the few places a parameter cannot go. */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
