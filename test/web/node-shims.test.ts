/** The browser bundle's stand-ins for Node built-ins agree with Node where the engine relies on them. */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as shims from '../../src/web/node-shims.js';

describe('node shims', () => {
  it("createHash('sha256') gives node:crypto's digest (the engine's session cache key)", () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 100_003]) {
      const bytes = new Uint8Array(randomBytes(n));
      const expected = createHash('sha256').update(bytes).update('{"threads":2}').digest('hex');
      expect(shims.createHash('sha256').update(bytes).update('{"threads":2}').digest('hex')).toBe(expected);
    }
    expect(() => shims.createHash('md5')).toThrow(/md5.*not available in the browser/);
  });

  it('path helpers join and split like node:path for plain relative names', () => {
    expect(shims.join('a', 'b/', 'c.ckpt')).toBe('a/b/c.ckpt');
    expect(shims.dirname('a/b/c')).toBe('a/b');
    expect(shims.basename('a/b/c.json')).toBe('c.json');
    expect(() => shims.createRequire('file:///x')('mnist')).toThrow(/require\('mnist'\) is not available/);
  });
});
