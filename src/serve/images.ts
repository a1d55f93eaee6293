/**
 * Images out of a request, whatever form the client chose: multipart/form-data file fields, a raw body
 * (`image/*` or `application/octet-stream`), or JSON with base64 strings. Sizes are capped by the body limit
 * (raw, JSON) or the multipart file limit; pixels are capped later, from the image header, by the decoder.
 */
import type { FastifyRequest } from 'fastify';
import { ProblemError } from './problems.js';

/** The images and text fields of one request. */
export interface RequestImages {
  /** Encoded image bytes by field name (`image` for a raw body). */
  readonly images: ReadonlyMap<string, Uint8Array>;
  /** Non-file fields (multipart text fields, JSON strings that are not images). */
  readonly fields: ReadonlyMap<string, string>;
}

/** Decode base64 (either alphabet, optional data: URL prefix) to bytes. */
export function fromBase64(text: string, field: string): Uint8Array {
  const comma = text.startsWith('data:') ? text.indexOf(',') : -1;
  const payload = (comma >= 0 ? text.slice(comma + 1) : text).replace(/\s+/g, '');
  const bytes = Buffer.from(payload, payload.includes('-') || payload.includes('_') ? 'base64url' : 'base64');
  if (bytes.length === 0) throw new ProblemError('bad-request', `field '${field}' holds no image bytes`);
  return bytes;
}

/** True for content types sent as the image itself. */
export function isRawImageType(contentType: string | undefined): boolean {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return t.startsWith('image/') || t === 'application/octet-stream';
}

/**
 * Collect the request's images.
 * @param imageFields field names that hold images (JSON: base64 strings; multipart: file parts)
 * @param textFields other accepted field names (multipart text parts; JSON strings)
 * @throws ProblemError bad-request naming unknown or missing parts; payload-too-large for an oversized file
 */
export async function readRequestImages(
  request: FastifyRequest,
  imageFields: readonly string[],
  textFields: readonly string[] = [],
): Promise<RequestImages> {
  const images = new Map<string, Uint8Array>();
  const fields = new Map<string, string>();
  if (request.isMultipart()) {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (!imageFields.includes(part.fieldname)) {
          part.file.resume();
          throw new ProblemError(
            'bad-request',
            `unexpected file field '${part.fieldname}': expected ${imageFields.join(', ')}`,
          );
        }
        // toBuffer throws the multipart plugin's file-too-large error past the limit (mapped to 413).
        images.set(part.fieldname, await part.toBuffer());
      } else if (textFields.includes(part.fieldname) && typeof part.value === 'string') {
        fields.set(part.fieldname, part.value);
      } else if (imageFields.includes(part.fieldname) && typeof part.value === 'string') {
        images.set(part.fieldname, fromBase64(part.value, part.fieldname));
      } else {
        throw new ProblemError('bad-request', `unexpected form field '${part.fieldname}'`);
      }
    }
  } else if (request.body instanceof Uint8Array) {
    if (request.body.length === 0) throw new ProblemError('bad-request', 'the request body is empty');
    images.set(imageFields[0], request.body);
  } else if (request.body && typeof request.body === 'object') {
    for (const [key, value] of Object.entries(request.body as Record<string, unknown>)) {
      if (imageFields.includes(key) && typeof value === 'string') images.set(key, fromBase64(value, key));
      else if (textFields.includes(key) && (typeof value === 'string' || typeof value === 'number')) {
        fields.set(key, String(value));
      }
    }
  } else {
    throw new ProblemError(
      'bad-request',
      'send the image as multipart/form-data, as the raw body (image/jpeg, image/png, ...), or as JSON base64',
    );
  }
  return { images, fields };
}
