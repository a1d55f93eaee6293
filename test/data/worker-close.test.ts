/**
 * Closing a folder dataset's worker pool at the end of an ES module: `await ds.close()` must let node
 * finish with exit code 0. It once exited 13 (unsettled top-level await): the first worker's exit
 * unref'd the others while they were still stopping, so the loop emptied before close() settled.
 * Run in a child process, since vitest's own handles would keep the loop alive and hide it.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tree, makeTree } from './images.js';

const run = promisify(execFile);
const DATA = new URL('../../src/data/index.ts', import.meta.url).href;
const REPO = fileURLToPath(new URL('../../', import.meta.url));

let tree: Tree;
beforeAll(async () => {
  tree = await makeTree(2, 3);
});
afterAll(async () => {
  await rm(tree.root, { recursive: true, force: true });
});

describe('FolderDataset.close() with worker threads', () => {
  it('settles, so a script ending in `await ds.close()` exits 0 (5 runs; it was ~3 in 5 before)', async () => {
    const script = `
      import { FolderDataset } from ${JSON.stringify(DATA)};
      const ds = await FolderDataset.open(${JSON.stringify(tree.root)}, { size: 8, workers: 2, cache: false });
      let rows = 0;
      for await (const b of ds.batches({ batchSize: 4, seed: 0, epoch: 0 })) rows += b.count;
      await ds.close();
      console.log(rows);`;
    for (let i = 0; i < 5; i++) {
      // execFile rejects on a non-zero exit, naming the code.
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: REPO,
          timeout: 60_000,
        },
      );
      // 2 classes x 3 PNGs, plus the valid JPEG (the truncated one is skipped).
      expect(Number(stdout.trim())).toBe(7);
    }
  });
});
