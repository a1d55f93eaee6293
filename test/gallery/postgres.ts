/**
 * A throwaway PostgreSQL cluster for the server-backend tests: initdb + pg_ctl on a free local port in a temp
 * directory, as the `postgres` user when we are root (PostgreSQL refuses to run as root), removed after.
 * Without PostgreSQL + pgvector the server tests skip with a message, except under CI=true, where they fail.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

interface Install {
  readonly bin: string;
  readonly version: string;
}

/** Debian's layout: /usr/lib/postgresql/<major>/bin, extensions in /usr/share/postgresql/<major>/extension. */
function findInstall(): Install | string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) return 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)';
  const version = versions[0];
  if (!existsSync(`/usr/share/postgresql/${version}/extension/vector.control`)) {
    return `pgvector is not installed for PostgreSQL ${version} (see .ci/run: it builds ../shared/vendor/pgvector)`;
  }
  return { bin: join(root, version, 'bin'), version };
}

const found = findInstall();

/**
 * True when the server tests can run. Prints why they skip otherwise; under CI=true a missing server is an
 * error, so CI never passes without testing the server backend.
 */
export function havePostgres(): boolean {
  if (typeof found !== 'string') return true;
  if (process.env.CI === 'true') {
    throw new Error(`server gallery tests cannot run under CI: ${found}`);
  }
  console.warn(`gallery server-backend tests skipped: ${found}`);
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface TestCluster {
  /** Create an empty database; its connection string. */
  createDatabase(name: string): Promise<string>;
  /** A connection string for an existing database. */
  url(database: string): string;
  stop(): Promise<void>;
}

/** Start a cluster (a few seconds). Call {@link havePostgres} first. */
export async function startPostgres(): Promise<TestCluster> {
  if (typeof found === 'string') throw new Error(found);
  const dir = await mkdtemp(join(tmpdir(), 'arcface-pg-'));
  const asRoot = process.getuid?.() === 0;
  let prefix: string[] = [];
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    await chown(dir, uid, gid);
    prefix = ['runuser', '-u', 'postgres', '--'];
  }
  const sh = async (cmd: string, args: string[]): Promise<void> => {
    const all = [...prefix, join(found.bin, cmd), ...args];
    await run(all[0], all.slice(1), { timeout: 120_000 });
  };
  const data = join(dir, 'data');
  const port = await freePort();
  await sh('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  await sh('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '120', '-o', serverOpts, 'start']);
  const url = (database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async stop() {
      await sh('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
