/**
 * Decoding any image the user hands us (a path, encoded bytes, or raw pixels from a canvas) into 8-bit RGB
 * with EXIF rotation applied, so every later stage sees upright RGB and never a format quirk.
 */
import { stat } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { rawToRgb } from './image-ops.js';
import type { RgbImage } from './types.js';
import { oneSharpCallAtATime } from './sharp-queue.js';

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
  | 'invalid-raw'
  | 'invalid-input'
  | 'invalid-option';

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
  /**
   * Refuse images declaring more pixels than this (width x height) before decoding them: a positive integer
   * (default {@link DEFAULT_MAX_PIXELS}). There is no "off" value: sharp reads 0 as "no limit", so 0 is refused.
   */
  readonly maxPixels?: number;
  /** Colour that transparent pixels are composited onto, 0..255 RGB (default white, as image editors flatten). */
  readonly background?: { readonly r: number; readonly g: number; readonly b: number };
  /**
   * Called once per distinct problem the decoder recovered from, e.g. a JPEG whose middle is corrupt
   * ("Corrupt JPEG data: 38 extraneous bytes"): the pixels are returned, but part of them may be grey or
   * smeared, so a caller that matters should say so (the CLI prints them to stderr).
   */
  readonly onWarning?: (message: string) => void;
}

function describe(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `<buffer of ${input.length} bytes>`;
  if (typeof input !== 'object' || input === null) return `<${input === null ? 'null' : typeof input}>`;
  return `<raw ${String(input.width)}x${String(input.height)} image>`;
}

/** Inputs from untyped callers (JavaScript, JSON) that are none of the three forms. */
function checkInput(input: unknown, source: string): void {
  if (typeof input === 'string' || input instanceof Uint8Array) return;
  if (typeof input === 'object' && input !== null) {
    const data = (input as { data?: unknown }).data;
    if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return;
    throw new ImageError(
      'invalid-input',
      'a raw image needs `data` as a Uint8Array or Uint8ClampedArray (with width and height)',
      source,
    );
  }
  throw new ImageError(
    'invalid-input',
    `expected a file path, encoded image bytes (Uint8Array) or raw pixels ({ data, width, height }), got ${
      input === null ? 'null' : typeof input
    }`,
    source,
  );
}

function checkOptions(opts: DecodeOptions, source: string): void {
  const { maxPixels, background } = opts;
  if (maxPixels !== undefined && !(Number.isSafeInteger(maxPixels) && maxPixels > 0)) {
    throw new ImageError(
      'invalid-option',
      `maxPixels must be a positive integer, got ${String(maxPixels)} (there is no value that turns the limit off)`,
      source,
    );
  }
  if (background !== undefined) {
    const ok = [background.r, background.g, background.b].every(
      (c) => typeof c === 'number' && c >= 0 && c <= 255,
    );
    if (!ok) throw new ImageError('invalid-option', 'background must be { r, g, b }, each in 0..255', source);
  }
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
    'invalid-input': 'not an image input',
    'invalid-option': 'invalid decoding option',
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
  // Untyped callers can pass any count; sharp would throw a plain Error from its constructor.
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new ImageError('invalid-raw', `channels must be 1, 3 or 4, got ${String(channels)}`, source);
  }
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
 * @param opts pixel limit, background, and {@link DecodeOptions.onWarning} for damage the decoder recovered from.
 * @returns RGB pixels, HWC, `width * height * 3` bytes.
 * @throws {ImageError} for every input that is not a readable image; never anything else for bad input.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbImage> {
  const source = describe(input);
  checkInput(input, source);
  checkOptions(opts, source);
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
    // Raw pixels go through the platform's image ops (sharp here, plain TypeScript in the web page).
    const channels = rawChannels(input, source, maxPixels);
    const { image, channels: got } = await rawToRgb(
      input.data,
      input.width,
      input.height,
      channels,
      opts.background ?? { r: 255, g: 255, b: 255 },
    ).catch((err: unknown) => {
      throw classify(err, source);
    });
    if (got !== 3) throw new ImageError('corrupt', `decoded to ${got} channels, expected 3`, source);
    return image;
  }
  const background = opts.background ?? { r: 255, g: 255, b: 255 };
  // libvips reports what it recovered from (e.g. libjpeg's "Corrupt JPEG data") as warnings, not errors.
  const warnings = new Set<string>();
  pipeline.on('warning', (w: unknown) => {
    const text = String(w).trim();
    // libvips follows the decoder's own words with a count ("read gave 1 warnings"): keep the words.
    if (!/^read gave \d+ warnings?$/.test(text)) warnings.add(text);
  });
  let image: RgbImage;
  try {
    const { data, info } = await oneSharpCallAtATime(() =>
      pipeline
        .autoOrient()
        .flatten({ background })
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true }),
    );
    if (info.channels !== 3) {
      throw new ImageError('corrupt', `decoded to ${info.channels} channels, expected 3`, source);
    }
    image = {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    throw err instanceof ImageError ? err : classify(err, source);
  }
  // Outside the try: an exception from the caller's callback is the caller's, not an image error.
  for (const w of warnings) opts.onWarning?.(`${source}: ${w}`);
  return image;
}
