/**
 * One image file to one sample: decode with sharp to uint8 CHW at the sample size, then normalise
 * (and optionally flip) into a batch. Shared by the worker and the in-thread path so both give the
 * same bytes.
 */
import sharp from 'sharp';

/** How files become samples. */
export interface SampleSpec {
  /** Output channels: 3 = RGB, 1 = grey. */
  readonly channels: 1 | 3;
  /** Output height and width in pixels. */
  readonly height: number;
  readonly width: number;
  /** 'cover' scales the short side to fit and crops the centre; 'fill' stretches to the size. */
  readonly fit: 'cover' | 'fill';
  /**
   * Share of the short side kept, as a centred square, before resizing (1 = the whole image). LFW's
   * deep-funneled 250x250 images hold the face in about their middle half.
   */
  readonly crop: number;
  /** Per-channel (or one) mean subtracted from 0..255 pixel values. */
  readonly mean: readonly number[];
  /** Per-channel (or one) divisor applied after the mean. */
  readonly std: readonly number[];
}

/** Floats per sample: channels * height * width. */
export function sampleSize(spec: SampleSpec): number {
  return spec.channels * spec.height * spec.width;
}

/**
 * Decode an image file to [C, H, W] uint8, honouring EXIF orientation and dropping alpha. Throws on
 * any file sharp cannot fully decode (a truncated JPEG included: sharp's default `failOn` is
 * 'warning').
 */
export async function decodeSample(path: string, spec: SampleSpec): Promise<Uint8Array> {
  let img = sharp(path).rotate();
  if (spec.crop < 1) {
    // The crop is relative to the upright image, so orientation is applied (decoded) first.
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    const side = Math.max(1, Math.round(Math.min(info.width, info.height) * spec.crop));
    img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).extract({
      left: Math.floor((info.width - side) / 2),
      top: Math.floor((info.height - side) / 2),
      width: side,
      height: side,
    });
  }
  img = img
    .removeAlpha()
    .resize(spec.width, spec.height, { fit: spec.fit, position: 'centre' })
    .toColourspace(spec.channels === 3 ? 'srgb' : 'b-w');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== spec.width || info.height !== spec.height || info.channels !== spec.channels) {
    throw new Error(
      `decoded to ${info.width}x${info.height}x${info.channels}, expected ${spec.width}x${spec.height}x${spec.channels}`,
    );
  }
  const plane = spec.height * spec.width;
  const chw = new Uint8Array(spec.channels * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < spec.channels; c++) chw[c * plane + p] = data[p * spec.channels + c];
  }
  return chw;
}

/**
 * Write one uint8 [C, H, W] sample into `out` at `offset` as (x - mean) / std, mirrored left-right
 * when `flip`.
 */
export function writeSample(
  pixels: Uint8Array,
  out: Float32Array,
  offset: number,
  spec: SampleSpec,
  flip: boolean,
): void {
  const { channels, height, width } = spec;
  for (let c = 0; c < channels; c++) {
    const mean = spec.mean.length === 1 ? spec.mean[0] : spec.mean[c];
    const inv = 1 / (spec.std.length === 1 ? spec.std[0] : spec.std[c]);
    for (let y = 0; y < height; y++) {
      const row = (c * height + y) * width;
      for (let x = 0; x < width; x++) {
        const src = flip ? row + width - 1 - x : row + x;
        out[offset + row + x] = (pixels[src] - mean) * inv;
      }
    }
  }
}

/** Human-readable reason from anything thrown while decoding. */
export function reasonOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim() || 'unknown decoding error';
}
