/**
 * Decoding any image the user hands us (a path, encoded bytes, or raw pixels from a canvas) into 8-bit RGB
 * with EXIF rotation applied, so every later stage sees upright RGB and never a format quirk.
 */
import { stat } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from './types.js';

/** Raw pixels, e.g. a canvas `ImageData`: row-major, interleaved, 8 bits per channel. */
export interface RawImage {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  /** 4 = RGBA (as in `ImageData`), 3 = RGB, 1 = grey; default: whichever matches `data.length`. */
  readonly channels?: 1 | 3 | 4;
}

/** What the face pipeline accepts as an image: a file path, an encoded file in memory, or raw pixels. */
export type ImageInput = string | Uint8Array | RawImage;

/** Why an image could not be decoded. */
export type ImageErrorCode =
  | 'not-found'
  | 'not-a-file'
  | 'empty'
  | 'not-an-image'
  | 'truncated'
  | 'corrupt'
  | 'too-large'
  | 'invalid-raw';

/** An image that could not be decoded; `code` says why, `source` names the input (a path, or a description). */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    readonly source: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}

/**
 * Pixels decoded at most, by default (about 134 megapixels, 400 MB of RGB): above any camera's normal output,
 * far below what a decompression bomb declares.
 */
export const DEFAULT_MAX_PIXELS = 2 ** 27;

export interface DecodeOptions {
  /** Refuse images declaring more pixels than this (width x height) before decoding them. */
  readonly maxPixels?: number;
  /** Colour that transparent pixels are composited onto, 0..255 RGB (default white, as image editors flatten). */
  readonly background?: { readonly r: number; readonly g: number; readonly b: number };
}

function describe(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<buffer of ${input.length} bytes>`;
  return `<raw ${input.width}x${input.height} image>`;
}

function classify(err: unknown, source: string): ImageError {
  const message = err instanceof Error ? err.message : String(err);
  const m = message.toLowerCase();
  const code: ImageErrorCode = m.includes('exceeds pixel limit')
    ? 'too-large'
    : m.includes('unsupported image format')
      ? 'not-an-image'
      : m.includes('is empty')
        ? 'empty'
        : m.includes('premature end') || m.includes('truncated') || m.includes('unexpected end')
          ? 'truncated'
          : m.includes('input file is missing')
            ? 'not-found'
            : 'corrupt';
  const explain: Record<ImageErrorCode, string> = {
    'too-large': 'image declares more pixels than the limit (raise maxPixels if it is genuine)',
    'not-an-image':
      'not an image in a format this build can read (JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIF, SVG)',
    empty: 'empty input',
    truncated: 'image data ends early (truncated file)',
    'not-found': 'file not found',
    'not-a-file': 'not a regular file',
    corrupt: 'image data is corrupt',
    'invalid-raw': 'raw pixel buffer does not match its declared size',
  };
  return new ImageError(code, `${explain[code]} (${message})`, source, { cause: err });
}

function rawChannels(raw: RawImage, source: string, maxPixels: number): 1 | 3 | 4 {
  const { width, height } = raw;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageError('invalid-raw', `width and height must be positive integers`, source);
  }
  if (width * height > maxPixels) {
    throw new ImageError('too-large', `${width * height} pixels exceed the limit of ${maxPixels}`, source);
  }
  // Without a declared count, the buffer length decides, so a decoded RgbImage is itself a valid input.
  const inferred = ([4, 3, 1] as const).find((c) => raw.data.length === width * height * c);
  const channels = raw.channels ?? inferred ?? 4;
  if (raw.data.length !== width * height * channels) {
    throw new ImageError(
      'invalid-raw',
      `expected ${width}x${height}x${channels} = ${width * height * channels} bytes, got ${raw.data.length}`,
      source,
    );
  }
  return channels;
}

/**
 * Decode an image to upright 8-bit RGB.
 *
 * EXIF orientation is applied; grey, CMYK, 16-bit and palette images are converted to 8-bit sRGB; alpha is
 * composited onto `background`. Images declaring more than `maxPixels` pixels are refused from their header,
 * before any pixel is decoded.
 *
 * @param input a file path, encoded image bytes, or raw pixels ({@link RawImage}).
 * @returns RGB pixels, HWC, `width * height * 3` bytes.
 * @throws {ImageError} for every input that is not a readable image; never anything else for bad input.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbImage> {
  const source = describe(input);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  let pipeline: Sharp;
  if (typeof input === 'string') {
    const info = await stat(input).catch((err: unknown) => {
      throw new ImageError('not-found', 'file not found', source, { cause: err });
    });
    if (!info.isFile()) throw new ImageError('not-a-file', 'not a regular file', source);
    if (info.size === 0) throw new ImageError('empty', 'empty file', source);
    pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'error' });
  } else if (input instanceof Uint8Array) {
    if (input.length === 0) throw new ImageError('empty', 'empty input', source);
    pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'error' });
  } else {
    const channels = rawChannels(input, source, maxPixels);
    const { width, height } = input;
    pipeline = sharp(new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.length), {
      raw: { width, height, channels },
      limitInputPixels: maxPixels,
    });
  }
  const background = opts.background ?? { r: 255, g: 255, b: 255 };
  try {
    const { data, info } = await pipeline
      .autoOrient()
      .flatten({ background })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageError('corrupt', `decoded to ${info.channels} channels, expected 3`, source);
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    throw err instanceof ImageError ? err : classify(err, source);
  }
}
