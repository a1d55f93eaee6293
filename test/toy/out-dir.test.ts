import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToy } from '../../src/toy/run.js';
import { OutputPathError } from '../../src/util/fs.js';

// The toy refuses a report folder it cannot write before it loads data or trains anything: a long run
// must not fail at its very end. It uses the shared util/fs check; these cases go through runToy itself.
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'arcface-toy-out-'));
  await writeFile(join(root, 'file.txt'), 'x');
});
afterAll(async () => {
  await chmod(join(root, 'locked'), 0o700).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
});

const refusal = (out: string): Promise<unknown> => runToy({ out, epochs: 1 }).catch((e: unknown) => e);

describe('runToy refuses an unwritable report folder before any work', () => {
  it('rejects an existing file, naming it', async () => {
    const err = await refusal(join(root, 'file.txt'));
    expect(err).toBeInstanceOf(OutputPathError);
    expect((err as Error).message).toMatch(/file\.txt: exists and is not a folder/);
  });

  it('rejects a folder below a file, creating nothing', async () => {
    const err = await refusal(join(root, 'file.txt', 'report'));
    expect(err).toBeInstanceOf(OutputPathError);
    expect((err as Error).message).toMatch(/file\.txt is not a folder/);
  });

  it.skipIf(process.getuid?.() === 0)('rejects a folder that may not be written', async () => {
    // root may write anywhere, so this case only means something for other users.
    await mkdir(join(root, 'locked'));
    await chmod(join(root, 'locked'), 0o500);
    const err = await refusal(join(root, 'locked', 'sub'));
    expect(err).toBeInstanceOf(OutputPathError);
    expect(existsSync(join(root, 'locked', 'sub'))).toBe(false);
  });
});
