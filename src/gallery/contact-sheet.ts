/**
 * The output of `arcface cluster`: clusters.json (groups of faces, unclustered faces, photos without a
 * face), one JPEG thumbnail per face under faces/, and index.html, a contact sheet showing each group's
 * thumbnails in a row. The sheet links the thumbnails by relative path, so the folder can be moved whole.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import type { ClusterMethod } from './cluster.js';
import type { PhotoClusters, PhotoFace } from './cluster-photos.js';

/** One face in clusters.json. */
export interface FaceEntry {
  readonly image: string;
  /** Index among the faces detected in the image, by descending score. */
  readonly face: number;
  /** [x1, y1, x2, y2] in image pixels. */
  readonly box: readonly number[];
  readonly score: number;
  /** Thumbnail path relative to the output folder, when written. */
  readonly thumbnail?: string;
}

/** clusters.json. */
export interface ClusterReport {
  readonly recognizer: string;
  readonly method: ClusterMethod;
  readonly threshold: number | null;
  /** 'given', 'measured for clustering' (on LFW, for this recogniser and method) or 'verification threshold'. */
  readonly thresholdSource: string;
  readonly photos: number;
  readonly faces: number;
  /** Largest group first. */
  readonly groups: readonly { readonly id: number; readonly faces: readonly FaceEntry[] }[];
  readonly unclustered: readonly FaceEntry[];
  readonly noFace: readonly string[];
  readonly failed: readonly { readonly image: string; readonly error: string }[];
}

const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The JSON report (no files written). */
export function clusterReport(
  result: PhotoClusters,
  method: ClusterMethod,
  photos: number,
  thumbnailPath: (i: number) => string | undefined = () => undefined,
): ClusterReport {
  const entry = (i: number): FaceEntry => {
    const f: PhotoFace = result.faces[i];
    const thumb = thumbnailPath(i);
    return {
      image: f.image,
      face: f.faceIndex,
      box: [f.face.box.x1, f.face.box.y1, f.face.box.x2, f.face.box.y2].map((v) => round(v)),
      score: round(f.face.score, 4),
      ...(thumb ? { thumbnail: thumb } : {}),
    };
  };
  return {
    recognizer: result.recognizer,
    method,
    threshold: result.threshold ?? null,
    thresholdSource: result.thresholdSource,
    photos,
    faces: result.faces.length,
    groups: result.clustering.groups.map((rows, id) => ({ id, faces: rows.map(entry) })),
    unclustered: result.clustering.unclustered.map(entry),
    noFace: result.noFace,
    failed: result.failed,
  };
}

/** The contact sheet for a report whose faces carry thumbnail paths. */
export function contactSheetHtml(report: ClusterReport): string {
  const img = (f: FaceEntry): string => {
    const title = escapeHtml(`${f.image}${f.face > 0 ? ` (face ${f.face + 1})` : ''}`);
    return f.thumbnail
      ? `<img src="${escapeHtml(f.thumbnail)}" title="${title}" alt="${title}" loading="lazy">`
      : `<span class="nothumb" title="${title}">${title}</span>`;
  };
  const row = (heading: string, faces: readonly FaceEntry[]): string =>
    `<section><h2>${escapeHtml(heading)}</h2><div class="faces">${faces.map(img).join('')}</div></section>`;
  const list = (heading: string, items: readonly string[]): string =>
    items.length === 0
      ? ''
      : `<section><h2>${escapeHtml(heading)}</h2><ul>${items.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul></section>`;
  const setting =
    `${report.recognizer}, ${report.method}` +
    (report.threshold === null ? '' : ` at similarity ${report.threshold} (${report.thresholdSource})`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Faces by person</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1em; margin: 1.2em 0 0.3em; }
.faces { display: flex; flex-wrap: wrap; gap: 4px; }
.faces img { width: 96px; height: 96px; border-radius: 4px; }
.nothumb { font-size: 0.8em; }
p.meta { color: #666; }
</style></head><body>
<h1>Faces by person</h1>
<p class="meta">${report.photos} photos, ${report.faces} faces: ${report.groups.length} groups, ${report.unclustered.length} unclustered. ${escapeHtml(setting)}.</p>
${report.groups.map((g) => row(`Group ${g.id + 1} (${g.faces.length} faces)`, g.faces)).join('\n')}
${report.unclustered.length > 0 ? row(`Unclustered (${report.unclustered.length} faces)`, report.unclustered) : ''}
${list('Photos without a detected face', report.noFace)}
${list(
  'Photos that could not be read',
  report.failed.map((f) => `${f.image}: ${f.error}`),
)}
</body></html>
`;
}

/**
 * Write clusters.json, faces/NNNNN.jpg and index.html under `outDir`.
 * @returns the report written
 */
export async function writeContactSheet(
  outDir: string,
  result: PhotoClusters,
  method: ClusterMethod,
  photos: number,
): Promise<ClusterReport> {
  const digits = Math.max(5, String(result.faces.length).length);
  const name = (i: number): string => `faces/${String(i).padStart(digits, '0')}.jpg`;
  for (let i = 0; i < result.faces.length; i++) {
    const t = result.faces[i].thumbnail;
    if (t) await writeFileAtomic(join(outDir, name(i)), t);
  }
  const report = clusterReport(result, method, photos, (i) =>
    result.faces[i].thumbnail ? name(i) : undefined,
  );
  await writeFileAtomic(join(outDir, 'clusters.json'), `${JSON.stringify(report, null, 1)}\n`);
  await writeFileAtomic(join(outDir, 'index.html'), contactSheetHtml(report));
  return report;
}
