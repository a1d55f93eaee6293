/** `arcface web --out DIR` without a built page says how to build it. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebPageError, writeWebPage } from '../../src/web/write-page.js';

describe('writeWebPage', () => {
  it('refuses an unbuilt assets folder with a WebPageError naming npm run build, writing nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arcface-webpage-'));
    try {
      const err = await writeWebPage(join(dir, 'out'), { assetsDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WebPageError);
      expect((err as Error).message).toMatch(/page\.js is missing.*npm run build/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
