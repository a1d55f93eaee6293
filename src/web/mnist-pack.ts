/**
 * MNIST digits as one compact binary for the web page. The `mnist` package ships 0..1 values with
 * three decimals, so each pixel is stored as the integer v * 1000 (uint16, little-endian) and read back
 * as k / 1000: the same float64 the package's JSON parses to, so the page trains on the same numbers
 * as Node. Layout: magic 'MNP1', uint32 digit count D, then D pairs (uint32 digit, uint32 images),
 * then each digit's images * 784 uint16 values in that order.
 */

const MAGIC = 0x3150_4e4d; // 'MNP1' read as a little-endian uint32
const PIXELS = 28 * 28;

/** Thrown when bytes are not a pack this code writes. */
export class MnistPackError extends Error {
  override readonly name = 'MnistPackError';
}

/**
 * Pack the given digits.
 * @param pixels one digit's [images * 784] values in [0, 1] with at most three decimals
 */
export function encodeMnistPack(
  digits: readonly number[],
  pixels: (digit: number) => ArrayLike<number>,
): Uint8Array {
  const data = digits.map((d) => pixels(d));
  for (const [i, p] of data.entries()) {
    if (p.length % PIXELS !== 0) {
      throw new MnistPackError(
        `mnist pack: digit ${digits[i]} has ${p.length} values, not a multiple of 784`,
      );
    }
  }
  const header = 8 + 8 * digits.length;
  const total = data.reduce((a, p) => a + p.length, 0);
  const bytes = new Uint8Array(header + 2 * total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, digits.length, true);
  let at = header;
  data.forEach((p, i) => {
    view.setUint32(8 + 8 * i, digits[i], true);
    view.setUint32(12 + 8 * i, p.length / PIXELS, true);
    for (let j = 0; j < p.length; j++, at += 2) {
      const k = Math.round(p[j] * 1000);
      if (k < 0 || k > 1000 || Math.abs(k / 1000 - p[j]) > 1e-12) {
        throw new MnistPackError(
          `mnist pack: digit ${digits[i]} value ${p[j]} is not a 0..1 value of three decimals`,
        );
      }
      view.setUint16(at, k, true);
    }
  });
  return bytes;
}

/** Unpack: each digit's pixels, [images * 784] float64 values in [0, 1]. */
export function decodeMnistPack(bytes: Uint8Array): Map<number, Float64Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0, true) !== MAGIC) {
    throw new MnistPackError('mnist pack: the bytes do not start with the MNP1 header');
  }
  const count = view.getUint32(4, true);
  const out = new Map<number, Float64Array>();
  let at = 8 + 8 * count;
  for (let i = 0; i < count; i++) {
    const digit = view.getUint32(8 + 8 * i, true);
    const n = view.getUint32(12 + 8 * i, true) * PIXELS;
    if (at + 2 * n > bytes.byteLength) {
      throw new MnistPackError(`mnist pack: truncated in digit ${digit} (${bytes.byteLength} bytes)`);
    }
    const p = new Float64Array(n);
    for (let j = 0; j < n; j++, at += 2) p[j] = view.getUint16(at, true) / 1000;
    out.set(digit, p);
  }
  return out;
}
