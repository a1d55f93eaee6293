/**
 * The session layer: programs release their ONNX Runtime session on dispose (shared sessions only when the
 * last user lets go), a disposed program or session refuses to run, and a second dispose is harmless.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as E from '../../src/engine/index.js';

/** A graph no other test builds, so the cache counts below see only this file's sessions. */
function graph(offset: number): E.GraphSpec {
  const x = E.input('x', [3]);
  return { outputs: { y: E.add(E.mul(x, x), E.scalar(offset)) } };
}

describe('Program.dispose', () => {
  it('releases the cached session; run then fails and a second dispose does nothing', async () => {
    const before = E.cachedSessionCount();
    const p = await E.Program.compile(graph(17.25), { threads: 1 });
    expect(E.cachedSessionCount()).toBe(before + 1);
    const { y } = await p.run({ x: Float32Array.from([1, 2, 3]) });
    expect(Array.from(y as Float32Array)).toEqual([18.25, 21.25, 26.25]);

    await p.dispose();
    expect(p.disposed).toBe(true);
    expect(E.cachedSessionCount()).toBe(before);
    await expect(p.run({ x: Float32Array.from([1, 2, 3]) })).rejects.toThrow(E.SessionDisposedError);
    await expect(p.dispose()).resolves.toBeUndefined();
    expect(E.cachedSessionCount()).toBe(before);
  });

  it('keeps a shared session open until the last program using it is disposed', async () => {
    const before = E.cachedSessionCount();
    // One spec compiled twice: the same bytes and options share a session.
    const spec = graph(-4.5);
    const a = await E.Program.compile(spec, { threads: 1 });
    const b = await E.Program.compile(spec, { threads: 1 });
    expect(E.cachedSessionCount()).toBe(before + 1);
    await a.dispose();
    await a.dispose();
    expect(E.cachedSessionCount()).toBe(before + 1);
    const { y } = await b.run({ x: Float32Array.from([0, 1, 2]) });
    expect(Array.from(y as Float32Array)).toEqual([-4.5, -3.5, -0.5]);
    await b.dispose();
    expect(E.cachedSessionCount()).toBe(before);
    // A fresh compile after eviction opens a new session that works.
    const c = await E.Program.compile(spec, { threads: 1 });
    expect(E.cachedSessionCount()).toBe(before + 1);
    expect(Array.from((await c.run({ x: Float32Array.from([1, 1, 1]) })).y as Float32Array)).toEqual([
      -3.5, -3.5, -3.5,
    ]);
    await c.dispose();
  });
});

describe('Session', () => {
  it('runs ONNX bytes, refuses to run once disposed, and tolerates a second dispose', async () => {
    const bytes = E.lower(graph(2)).bytes;
    const s = await E.Session.create(bytes, { threads: 1, spinning: false, logLevel: 'error' }, 'test graph');
    expect(s.inputNames).toEqual(['x']);
    expect(s.inputShapes.get('x')).toEqual([3]);
    const out = await s.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [3] } });
    expect(Array.from(out.y.data as Float32Array)).toEqual([3, 6, 11]);
    expect(out.y.type).toBe('float32');
    await Promise.all([s.dispose(), s.dispose()]);
    expect(s.disposed).toBe(true);
    await expect(s.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [3] } })).rejects.toThrow(
      /test graph: the session was disposed/,
    );
    await expect(s.dispose()).resolves.toBeUndefined();
  });

  it('writes a profile of its runs when opened with profilePrefix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arcface-session-'));
    try {
      const s = await E.Session.create(E.lower(graph(1)).bytes, {
        threads: 1,
        profilePrefix: join(dir, 'p'),
      });
      await s.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [3] } });
      s.endProfiling();
      await s.dispose();
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      const events = JSON.parse(await readFile(join(dir, files[0]), 'utf8')) as { name: string }[];
      expect(events.some((e) => e.name === 'model_run')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the model when ONNX Runtime rejects the bytes', async () => {
    await expect(E.Session.create(new Uint8Array([1, 2, 3]), {}, 'broken.onnx')).rejects.toThrow(
      /broken\.onnx: ONNX Runtime cannot create a session/,
    );
  });
});
