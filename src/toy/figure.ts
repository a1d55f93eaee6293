/**
 * The toy figure, drawn by hand as SVG (PNG through sharp): one column per method, the held-out 2-D
 * features on the plane above and projected onto the unit circle below, one colour per class, each
 * class's weight direction as a ray, and each class's angular extent as an arc around the circle.
 */
import { escapeXml } from '../util/svg.js';
import type { AngularLayout } from './metrics.js';

/** What one column of the figure shows. */
export interface FigureColumn {
  readonly title: string;
  /** Lines of small print under the title (accuracy, spread, gap). */
  readonly notes: readonly string[];
  /** Held-out features [n, 2]. */
  readonly features: Float32Array;
  readonly labels: Int32Array;
  /** Class weight vectors [numClasses, 2] (their directions are drawn). */
  readonly weights: Float32Array;
  /** Extents and gaps of the features on the circle. */
  readonly layout: AngularLayout;
}

/** Qualitative palette (Tableau 10), one colour per class; repeats beyond ten classes. */
export const CLASS_COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

const PANEL = 420;
const GUTTER = 40;
const TOP = 96;
const ROW_TITLE = 28;
const LEGEND = 76;
/** Height of each legend row beyond the first. */
const LEGEND_ROW = 20;
const FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"';

/** Width and height in pixels of a figure with `columns` columns. */
export function figureSize(columns: number): { width: number; height: number } {
  return {
    width: columns * PANEL + (columns + 1) * GUTTER,
    height: TOP + 2 * (PANEL + ROW_TITLE) + GUTTER + LEGEND,
  };
}

const esc = escapeXml;
const f1 = (v: number): string => (Math.round(v * 10) / 10).toString();
const color = (k: number): string => CLASS_COLORS[k % CLASS_COLORS.length];

/** Draw the figure; `classNames` label the legend. */
export function toyFigureSvg(
  columns: readonly FigureColumn[],
  classNames: readonly string[],
  title: string,
): string {
  const { width, height } = figureSize(columns.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="30" ${FONT} font-size="20" text-anchor="middle">${esc(title)}</text>`,
  ];
  columns.forEach((col, c) => {
    const x0 = GUTTER + c * (PANEL + GUTTER);
    parts.push(
      `<text x="${x0 + PANEL / 2}" y="58" ${FONT} font-size="17" font-weight="bold" text-anchor="middle">${esc(col.title)}</text>`,
    );
    col.notes.forEach((line, i) =>
      parts.push(
        `<text x="${x0 + PANEL / 2}" y="${78 + i * 15}" ${FONT} font-size="12" fill="#444" text-anchor="middle">${esc(line)}</text>`,
      ),
    );
    const y1 = TOP + ROW_TITLE;
    const y2 = y1 + PANEL + ROW_TITLE;
    parts.push(rowTitle(x0, y1 - 8, 'held-out features on the plane'));
    parts.push(planePanel(x0, y1, col));
    parts.push(rowTitle(x0, y2 - 8, 'normalised onto the unit circle'));
    parts.push(circlePanel(x0, y2, col));
  });
  parts.push(legend(classNames, height - LEGEND + 20, width));
  parts.push('</svg>');
  return parts.join('\n');
}

function rowTitle(x0: number, y: number, text: string): string {
  return `<text x="${x0 + PANEL / 2}" y="${y}" ${FONT} font-size="13" fill="#222" text-anchor="middle">${esc(text)}</text>`;
}

function frame(x0: number, y0: number): string {
  const cx = x0 + PANEL / 2;
  const cy = y0 + PANEL / 2;
  return [
    `<rect x="${x0}" y="${y0}" width="${PANEL}" height="${PANEL}" fill="none" stroke="#bbb"/>`,
    `<line x1="${x0}" y1="${cy}" x2="${x0 + PANEL}" y2="${cy}" stroke="#e4e4e4"/>`,
    `<line x1="${cx}" y1="${y0}" x2="${cx}" y2="${y0 + PANEL}" stroke="#e4e4e4"/>`,
  ].join('\n');
}

/** Points drawn in a fixed, label-independent order so no class is always painted on top. */
function dots(points: [number, number][], labels: Int32Array, r: number): string {
  return points
    .map(
      ([x, y], i) =>
        `<circle cx="${f1(x)}" cy="${f1(y)}" r="${r}" fill="${color(labels[i])}" fill-opacity="0.6"/>`,
    )
    .join('\n');
}

function rays(cx: number, cy: number, weights: Float32Array, length: number): string {
  const out: string[] = [];
  for (let k = 0; k < weights.length / 2; k++) {
    const [wx, wy] = [weights[2 * k], weights[2 * k + 1]];
    const n = Math.hypot(wx, wy) || 1;
    out.push(
      `<line x1="${cx}" y1="${cy}" x2="${f1(cx + (wx / n) * length)}" y2="${f1(cy - (wy / n) * length)}" ` +
        `stroke="${color(k)}" stroke-width="2.2" stroke-dasharray="7,4"/>`,
    );
  }
  return out.join('\n');
}

function planePanel(x0: number, y0: number, col: FigureColumn): string {
  const cx = x0 + PANEL / 2;
  const cy = y0 + PANEL / 2;
  const n = col.labels.length;
  let reach = 0;
  for (let i = 0; i < n; i++)
    reach = Math.max(reach, Math.hypot(col.features[2 * i], col.features[2 * i + 1]));
  const scale = (PANEL / 2 - 8) / (reach || 1);
  const pts = Array.from({ length: n }, (_, i): [number, number] => [
    cx + col.features[2 * i] * scale,
    cy - col.features[2 * i + 1] * scale,
  ]);
  return [
    frame(x0, y0),
    dots(pts, col.labels, 1.8),
    rays(cx, cy, col.weights, PANEL / 2 - 4),
    `<text x="${x0 + 6}" y="${y0 + PANEL - 6}" ${FONT} font-size="11" fill="#777">|x| up to ${esc(reach.toPrecision(3))}</text>`,
  ].join('\n');
}

function circlePanel(x0: number, y0: number, col: FigureColumn): string {
  const cx = x0 + PANEL / 2;
  const cy = y0 + PANEL / 2;
  const r = PANEL * 0.33;
  const n = col.labels.length;
  const pts = Array.from({ length: n }, (_, i): [number, number] => {
    const [x, y] = [col.features[2 * i], col.features[2 * i + 1]];
    const len = Math.hypot(x, y) || 1;
    return [cx + (x / len) * r, cy - (y / len) * r];
  });
  const parts = [frame(x0, y0), `<circle cx="${cx}" cy="${cy}" r="${r}" fill="none" stroke="#ccc"/>`];
  parts.push(rays(cx, cy, col.weights, r * 1.45));
  parts.push(dots(pts, col.labels, 2.2));
  // Extents on two alternating radii, so neighbours that overlap stay visible.
  const ring = [...col.layout.extents].sort((a, b) => a.centreDeg - b.centreDeg);
  ring.forEach((e, i) => {
    const rr = r * (i % 2 === 0 ? 1.1 : 1.17);
    parts.push(arc(cx, cy, rr, e.centreDeg + e.minOffsetDeg, e.centreDeg + e.maxOffsetDeg, color(e.cls), 5));
  });
  const g = col.layout.smallest;
  if (g) {
    const a = ring.find((e) => e.cls === g.from);
    const b = ring.find((e) => e.cls === g.to);
    if (a && b) {
      const start = g.gapDeg >= 0 ? a.centreDeg + a.maxOffsetDeg : b.centreDeg + b.minOffsetDeg;
      const rr = r * 1.28;
      parts.push(arc(cx, cy, rr, start, start + Math.abs(g.gapDeg), g.gapDeg >= 0 ? '#111' : '#d00', 3));
      const mid = ((start + Math.abs(g.gapDeg) / 2) * Math.PI) / 180;
      const [tx, ty] = [cx + Math.cos(mid) * r * 1.42, cy - Math.sin(mid) * r * 1.42];
      parts.push(
        `<text x="${f1(tx)}" y="${f1(ty + 4)}" ${FONT} font-size="12" text-anchor="middle" fill="${g.gapDeg >= 0 ? '#111' : '#d00'}">` +
          `${g.gapDeg >= 0 ? 'gap' : 'overlap'} ${f1(Math.abs(g.gapDeg))}°</text>`,
      );
    }
  }
  return parts.join('\n');
}

/** An SVG arc from angle a to angle b (degrees, counter-clockwise, mathematical orientation). */
function arc(cx: number, cy: number, r: number, a: number, b: number, stroke: string, width: number): string {
  let sweep = b - a;
  if (sweep >= 360) sweep = 359.99;
  if (sweep <= 0.05) sweep = 0.05;
  const rad = (d: number): number => (d * Math.PI) / 180;
  const [x1, y1] = [cx + r * Math.cos(rad(a)), cy - r * Math.sin(rad(a))];
  const [x2, y2] = [cx + r * Math.cos(rad(a + sweep)), cy - r * Math.sin(rad(a + sweep))];
  // SVG's y axis points down, so counter-clockwise on screen is sweep-flag 0.
  return (
    `<path d="M ${f1(x1)} ${f1(y1)} A ${f1(r)} ${f1(r)} 0 ${sweep > 180 ? 1 : 0} 0 ${f1(x2)} ${f1(y2)}" ` +
    `fill="none" stroke="${stroke}" stroke-width="${width}" stroke-linecap="butt" stroke-opacity="0.85"/>`
  );
}

/** Legend entries flowing left to right, wrapping onto new rows; centred per row. */
function legend(classNames: readonly string[], y: number, width: number): string {
  // DejaVu Sans at 12 px averages about 7 px per character.
  const items = classNames.map((name, k) => {
    const label = (name.length > 28 ? `${name.slice(0, 27)}…` : name).replace(/_/g, ' ');
    return { k, label, w: 26 + label.length * 7.2 };
  });
  const rows: (typeof items)[] = [[]];
  let used = 0;
  for (const it of items) {
    if (used + it.w > width - 2 * GUTTER && rows[rows.length - 1].length > 0) {
      rows.push([]);
      used = 0;
    }
    rows[rows.length - 1].push(it);
    used += it.w;
  }
  const out: string[] = [];
  rows.forEach((row, r) => {
    let x = (width - row.reduce((a, it) => a + it.w, 0)) / 2;
    const yy = y + r * LEGEND_ROW;
    for (const it of row) {
      out.push(
        `<circle cx="${f1(x + 8)}" cy="${yy - 4}" r="6" fill="${color(it.k)}"/>` +
          `<text x="${f1(x + 18)}" y="${yy}" ${FONT} font-size="12">${esc(it.label)}</text>`,
      );
      x += it.w;
    }
  });
  return out.join('\n');
}
