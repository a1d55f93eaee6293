/**
 * API keys. A key is `afk_<id>_<secret>`: `id` (8 hex digits) names the key in listings and lookups, `secret` is
 * 32 random bytes (base64url). Only the SHA-256 of the whole key is stored: with 256 bits of entropy a fast hash
 * cannot be brute-forced, so a slow KDF (scrypt) would only cost every request time. Comparison is constant-time.
 *
 * Keys live in a JSON file (`arcface serve --keys FILE`), written atomically; a running service re-reads it when
 * its modification time changes, so `arcface serve keys revoke` takes effect without a restart and several
 * instances can share one file (e.g. on a mounted volume).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/fs.js';

/** What a key may do. `admin` includes every scope. */
export const SCOPES = ['read', 'enrol', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A stored key, without its secret. */
export interface KeyRecord {
  readonly id: string;
  /** A human label (who or what uses the key). */
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** SHA-256 of the whole key, hex. */
  readonly hash: string;
  /** ISO 8601. */
  readonly created: string;
  /** ISO 8601, when revoked; a revoked key never authenticates. */
  readonly revoked?: string;
}

interface KeyFileContent {
  readonly version: 1;
  readonly keys: readonly KeyRecord[];
}

/** A key file that cannot be used, or an unknown key id. */
export class KeyStoreError extends Error {
  override readonly name = 'KeyStoreError';
}

const KEY_PATTERN = /^afk_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** True when `scopes` grant `needed` (`admin` grants all). */
export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** Parse a comma-separated scope list (`read,enrol`). */
export function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (scopes.length === 0) throw new KeyStoreError(`no scope given: expected some of ${SCOPES.join(', ')}`);
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s)) {
      throw new KeyStoreError(`unknown scope '${s}': expected some of ${SCOPES.join(', ')}`);
    }
  }
  return [...new Set(scopes)] as Scope[];
}

async function readKeyFile(path: string): Promise<KeyFileContent> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: [] };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new KeyStoreError(`${path}: not a key file (invalid JSON: ${(err as Error).message})`);
  }
  const content = parsed as Partial<KeyFileContent> | null;
  if (content?.version !== 1 || !Array.isArray(content.keys)) {
    throw new KeyStoreError(`${path}: not a key file of version 1 (expected {"version": 1, "keys": [...]})`);
  }
  for (const k of content.keys) {
    if (
      typeof k.id !== 'string' ||
      typeof k.hash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(k.hash) ||
      !Array.isArray(k.scopes)
    ) {
      throw new KeyStoreError(`${path}: malformed key entry ${JSON.stringify(k.id ?? k)}`);
    }
  }
  return content as KeyFileContent;
}

/** The key file's operations, for `arcface serve keys` and the service. */
export class KeyFile {
  private cache: { mtimeMs: number; size: number; byId: Map<string, KeyRecord> } | null = null;
  private checkedAt = 0;

  /**
   * @param path the JSON key file (created by the first `create`)
   * @param recheckMs how often, at most, `authenticate` looks at the file's modification time (default 1000 ms)
   */
  constructor(
    readonly path: string,
    private readonly recheckMs = 1000,
  ) {}

  /**
   * Create a key. The returned `key` is shown once and never stored.
   * @throws KeyStoreError for an empty name or unknown scope
   */
  async create(name: string, scopes: readonly Scope[]): Promise<{ key: string; record: KeyRecord }> {
    if (name.trim().length === 0) throw new KeyStoreError('a key needs a non-empty name');
    if (scopes.length === 0) throw new KeyStoreError('a key needs at least one scope');
    const content = await readKeyFile(this.path);
    let id: string;
    do id = randomBytes(4).toString('hex');
    while (content.keys.some((k) => k.id === id));
    const key = `afk_${id}_${randomBytes(32).toString('base64url')}`;
    const record: KeyRecord = {
      id,
      name,
      scopes: [...scopes],
      hash: sha256(key),
      created: new Date().toISOString(),
    };
    await this.write({ version: 1, keys: [...content.keys, record] });
    return { key, record };
  }

  /** Every key, revoked ones included. */
  async list(): Promise<KeyRecord[]> {
    return [...(await readKeyFile(this.path)).keys];
  }

  /**
   * Revoke a key by id (it stays listed, marked revoked).
   * @throws KeyStoreError when no key has that id
   */
  async revoke(id: string): Promise<KeyRecord> {
    const content = await readKeyFile(this.path);
    const found = content.keys.find((k) => k.id === id);
    if (!found) throw new KeyStoreError(`no key with id '${id}' in ${this.path}`);
    const revoked: KeyRecord = { ...found, revoked: found.revoked ?? new Date().toISOString() };
    await this.write({ version: 1, keys: content.keys.map((k) => (k.id === id ? revoked : k)) });
    return revoked;
  }

  /** The key's record when `presented` is a valid, unrevoked key; otherwise null. */
  async authenticate(presented: string): Promise<KeyRecord | null> {
    const m = KEY_PATTERN.exec(presented);
    if (!m) return null;
    const byId = await this.current();
    const record = byId.get(m[1]);
    if (!record || record.revoked) return null;
    const a = Buffer.from(sha256(presented), 'hex');
    const b = Buffer.from(record.hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b) ? record : null;
  }

  private async current(): Promise<Map<string, KeyRecord>> {
    const now = Date.now();
    if (this.cache && now - this.checkedAt < this.recheckMs) return this.cache.byId;
    this.checkedAt = now;
    let mtimeMs = 0;
    let size = 0;
    try {
      const s = await stat(this.path);
      mtimeMs = s.mtimeMs;
      size = s.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (this.cache?.mtimeMs !== mtimeMs || this.cache.size !== size) {
      const content = await readKeyFile(this.path);
      this.cache = { mtimeMs, size, byId: new Map(content.keys.map((k) => [k.id, k])) };
    }
    return this.cache.byId;
  }

  private async write(content: KeyFileContent): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(content, null, 2)}\n`);
    this.cache = null;
  }
}
