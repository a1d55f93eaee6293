import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputDirError, checkOutputDir } from '../../src/toy/out-dir.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'arcface-toy-out-'));
  await writeFile(join(root, 'file.txt'), 'x');
  await mkdir(join(root, 'existing'));
});
afterAll(async () => {
  await chmod(join(root, 'locked'), 0o700).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

describe('checkOutputDir', () => {
  it('accepts an existing folder and a new folder below an existing one, creating nothing', async () => {
    await expect(checkOutputDir(join(root, 'existing'))).resolves.toBeUndefined();
    await expect(checkOutputDir(join(root, 'new', 'deeper'))).resolves.toBeUndefined();
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(root, 'new'))).toBe(false);
  });

  it('rejects an existing file, naming it', async () => {
    const err = await checkOutputDir(join(root, 'file.txt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputDirError);
    expect((err as OutputDirError).message).toMatch(/file\.txt: it exists and is not a folder/);
  });

  it('rejects a folder below a file', async () => {
    await expect(checkOutputDir(join(root, 'file.txt', 'report'))).rejects.toThrow(
      /file\.txt is not a folder/,
    );
  });

  it.skipIf(process.getuid?.() === 0)('rejects a folder that may not be written', async () => {
    // root may write anywhere, so this case only means something for other users.
    await mkdir(join(root, 'locked'));
    await chmod(join(root, 'locked'), 0o500);
    await expect(checkOutputDir(join(root, 'locked'))).rejects.toThrow(/not writable/);
    await expect(checkOutputDir(join(root, 'locked', 'sub'))).rejects.toThrow(/not writable/);
  });
});
