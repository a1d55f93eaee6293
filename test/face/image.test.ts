import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError, type ImageErrorCode, type ImageInput, decodeImage } from '../../src/face/image.js';
import { GROUP_PHOTO, haveSamplePhotos } from './data.js';

async function errorCode(input: ImageInput, opts?: { maxPixels?: number }): Promise<ImageErrorCode> {
  try {
    await decodeImage(input, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return (err as ImageError).code;
  }
  throw new Error('expected decodeImage to fail');
}

/** Patch a baseline JPEG's frame header (SOF0) to declare another size, leaving the data as it is. */
function declareSize(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const b = Buffer.from(jpeg);
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1];
    if (marker === 0xc0 || marker === 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new Error('no SOF marker found');
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

describe.runIf(haveSamplePhotos())('decodeImage on a real photo and its damaged variants', () => {
  let photo: Buffer;
  let dir: string;
  beforeAll(async () => {
    // A real camera JPEG, reduced so every variant below stays fast.
    photo = await sharp(GROUP_PHOTO).resize(320).jpeg({ quality: 92 }).toBuffer();
    dir = await mkdtemp(join(tmpdir(), 'face-image-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('decodes a JPEG to RGB of its size', async () => {
    const img = await decodeImage(photo);
    expect([img.width, img.height]).toEqual([320, 213]);
    expect(img.data.length).toBe(320 * 213 * 3);
  });

  it('names what is wrong with unreadable input', async () => {
    expect(await errorCode(Buffer.from('this is not an image, just text'))).toBe('not-an-image');
    expect(await errorCode(new Uint8Array(0))).toBe('empty');
    expect(await errorCode(photo.subarray(0, Math.floor(photo.length * 0.6)))).toBe('truncated');
    expect(await errorCode(join(dir, 'missing.jpg'))).toBe('not-found');
    expect(await errorCode(dir)).toBe('not-a-file');
    const textFile = join(dir, 'notes.jpg');
    await writeFile(textFile, 'plain text with a .jpg name');
    expect(await errorCode(textFile)).toBe('not-an-image');
  });

  it('refuses a decompression bomb from its header, and honours maxPixels', async () => {
    // 60000 x 60000 declared: 3.6 gigapixels, about 10 GB of RGB if it were decoded.
    expect(await errorCode(declareSize(photo, 60000, 60000))).toBe('too-large');
    expect(await errorCode(photo, { maxPixels: 10_000 })).toBe('too-large');
    await expect(decodeImage(declareSize(photo, 60000, 60000))).rejects.toThrow(/maxPixels/);
  });

  it('converts grayscale to three equal channels', async () => {
    const grey = await sharp(photo).toColourspace('b-w').jpeg().toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const img = await decodeImage(grey);
    expect(img.data.length).toBe(img.width * img.height * 3);
    let unequal = 0;
    for (let i = 0; i < img.data.length; i += 3)
      if (img.data[i] !== img.data[i + 1] || img.data[i] !== img.data[i + 2]) unequal++;
    expect(unequal).toBe(0);
  });

  it('converts CMYK JPEG and 16-bit PNG to 8-bit RGB close to the original', async () => {
    const reference = await decodeImage(photo);
    const cmyk = await sharp(photo).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const fromCmyk = await decodeImage(cmyk);
    expect([fromCmyk.width, fromCmyk.height]).toEqual([reference.width, reference.height]);
    // No ICC profile travels with it, so colours shift a little; a misread would be off by ~100.
    expect(meanAbsDiff(fromCmyk.data, reference.data)).toBeLessThan(20);
    const png16 = await sharp(reference.data, { raw: { width: 320, height: 213, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    expect(meanAbsDiff((await decodeImage(png16)).data, reference.data)).toBeLessThan(0.01);
  });

  it('composites alpha onto the background', async () => {
    const { width, height } = await sharp(photo).metadata();
    const reference = await decodeImage(photo);
    // Left half fully transparent, right half opaque.
    const alpha = Buffer.alloc(width * height);
    for (let y = 0; y < height; y++) alpha.fill(255, y * width + width / 2, (y + 1) * width);
    const rgba = await sharp(photo)
      .joinChannel(alpha, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer();
    expect((await sharp(rgba).metadata()).hasAlpha).toBe(true);
    const img = await decodeImage(rgba, { background: { r: 10, g: 20, b: 30 } });
    const at = (x: number, y: number): number[] =>
      Array.from(img.data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    expect(at(5, 100)).toEqual([10, 20, 30]);
    expect(at(300, 100)).toEqual(
      Array.from(reference.data.subarray((100 * width + 300) * 3, (100 * width + 300) * 3 + 3)),
    );
  });

  it('applies EXIF orientation 6 (rotate 90 degrees clockwise)', async () => {
    // A 60 x 40 image, red in its top-left corner; once upright it is 40 x 60 with red at the top right.
    const raw = new Uint8Array(60 * 40 * 3).fill(40);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) raw.set([255, 0, 0], (y * 60 + x) * 3);
    const rotated = await sharp(raw, { raw: { width: 60, height: 40, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .png()
      .toBuffer();
    expect((await sharp(rotated).metadata()).orientation).toBe(6);
    const img = await decodeImage(rotated);
    expect([img.width, img.height]).toEqual([40, 60]);
    const px = (x: number, y: number): number => img.data[(y * 40 + x) * 3];
    expect(px(35, 3)).toBe(255);
    expect(px(3, 3)).toBe(40);
  });

  it('takes raw RGBA (canvas ImageData) and RGB pixels, and checks their size', async () => {
    const rgba = new Uint8ClampedArray(4 * 3 * 4);
    for (let i = 0; i < 12; i++) rgba.set([i, 2 * i, 3 * i, 255], i * 4);
    const img = await decodeImage({ data: rgba, width: 4, height: 3 });
    expect(Array.from(img.data.subarray(15, 18))).toEqual([5, 10, 15]);
    const again = await decodeImage(img);
    expect(Array.from(again.data)).toEqual(Array.from(img.data));
    expect(await errorCode({ data: new Uint8Array(10), width: 4, height: 3 })).toBe('invalid-raw');
    expect(await errorCode({ data: new Uint8Array(0), width: 0, height: 3 })).toBe('invalid-raw');
  });
});
