/** The page's MNIST pack gives back exactly the pixels the `mnist` package ships. */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { digitPixels, loadMnist } from '../../src/data/mnist.js';
import { MnistPackError, decodeMnistPack, encodeMnistPack } from '../../src/web/mnist-pack.js';
import { mnistPackBytes } from '../../src/web/write-page.js';

describe('mnist pack', () => {
  it('round-trips every digit 0-7 bit for bit, and the datasets built from it are equal', async () => {
    const packed = await mnistPackBytes();
    // Compact: well under the 2 bytes per pixel of the raw pack.
    const raw = gunzipSync(packed);
    expect(packed.length).toBeLessThan(raw.length / 3);
    const digits = decodeMnistPack(new Uint8Array(raw));
    expect([...digits.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const d of digits.keys()) {
      const original = digitPixels(d);
      const back = digits.get(d) ?? new Float64Array();
      expect(back.length).toBe(original.length);
      let differ = 0;
      for (let i = 0; i < back.length; i++) if (back[i] !== original[i]) differ++;
      expect(differ).toBe(0);
    }
    const source = (d: number): Float64Array => digits.get(d) ?? new Float64Array();
    const a = loadMnist({ perClass: 50 });
    const b = loadMnist({ perClass: 50, source });
    expect(b.labels).toEqual(a.labels);
    expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
  });

  it('refuses values it cannot store exactly, and bytes that are not a pack', () => {
    expect(() => encodeMnistPack([0], () => new Float64Array(784).fill(0.1234))).toThrow(MnistPackError);
    expect(() => encodeMnistPack([0], () => new Float64Array(700))).toThrow(/not a multiple of 784/);
    expect(() => decodeMnistPack(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/MNP1/);
    const one = encodeMnistPack([3], () => new Float64Array(784).fill(0.5));
    expect(() => decodeMnistPack(one.subarray(0, one.length - 2))).toThrow(/truncated in digit 3/);
  });
});
