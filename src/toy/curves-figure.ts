/**
 * Training curves of the toy runs as hand-written SVG: loss and accuracy per epoch, one line per
 * method, the ArcFace run's softmax warm-up epochs shaded.
 */
import type { CurvePoint } from './experiment.js';
import { escapeXml } from '../util/svg.js';

export interface CurveSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly CurvePoint[];
}

const PW = 420;
const PH = 260;
const M = { left: 60, right: 20, top: 70, bottom: 50 };
const FONT = 'font-family="DejaVu Sans, Arial, Helvetica, sans-serif"';
const esc = escapeXml;
const f1 = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Width and height of the curves figure in pixels. */
export const CURVES_SIZE = { width: 2 * (PW + M.left + M.right), height: PH + M.top + M.bottom };

/** Two panels: training loss, and training / held-out accuracy, by epoch. */
export function curvesSvg(series: readonly CurveSeries[], warmupEpochs: number): string {
  const epochs = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.epoch)));
  const losses = series.flatMap((s) => s.points.map((p) => p.loss)).filter(Number.isFinite);
  const lossMax = niceCeil(Math.max(1e-6, ...losses));
  const { width, height } = CURVES_SIZE;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  const panels: {
    title: string;
    max: number;
    lines: { key: 'loss' | 'trainAccuracy' | 'heldOutAccuracy'; dash: string }[];
  }[] = [
    { title: 'training loss', max: lossMax, lines: [{ key: 'loss', dash: '' }] },
    {
      title: 'accuracy (solid: held-out, dotted: training)',
      max: 1,
      lines: [
        { key: 'heldOutAccuracy', dash: '' },
        { key: 'trainAccuracy', dash: '2,3' },
      ],
    },
  ];
  panels.forEach((panel, i) => {
    const x0 = i * (PW + M.left + M.right) + M.left;
    const y0 = M.top;
    const px = (e: number): number => x0 + (epochs === 1 ? PW / 2 : ((e - 1) / (epochs - 1)) * PW);
    const py = (v: number): number => y0 + PH - (v / panel.max) * PH;
    parts.push(
      `<text x="${x0 + PW / 2}" y="${y0 - 12}" ${FONT} font-size="15" text-anchor="middle">${esc(panel.title)}</text>`,
    );
    if (warmupEpochs > 0) {
      const xw = px(warmupEpochs + 0.5);
      parts.push(
        `<rect x="${x0}" y="${y0}" width="${f1(Math.max(0, xw - x0))}" height="${PH}" fill="#f3f3f3"/>`,
      );
      parts.push(`<text x="${x0 + 4}" y="${y0 + PH - 6}" ${FONT} font-size="11" fill="#777">warm-up</text>`);
    }
    parts.push(`<rect x="${x0}" y="${y0}" width="${PW}" height="${PH}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (panel.max * k) / 4;
      parts.push(`<line x1="${x0}" y1="${f1(py(v))}" x2="${x0 + PW}" y2="${f1(py(v))}" stroke="#e8e8e8"/>`);
      parts.push(
        `<text x="${x0 - 6}" y="${f1(py(v) + 4)}" ${FONT} font-size="11" text-anchor="end">${esc(fmt(v))}</text>`,
      );
    }
    for (const e of epochTicks(epochs)) {
      parts.push(
        `<text x="${f1(px(e))}" y="${y0 + PH + 16}" ${FONT} font-size="11" text-anchor="middle">${e}</text>`,
      );
    }
    parts.push(
      `<text x="${x0 + PW / 2}" y="${y0 + PH + 36}" ${FONT} font-size="12" text-anchor="middle">epoch</text>`,
    );
    for (const s of series) {
      for (const line of panel.lines) {
        const pts = s.points
          .filter((p) => Number.isFinite(p[line.key]))
          .map((p) => `${f1(px(p.epoch))},${f1(py(Math.min(p[line.key], panel.max)))}`);
        if (pts.length === 0) continue;
        parts.push(
          `<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}/>`,
        );
      }
    }
  });
  let lx = M.left;
  for (const s of series) {
    parts.push(`<line x1="${lx}" y1="20" x2="${lx + 24}" y2="20" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 30}" y="24" ${FONT} font-size="12">${esc(s.label)}</text>`);
    // DejaVu Sans at 12 px averages about 7 px per character.
    lx += 60 + s.label.length * 7.2;
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  return Math.abs(v) >= 10 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

function epochTicks(epochs: number): number[] {
  const step = Math.max(1, Math.ceil(epochs / 10));
  const ticks: number[] = [];
  for (let e = 1; e <= epochs; e += step) ticks.push(e);
  if (ticks[ticks.length - 1] !== epochs) ticks.push(epochs);
  return ticks;
}
