/**
 * Align an identity-per-folder image set once, to disk: every source image becomes one crop in the same
 * <class>/<file> layout under the output folder, so training reads small aligned crops instead of
 * detecting faces every epoch. Resumable: a manifest records each source's SHA-256 and outcome, and a
 * re-run skips sources already done. The face work itself (decode, detect, align) is injected by the
 * caller, so this room stays free of the face room.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { makeDirs, writeFileAtomic } from '../util/fs.js';
import { IMAGE_EXTENSIONS } from './folder.js';
import { reasonOf } from './image-sample.js';

/** The manifest's file name inside the output folder. */
export const PREPARE_MANIFEST = 'prepare-manifest.json';
const MANIFEST_VERSION = 1;
/** Sources between manifest writes: a crash loses at most this much work. */
const MANIFEST_EVERY = 64;

/** An aligned face crop: 8-bit RGB, row-major, interleaved (HWC). */
export interface AlignedCrop {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * What the caller's aligner says about one image: a crop of the largest face, or no face. A thrown error
 * (undecodable file) is recorded as a failure for that file, never fatal.
 */
export type AlignResult =
  | {
      readonly kind: 'face';
      readonly crop: AlignedCrop;
      readonly faces: number;
      readonly score: number;
      /** Found only on a copy padded by a margin, after the image itself gave none (a tight crop). */
      readonly padded?: boolean;
    }
  | { readonly kind: 'no-face' };

/** Decode one image file (its bytes given) and align its face; `path` is for messages. */
export type Aligner = (bytes: Uint8Array, path: string) => Promise<AlignResult>;

/** One source's outcome, as kept in the manifest. */
export interface ManifestEntry {
  /** SHA-256 of the source file's bytes, hex. */
  readonly sha256: string;
  readonly status: 'ok' | 'no-face' | 'failed';
  /** The crop, relative to the output folder (only when ok). */
  readonly crop?: string;
  /** Faces the detector found (only when ok). */
  readonly faces?: number;
  /** Detector score of the face kept (only when ok). */
  readonly score?: number;
  /** True when the face was found only on a padded copy of the source (a retry; only when ok). */
  readonly padded?: true;
  /** Why the source failed (only when failed). */
  readonly reason?: string;
}

/** The manifest: how the crops were made, and each source's outcome keyed by <class>/<file>. */
export interface PrepareManifest {
  readonly version: number;
  /** The aligner's description (e.g. the detector spec): a re-run with another one is refused. */
  readonly aligner: string;
  /** Crop side, pixels. */
  readonly size: number;
  readonly entries: Record<string, ManifestEntry>;
}

export interface PrepareOptions {
  /** Source root: <data>/<class>/<image>. */
  readonly data: string;
  /** Output root: crops are written to <out>/<class>/<image stem>.png, plus the manifest. */
  readonly out: string;
  readonly align: Aligner;
  /** Describes the aligner (detector spec, template); stored in the manifest and checked on re-runs. */
  readonly alignerName: string;
  /** Crop side the aligner produces, pixels; each crop is checked against it. */
  readonly size: number;
  /** Images aligned at once (default 2): overlaps one file's decode with another's detection. */
  readonly concurrency?: number;
  /** Called after each source: counts so far. */
  readonly onProgress?: (p: PrepareProgress) => void;
  /** Stop early (the manifest is written first, so a re-run resumes). */
  readonly signal?: AbortSignal;
}

export interface PrepareProgress {
  readonly done: number;
  readonly total: number;
  readonly written: number;
  readonly skipped: number;
  readonly noFace: number;
  readonly failed: number;
}

/** A source that yielded no crop, and why. */
export interface PrepareProblem {
  /** <class>/<file>, relative to the source root. */
  readonly source: string;
  readonly reason: string;
}

export interface PrepareResult extends PrepareProgress {
  /** Sources with no face detected. */
  readonly noFaceFiles: readonly PrepareProblem[];
  /** Sources that could not be read or decoded. */
  readonly failedFiles: readonly PrepareProblem[];
  /** Sources (<class>/<file>) whose crop came from a padded copy, this run or an earlier one, sorted. */
  readonly paddedFiles: readonly string[];
  /** Classes left with no crop at all (training would see no sample of them). */
  readonly emptyClasses: readonly string[];
  /** True when stopped by the signal before every source was seen. */
  readonly aborted: boolean;
  readonly manifestPath: string;
}

/** A re-run that would mix crops made differently, or a bad option. */
export class PrepareError extends Error {
  override readonly name = 'PrepareError';
}

interface Source {
  /** <class>/<file> */
  readonly key: string;
  readonly className: string;
  readonly path: string;
  /** <class>/<stem>.png */
  readonly crop: string;
}

/**
 * Align every image of `opts.data` into `opts.out` (see the file comment). Sources whose bytes and
 * outcome are already in the manifest, with their crop on disk, are skipped; changed sources are redone.
 * @throws {@link PrepareError} when the output was prepared with another aligner or size, or the source
 *   folder holds no images
 */
export async function prepareFolder(opts: PrepareOptions): Promise<PrepareResult> {
  if (!Number.isInteger(opts.size) || opts.size <= 0)
    throw new PrepareError(`prepare: size must be a positive integer, got ${opts.size}`);
  const concurrency = opts.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new PrepareError(`prepare: concurrency must be a positive integer, got ${concurrency}`);
  const root = resolve(opts.data);
  const out = resolve(opts.out);
  if (out === root)
    throw new PrepareError('prepare: --out must differ from --data (crops would mix with sources)');
  const sources = await listSources(root);
  if (sources.length === 0)
    throw new PrepareError(`prepare: no images under ${root} (expected ${root}/<class>/<image>)`);
  await makeDirs(out);
  const manifestPath = join(out, PREPARE_MANIFEST);
  const old = await readManifest(manifestPath);
  if (old && (old.aligner !== opts.alignerName || old.size !== opts.size)) {
    throw new PrepareError(
      `prepare: ${out} holds crops made with ${old.aligner} at ${old.size} px, not ${opts.alignerName} at ` +
        `${opts.size} px; give another --out or delete it`,
    );
  }
  const entries: Record<string, ManifestEntry> = { ...(old?.entries ?? {}) };
  const counts = { done: 0, total: sources.length, written: 0, skipped: 0, noFace: 0, failed: 0 };
  const noFaceFiles: PrepareProblem[] = [];
  const failedFiles: PrepareProblem[] = [];
  let sinceWrite = 0;
  const save = (): Promise<void> =>
    writeFileAtomic(
      manifestPath,
      JSON.stringify({ version: MANIFEST_VERSION, aligner: opts.alignerName, size: opts.size, entries }) +
        '\n',
    );

  const one = async (s: Source): Promise<void> => {
    let entry: ManifestEntry | undefined;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(s.path);
    } catch (err) {
      bytes = new Uint8Array(0);
      entry = { sha256: '', status: 'failed', reason: reasonOf(err) };
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const known = entries[s.key];
    if (known && known.sha256 === sha256 && sha256 !== '' && (await finished(out, known))) {
      counts.skipped++;
      if (known.status === 'no-face') noFaceFiles.push({ source: s.key, reason: 'no face detected' });
      if (known.status === 'failed') failedFiles.push({ source: s.key, reason: known.reason ?? 'failed' });
      return;
    }
    entry ??= await alignOne(s, bytes, sha256, out, opts);
    entries[s.key] = entry;
    if (entry.status === 'ok') counts.written++;
    else if (entry.status === 'no-face') {
      counts.noFace++;
      noFaceFiles.push({ source: s.key, reason: 'no face detected' });
    } else {
      counts.failed++;
      failedFiles.push({ source: s.key, reason: entry.reason ?? 'failed' });
    }
    if (++sinceWrite >= MANIFEST_EVERY) {
      sinceWrite = 0;
      await save();
    }
  };

  let next = 0;
  let aborted = false;
  const lane = async (): Promise<void> => {
    while (next < sources.length) {
      if (opts.signal?.aborted) {
        aborted = true;
        return;
      }
      await one(sources[next++]);
      counts.done++;
      opts.onProgress?.({ ...counts });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, sources.length) }, lane));
  } finally {
    await save();
  }
  const withCrop = new Set<string>();
  for (const s of sources) if (entries[s.key]?.status === 'ok') withCrop.add(s.className);
  const emptyClasses = [...new Set(sources.map((s) => s.className))].filter((c) => !withCrop.has(c));
  const paddedFiles = sources.filter((s) => entries[s.key]?.padded).map((s) => s.key);
  const byKey = (a: PrepareProblem, b: PrepareProblem): number => (a.source < b.source ? -1 : 1);
  return {
    ...counts,
    noFaceFiles: noFaceFiles.sort(byKey),
    failedFiles: failedFiles.sort(byKey),
    paddedFiles,
    emptyClasses,
    aborted,
    manifestPath,
  };
}

/** Align one source and write its crop atomically; an aligner error is the file's failure. */
async function alignOne(
  s: Source,
  bytes: Uint8Array,
  sha256: string,
  out: string,
  opts: PrepareOptions,
): Promise<ManifestEntry> {
  let result: AlignResult;
  try {
    result = await opts.align(bytes, s.path);
  } catch (err) {
    return { sha256, status: 'failed', reason: reasonOf(err) };
  }
  if (result.kind === 'no-face') return { sha256, status: 'no-face' };
  const { crop } = result;
  if (
    crop.width !== opts.size ||
    crop.height !== opts.size ||
    crop.data.length !== opts.size * opts.size * 3
  ) {
    throw new PrepareError(
      `prepare: the aligner gave a ${crop.width}x${crop.height} crop for ${s.key}, expected ${opts.size}x${opts.size} RGB`,
    );
  }
  // PNG: lossless, so the crop trains on exactly the pixels the aligner produced.
  const png = await sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFileAtomic(join(out, s.crop), png);
  const entry = {
    sha256,
    status: 'ok',
    crop: s.crop,
    faces: result.faces,
    score: round(result.score),
  } as const;
  return result.padded ? { ...entry, padded: true } : entry;
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

/** An entry is finished when its outcome needs no file, or its crop is on disk. */
async function finished(out: string, e: ManifestEntry): Promise<boolean> {
  if (e.status !== 'ok') return true;
  if (!e.crop) return false;
  return stat(join(out, e.crop)).then(
    (st) => st.isFile() && st.size > 0,
    () => false,
  );
}

async function readManifest(path: string): Promise<PrepareManifest | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  let m: PrepareManifest;
  try {
    m = JSON.parse(text) as PrepareManifest;
  } catch (err) {
    throw new PrepareError(`prepare: ${path} is not valid JSON (${reasonOf(err)}); delete it to start over`);
  }
  if (m.version !== MANIFEST_VERSION || typeof m.entries !== 'object' || m.entries === null)
    throw new PrepareError(
      `prepare: ${path} is not a version ${MANIFEST_VERSION} manifest; delete it to start over`,
    );
  return m;
}

/** Every image under root/<class>/, classes and files sorted by code point (the dataset's own order). */
async function listSources(root: string): Promise<Source[]> {
  const exts = new Set(IMAGE_EXTENSIONS);
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => !n.startsWith('.')).sort(byCodePoint);
  } catch (err) {
    throw new PrepareError(`prepare: cannot read --data ${root} (${reasonOf(err)})`);
  }
  const sources: Source[] = [];
  for (const className of names) {
    const dir = join(root, className);
    if (
      !(await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      continue;
    const files = (await readdir(dir))
      .filter((f) => !f.startsWith('.') && exts.has(extname(f).toLowerCase()))
      .sort(byCodePoint);
    const crops = new Set<string>();
    for (const f of files) {
      const stem = f.slice(0, f.length - extname(f).length);
      // Two sources with one stem (a.jpg, a.png) keep their extension in the crop's name.
      const crop = crops.has(`${stem}.png`) ? `${f}.png` : `${stem}.png`;
      crops.add(crop);
      sources.push({ key: `${className}/${f}`, className, path: join(dir, f), crop: `${className}/${crop}` });
    }
  }
  return sources;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
