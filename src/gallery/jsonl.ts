/**
 * The gallery export format: JSON lines, one {@link GalleryRecord} a line. Embeddings are base64 of little-endian
 * float32, so an export → import → export round trip is byte-identical (no decimal rounding anywhere).
 */
import type { Box, Landmarks5, Point } from '../face/types.js';
import { GalleryError } from './errors.js';
import type { GalleryRecord, JsonObject } from './types.js';
import { base64ToFloat32, float32ToBase64 } from './vector.js';

/** One record as a JSON line (no trailing newline). */
export function recordToLine(r: GalleryRecord): string {
  if (r.type === 'gallery') return JSON.stringify(r);
  if (r.type === 'subject') {
    return JSON.stringify({
      type: 'subject',
      name: r.name,
      metadata: r.metadata,
      createdAt: r.createdAt.toISOString(),
    });
  }
  return JSON.stringify({
    type: 'face',
    subject: r.subject,
    recognizer: r.recognizer,
    dim: r.embedding.length,
    embedding: float32ToBase64(r.embedding),
    imageSha256: r.imageSha256 ?? null,
    source: r.source ?? null,
    box: r.box ? [r.box.x1, r.box.y1, r.box.x2, r.box.y2] : null,
    landmarks: r.landmarks ? r.landmarks.map(([x, y]) => [x, y]) : null,
    detectorScore: r.detectorScore ?? null,
    quality: r.quality ?? null,
    createdAt: r.createdAt.toISOString(),
  });
}

type Obj = Record<string, unknown>;

function str(o: Obj, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new GalleryError('bad-input', `${where}: "${key}" must be a string`);
  return v;
}

function strOrNull(o: Obj, key: string, where: string): string | null {
  return o[key] === null || o[key] === undefined ? null : str(o, key, where);
}

function numOrNull(o: Obj, key: string, where: string): number | null {
  const v = o[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new GalleryError('bad-input', `${where}: "${key}" must be a number or null`);
  }
  return v;
}

function date(o: Obj, key: string, where: string): Date {
  const d = new Date(str(o, key, where));
  if (Number.isNaN(d.getTime())) throw new GalleryError('bad-input', `${where}: "${key}" is not a date`);
  return d;
}

function numbers(v: unknown, n: number, what: string, where: string): number[] {
  if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new GalleryError('bad-input', `${where}: "${what}" must be ${n} numbers`);
  }
  return v as number[];
}

/**
 * Parse one line of an export.
 * @param where names the line in errors, e.g. `faces.jsonl:12`.
 * @throws GalleryError 'bad-input' naming the line and field.
 */
export function lineToRecord(line: string, where: string): GalleryRecord {
  let o: Obj;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    o = parsed as Obj;
  } catch (err) {
    throw new GalleryError('bad-input', `${where}: not a JSON object (${(err as Error).message})`);
  }
  if (o.type === 'gallery') {
    if (o.format !== 'arcface-ts-gallery' || o.version !== 1) {
      throw new GalleryError('bad-input', `${where}: not an arcface-ts gallery export of version 1`);
    }
    return { type: 'gallery', format: 'arcface-ts-gallery', version: 1 };
  }
  if (o.type === 'subject') {
    const metadata = o.metadata;
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new GalleryError('bad-input', `${where}: "metadata" must be an object`);
    }
    return {
      type: 'subject',
      name: str(o, 'name', where),
      metadata: metadata as JsonObject,
      createdAt: date(o, 'createdAt', where),
    };
  }
  if (o.type === 'face') {
    const embedding = base64ToFloat32(str(o, 'embedding', where));
    if (o.dim !== embedding.length) {
      throw new GalleryError(
        'bad-input',
        `${where}: "dim" ${String(o.dim)} but the embedding has ${embedding.length}`,
      );
    }
    const b = o.box === null || o.box === undefined ? null : numbers(o.box, 4, 'box', where);
    const box: Box | null = b ? { x1: b[0], y1: b[1], x2: b[2], y2: b[3] } : null;
    let landmarks: Landmarks5 | null = null;
    if (o.landmarks !== null && o.landmarks !== undefined) {
      if (!Array.isArray(o.landmarks) || o.landmarks.length !== 5) {
        throw new GalleryError('bad-input', `${where}: "landmarks" must be 5 [x, y] points`);
      }
      landmarks = o.landmarks.map(
        (p) => numbers(p, 2, 'landmarks', where) as unknown as Point,
      ) as unknown as Landmarks5;
    }
    return {
      type: 'face',
      subject: str(o, 'subject', where),
      recognizer: str(o, 'recognizer', where),
      embedding,
      imageSha256: strOrNull(o, 'imageSha256', where),
      source: strOrNull(o, 'source', where),
      box,
      landmarks,
      detectorScore: numOrNull(o, 'detectorScore', where),
      quality: numOrNull(o, 'quality', where),
      createdAt: date(o, 'createdAt', where),
    };
  }
  throw new GalleryError('bad-input', `${where}: unknown record type ${JSON.stringify(o.type)}`);
}

/** Parse JSON lines from an async source of lines (blank lines skipped). */
export async function* parseLines(lines: AsyncIterable<string>, name: string): AsyncGenerator<GalleryRecord> {
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    yield lineToRecord(line, `${name}:${n}`);
  }
}
