/** API keys: created with a one-time secret, stored hashed, scoped, revocable, re-read by a running service. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyFile, KeyStoreError, grants, parseScopes } from '../../src/serve/keys.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arcface-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('KeyFile', () => {
  it('stores only a hash of each key and authenticates the key itself', async () => {
    const keys = new KeyFile(join(dir, 'keys.json'), 0);
    const { key, record } = await keys.create('door-controller', ['read', 'enrol']);
    expect(key).toMatch(/^afk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    const text = await readFile(keys.path, 'utf8');
    expect(text).not.toContain(key.slice(13));
    expect(text).toContain(record.hash);
    expect(await keys.authenticate(key)).toMatchObject({ id: record.id, scopes: ['read', 'enrol'] });
    // Same id, different secret: refused.
    const forged = `${key.slice(0, 13)}${'A'.repeat(43)}`;
    expect(await keys.authenticate(forged)).toBeNull();
    expect(await keys.authenticate('not-a-key')).toBeNull();
  });

  it('lists keys and revokes them; a revoked key stops working', async () => {
    const keys = new KeyFile(join(dir, 'keys.json'), 0);
    const a = await keys.create('a', ['read']);
    const b = await keys.create('b', ['admin']);
    expect((await keys.list()).map((k) => k.name)).toEqual(['a', 'b']);
    await keys.revoke(a.record.id);
    expect(await keys.authenticate(a.key)).toBeNull();
    expect(await keys.authenticate(b.key)).not.toBeNull();
    expect((await keys.list()).find((k) => k.id === a.record.id)?.revoked).toBeTruthy();
    await expect(keys.revoke('deadbeef')).rejects.toThrow(/no key with id 'deadbeef'/);
  });

  it('sees keys revoked by another process (the file changes under a running service)', async () => {
    const path = join(dir, 'keys.json');
    const service = new KeyFile(path, 0);
    const cli = new KeyFile(path, 0);
    const { key, record } = await cli.create('app', ['read']);
    expect(await service.authenticate(key)).not.toBeNull();
    await cli.revoke(record.id);
    expect(await service.authenticate(key)).toBeNull();
  });

  it('refuses a file that is not a key file, naming it', async () => {
    const path = join(dir, 'keys.json');
    await writeFile(path, '{"hello": 1}');
    await expect(new KeyFile(path).list()).rejects.toThrow(KeyStoreError);
    await writeFile(path, 'nonsense');
    await expect(new KeyFile(path).list()).rejects.toThrow(/keys\.json: not a key file/);
  });

  it('checks names and scopes', async () => {
    const keys = new KeyFile(join(dir, 'keys.json'));
    await expect(keys.create(' ', ['read'])).rejects.toThrow(/non-empty name/);
    expect(parseScopes('read, enrol')).toEqual(['read', 'enrol']);
    expect(() => parseScopes('read,root')).toThrow(/unknown scope 'root'/);
    expect(grants(['admin'], 'enrol')).toBe(true);
    expect(grants(['read'], 'enrol')).toBe(false);
  });
});
