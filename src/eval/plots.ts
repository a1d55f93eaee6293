/**
 * Evaluation plots as hand-written SVG (no plotting dependency), and PNG through sharp: ROC with a
 * log-scale FAR axis, genuine vs impostor score histograms, CMC curves.
 */
import { escapeXml, svgToPng } from '../util/svg.js';
import type { RocCurve } from './roc.js';

const W = 720;
const H = 480;
const M = { left: 72, right: 24, top: 44, bottom: 60 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
/** Threshold markers: told apart by colour and dash pattern. */
const VLINE_STYLES = [
  { color: '#333333', dash: '6,4' },
  { color: '#2ca02c', dash: '2,3' },
  { color: '#9467bd', dash: '10,3,2,3' },
];
const FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"';

const f2 = (v: number): string => (Math.round(v * 100) / 100).toString();

interface Axis {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly log?: boolean;
  /** Labelled tick positions. */
  readonly ticks: readonly number[];
  /** Unlabelled minor ticks (grid only). */
  readonly minor?: readonly number[];
  readonly format: (v: number) => string;
}

interface Series {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
  /** 'line' (default), or 'area' (filled to the x axis, semi-transparent). */
  readonly kind?: 'line' | 'area';
  readonly markers?: boolean;
}

interface VLine {
  readonly label: string;
  readonly x: number;
}

class Frame {
  readonly pw = W - M.left - M.right;
  readonly ph = H - M.top - M.bottom;
  constructor(
    readonly x: Axis,
    readonly y: Axis,
  ) {}
  px(v: number): number {
    const { min, max, log } = this.x;
    const t = log
      ? (Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))
      : (v - min) / (max - min);
    return M.left + t * this.pw;
  }
  py(v: number): number {
    const { min, max } = this.y;
    return M.top + this.ph - ((v - min) / (max - min)) * this.ph;
  }
}

/** Drop points closer than ~0.75 px to the last kept one, so curves of millions of points stay small. */
function thin(frame: Frame, pts: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  let last: [number, number] | null = null;
  pts.forEach(([x, y], i) => {
    const p: [number, number] = [frame.px(x), frame.py(y)];
    if (
      !last ||
      i === pts.length - 1 ||
      Math.abs(p[0] - last[0]) >= 0.75 ||
      Math.abs(p[1] - last[1]) >= 0.75
    ) {
      out.push(p);
      last = p;
    }
  });
  return out;
}

function chart(
  title: string,
  x: Axis,
  y: Axis,
  series: readonly Series[],
  vlines: readonly VLine[] = [],
): string {
  const fr = new Frame(x, y);
  const parts: string[] = [];
  const bottom = M.top + fr.ph;
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
  );
  // Grid and ticks.
  for (const v of x.minor ?? []) {
    parts.push(
      `<line x1="${f2(fr.px(v))}" y1="${M.top}" x2="${f2(fr.px(v))}" y2="${bottom}" stroke="#f0f0f0"/>`,
    );
  }
  for (const v of x.ticks) {
    const p = f2(fr.px(v));
    parts.push(`<line x1="${p}" y1="${M.top}" x2="${p}" y2="${bottom}" stroke="#dddddd"/>`);
    parts.push(`<line x1="${p}" y1="${bottom}" x2="${p}" y2="${bottom + 5}" stroke="black"/>`);
    parts.push(
      `<text x="${p}" y="${bottom + 20}" text-anchor="middle" font-size="13">${escapeXml(x.format(v))}</text>`,
    );
  }
  for (const v of y.ticks) {
    const p = f2(fr.py(v));
    parts.push(`<line x1="${M.left}" y1="${p}" x2="${M.left + fr.pw}" y2="${p}" stroke="#dddddd"/>`);
    parts.push(`<line x1="${M.left - 5}" y1="${p}" x2="${M.left}" y2="${p}" stroke="black"/>`);
    parts.push(
      `<text x="${M.left - 9}" y="${p}" dy="4" text-anchor="end" font-size="13">${escapeXml(y.format(v))}</text>`,
    );
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${fr.pw}" height="${fr.ph}" fill="none" stroke="black"/>`,
  );
  parts.push(
    `<text x="${M.left + fr.pw / 2}" y="${H - 14}" text-anchor="middle" font-size="14">${escapeXml(x.label)}</text>`,
  );
  parts.push(
    `<text transform="translate(18 ${M.top + fr.ph / 2}) rotate(-90)" text-anchor="middle" font-size="14">${escapeXml(y.label)}</text>`,
  );
  // Data, clipped to the plot area.
  parts.push(
    `<clipPath id="plot"><rect x="${M.left}" y="${M.top}" width="${fr.pw}" height="${fr.ph}"/></clipPath>`,
  );
  parts.push('<g clip-path="url(#plot)">');
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = thin(fr, s.points);
    const d = pts.map(([px, py]) => `${f2(px)},${f2(py)}`).join(' ');
    if (s.kind === 'area' && pts.length) {
      const base = f2(fr.py(Math.max(y.min, 0)));
      const poly = `${f2(pts[0][0])},${base} ${d} ${f2(pts[pts.length - 1][0])},${base}`;
      parts.push(
        `<polygon points="${poly}" fill="${c}" fill-opacity="0.35" stroke="${c}" stroke-width="1.5"/>`,
      );
    } else {
      parts.push(`<polyline points="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    }
    if (s.markers)
      for (const [px, py] of pts) parts.push(`<circle cx="${f2(px)}" cy="${f2(py)}" r="3" fill="${c}"/>`);
  });
  vlines.forEach((v, i) => {
    const p = f2(fr.px(v.x));
    const st = VLINE_STYLES[i % VLINE_STYLES.length];
    parts.push(
      `<line x1="${p}" y1="${M.top}" x2="${p}" y2="${bottom}" stroke="${st.color}" stroke-width="1.5" stroke-dasharray="${st.dash}"/>`,
    );
  });
  parts.push('</g>');
  // Legend, top right of the plot area.
  const entries = [
    ...series.map((s, i) => ({ label: s.label, color: COLORS[i % COLORS.length], dash: '' })),
    ...vlines.map((v, i) => ({ label: v.label, ...VLINE_STYLES[i % VLINE_STYLES.length] })),
  ];
  if (entries.length) {
    const lw = Math.max(...entries.map((e) => e.label.length)) * 7.4 + 44;
    const lx = M.left + fr.pw - lw - 8;
    const ly = series.some((s) => s.kind === 'area') ? M.top + 8 : bottom - 8 - entries.length * 20 - 8;
    parts.push(
      `<rect x="${f2(lx)}" y="${ly}" width="${f2(lw)}" height="${entries.length * 20 + 8}" fill="white" fill-opacity="0.9" stroke="#999"/>`,
    );
    entries.forEach((e, i) => {
      const yy = ly + 16 + i * 20;
      const dash = e.dash ? ` stroke-dasharray="${e.dash}"` : '';
      parts.push(
        `<line x1="${f2(lx + 8)}" y1="${yy - 4}" x2="${f2(lx + 32)}" y2="${yy - 4}" stroke="${e.color}" stroke-width="3"${dash}/>`,
      );
      parts.push(`<text x="${f2(lx + 38)}" y="${yy}" font-size="13">${escapeXml(e.label)}</text>`);
    });
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>\n${parts.join('\n')}\n</svg>\n`;
}

/** Round "nice" ticks (1, 2, 5 x 10^n steps) covering [min, max]. */
export function niceTicks(min: number, max: number, target = 6): number[] {
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // Multiply integers rather than accumulate, and trim float noise (3 * 0.2 = 0.6000000000000001).
  for (let i = Math.ceil(min / step - 1e-9); i <= Math.floor(max / step + 1e-9); i++) {
    out.push(Number((i * step).toPrecision(12)) + 0);
  }
  return out;
}

const SUP: Record<string, string> = {
  '-': '⁻',
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
};
/** 10^e written with superscripts, e.g. 10⁻³; 10^0 as 1. */
const decade = (v: number): string => {
  const e = Math.round(Math.log10(v));
  return e === 0 ? '1' : `10${[...String(e)].map((c) => SUP[c]).join('')}`;
};

/** A fraction as a percentage with up to two decimals. */
const pct = (v: number): string => `${f2(v * 100)}%`;

/**
 * ROC curves, TAR against FAR on a log scale from the smallest decade any curve reaches to 1.
 * Points at FAR = 0 cannot sit on a log axis; each curve starts at its first non-zero FAR.
 */
export function rocSvg(curves: readonly { label: string; roc: RocCurve }[], title = 'ROC'): string {
  let minFar = 1;
  for (const { roc } of curves) {
    const k = roc.fpr.findIndex((v) => v > 0);
    if (k >= 0) minFar = Math.min(minFar, roc.fpr[k]);
  }
  const lo = Math.min(1e-1, 10 ** Math.floor(Math.log10(minFar) + 1e-9));
  const span = -Math.log10(lo);
  const series: Series[] = curves.map(({ label, roc }) => {
    // Enter at the left edge with the TAR reached there, so the curve spans the whole axis.
    let k = 0;
    while (k + 1 < roc.fpr.length && roc.fpr[k + 1] < lo) k++;
    const pts: [number, number][] = roc.fpr[k] < lo ? [[lo, roc.tpr[k]]] : [];
    // All-pairs ROCs have millions of points: keep those at least 1/4000 of an axis from the last.
    for (let i = k; i < roc.fpr.length; i++) {
      if (roc.fpr[i] < lo) continue;
      const last = pts[pts.length - 1];
      const far =
        !last ||
        Math.abs(Math.log10(roc.fpr[i] / last[0])) >= span / 4000 ||
        Math.abs(roc.tpr[i] - last[1]) >= 1 / 4000;
      if (far || i === roc.fpr.length - 1) pts.push([roc.fpr[i], roc.tpr[i]]);
    }
    return { label, points: pts };
  });
  let lowest = 1;
  for (const s of series) for (const p of s.points) lowest = Math.min(lowest, p[1]);
  const ymin = Math.max(0, Math.floor(lowest * 10 - 1e-9) / 10);
  const ticks: number[] = [];
  const minor: number[] = [];
  for (let e = Math.round(Math.log10(lo)); e <= 0; e++) {
    ticks.push(10 ** e);
    if (e < 0) for (let m = 2; m <= 9; m++) minor.push(m * 10 ** e);
  }
  return chart(
    title,
    { label: 'False accept rate (FAR, log scale)', min: lo, max: 1, log: true, ticks, minor, format: decade },
    { label: 'True accept rate (TAR)', min: ymin, max: 1, ticks: niceTicks(ymin, 1, 5), format: pct },
    series,
  );
}

/**
 * Genuine and impostor score distributions as densities over shared bins, with optional
 * thresholds drawn as dashed lines.
 */
export function scoreHistogramSvg(
  genuine: ArrayLike<number>,
  impostor: ArrayLike<number>,
  opts: { readonly bins?: number; readonly thresholds?: readonly VLine[]; readonly title?: string } = {},
): string {
  // Enough bins for shape, few enough that the smaller class does not dissolve into noise.
  const bins =
    opts.bins ??
    Math.max(20, Math.min(80, Math.round(2 * Math.sqrt(Math.min(genuine.length, impostor.length)))));
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of [genuine, impostor]) {
    for (let i = 0; i < s.length; i++) {
      if (s[i] < lo) lo = s[i];
      if (s[i] > hi) hi = s[i];
    }
  }
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, lo + 0.5];
  const width = (hi - lo) / bins;
  const density = (s: ArrayLike<number>): [number, number][] => {
    const h = new Float64Array(bins);
    for (let i = 0; i < s.length; i++) h[Math.min(bins - 1, Math.floor((s[i] - lo) / width))]++;
    const pts: [number, number][] = [];
    h.forEach((c, b) => {
      const d = s.length ? c / s.length / width : 0;
      pts.push([lo + b * width, d], [lo + (b + 1) * width, d]);
    });
    return pts;
  };
  const g = density(genuine);
  const im = density(impostor);
  // Headroom above the tallest bin keeps the legend (top right) off the data.
  const ymax = Math.max(...g.map((p) => p[1]), ...im.map((p) => p[1])) * 1.35 || 1;
  const xt = niceTicks(lo, hi, 7);
  return chart(
    opts.title ?? 'Score distributions',
    {
      label: 'Cosine similarity',
      min: lo,
      max: hi,
      ticks: xt.filter((v) => v >= lo && v <= hi),
      format: (v) => f2(v),
    },
    {
      label: 'Density',
      min: 0,
      max: ymax,
      ticks: niceTicks(0, ymax, 5).filter((v) => v <= ymax),
      format: (v) => f2(v),
    },
    [
      { label: `genuine (${genuine.length})`, points: g, kind: 'area' },
      { label: `impostor (${impostor.length})`, points: im, kind: 'area' },
    ],
    (opts.thresholds ?? []).filter((t) => t.x >= lo && t.x <= hi),
  );
}

/** Cumulative match characteristic: identification rate against rank. */
export function cmcSvg(curves: readonly { label: string; cmc: readonly number[] }[], title = 'CMC'): string {
  const maxRank = Math.max(...curves.map((c) => c.cmc.length));
  const lowest = curves.reduce((m, c) => c.cmc.reduce((mm, v) => Math.min(mm, v), m), 1);
  const ymin = Math.max(0, Math.floor(lowest * 10 - 1e-9) / 10);
  const xt = niceTicks(1, Math.max(maxRank, 2), 8).filter((v) => v >= 1 && Number.isInteger(v));
  return chart(
    title,
    {
      label: 'Rank',
      min: 1,
      max: Math.max(maxRank, 2),
      ticks: xt.length ? xt : [1],
      format: (v) => String(v),
    },
    { label: 'Identification rate', min: ymin, max: 1, ticks: niceTicks(ymin, 1, 5), format: pct },
    curves.map((c) => ({
      label: c.label,
      points: c.cmc.map((v, i) => [i + 1, v] as const),
      markers: maxRank <= 30,
    })),
  );
}

/** Re-exported from util/svg.ts, where it is shared with the toy report. */
export { svgToPng };
