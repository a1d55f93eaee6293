/**
 * The gallery under process failure and concurrency, with real processes and real databases: SIGKILL in the
 * middle of an enrolment transaction (both backends), two processes enrolling into one server database, and a
 * second process opening an embedded directory that is in use.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedGallery } from '../../src/gallery/embedded.js';
import { LOCK_FILE } from '../../src/gallery/lock.js';
import { openGallery } from '../../src/gallery/open.js';
import type { GalleryStore } from '../../src/gallery/types.js';
import { type TestCluster, havePostgres, startPostgres } from './postgres.js';

const CHILD = fileURLToPath(new URL('./enrol-child.ts', import.meta.url));
const FACES = 400;

interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the child prints `line`. */
  waitFor(line: string): Promise<void>;
}

function child(...args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let err = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (const w of waiters.filter((x) => x.line === l)) w.resolve();
    }
  });
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    lines,
    stderr: () => err,
    exit,
    waitFor: (line) =>
      lines.includes(line)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ line, resolve });
            void exit.then(({ code }) =>
              reject(new Error(`child exited (${code}) before '${line}': ${err}`)),
            );
          }),
  };
}

/** Every subject holds all its faces or does not exist: no half-enrolled person. */
async function checkWhole(store: GalleryStore, prefix: string): Promise<number> {
  const subjects = (await store.listSubjects()).filter((s) => s.name.startsWith(prefix));
  for (const s of subjects) expect(`${s.name}: ${s.faceCount}`).toBe(`${s.name}: ${FACES}`);
  return subjects.length;
}

/** Start an enrolling child, SIGKILL it while its third subject's transaction is open, and check the result. */
async function killDuringEnrolment(db: string, open: () => Promise<GalleryStore>): Promise<void> {
  const c = child(db, 'killed', '50', String(FACES), '1');
  await c.waitFor('begin 2');
  c.proc.kill('SIGKILL');
  const { signal } = await c.exit;
  expect(signal).toBe('SIGKILL');
  expect(c.lines).toContain('done 1');
  const store = await open();
  try {
    const whole = await checkWhole(store, 'killed');
    // Every subject reported done is there whole; the one in flight at the kill is whole or absent.
    const count = (word: string): number => c.lines.filter((l) => l.startsWith(word)).length;
    expect(whole).toBeGreaterThanOrEqual(count('done'));
    expect(whole).toBeLessThanOrEqual(count('begin'));
    expect(whole).toBeGreaterThanOrEqual(2);
    // The database still takes writes after the crash.
    await store.removeSubject('killed0');
  } finally {
    await store.close();
  }
}

describe('embedded gallery under SIGKILL and a second process', { timeout: 600_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gallery-kill-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves no half-enrolled subject when the process is killed mid-transaction', async () => {
    const db = join(dir, 'faces.db');
    await killDuringEnrolment(db, async () => {
      // The dead process's lock file is still there; opening takes it over.
      expect(existsSync(join(db, LOCK_FILE))).toBe(true);
      return openEmbeddedGallery(db);
    });
  });

  it('tells a second process that the directory is in use, naming the holder', async () => {
    const db = join(dir, 'faces.db');
    const store = await openEmbeddedGallery(db);
    try {
      const c = child(db, 'second', '1', '1', '2');
      const { code } = await c.exit;
      expect(code).toBe(2);
      expect(c.stderr()).toContain(
        `locked: the gallery at ${db} is open in another process (pid ${process.pid})`,
      );
      expect(c.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      await store.close();
    }
  });
});

describe.runIf(havePostgres())('server gallery under SIGKILL and concurrency', { timeout: 600_000 }, () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('leaves no half-enrolled subject when the process is killed mid-transaction', async () => {
    const url = await cluster.createDatabase('killed');
    await killDuringEnrolment(url, () => openGallery(url));
  });

  it('loses nothing when two processes enrol into one database at once, building the index meanwhile', async () => {
    const url = await cluster.createDatabase('concurrent');
    const a = child(url, 'a', '20', String(FACES), '3');
    const b = child(url, 'b', '20', String(FACES), '4');
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    expect([ea.code, a.stderr()]).toEqual([0, '']);
    expect([eb.code, b.stderr()]).toEqual([0, '']);
    const store = await openGallery(url);
    try {
      expect(await checkWhole(store, 'a')).toBe(20);
      expect(await checkWhole(store, 'b')).toBe(20);
      // Both processes created-or-joined the same five names: one subject each, holding both faces.
      const shared = (await store.listSubjects()).filter((s) => s.name.startsWith('shared'));
      expect(shared.map((s) => s.faceCount)).toEqual([2, 2, 2, 2, 2]);
      // 16,010 faces crossed the default HNSW threshold (10,000) while both were writing: the index was built
      // once, concurrently with the other process's inserts, without a deadlock or a lost face.
      expect((await store.recognizers())[0]).toMatchObject({ faceCount: 40 * FACES + 10, indexed: true });
    } finally {
      await store.close();
    }
  });
});
