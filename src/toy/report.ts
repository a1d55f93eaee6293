/**
 * The toy report folder: report.json (every number), features.json (the held-out 2-D features),
 * toy.svg/.png (the paper-style figure), curves.svg/.png (training curves) and index.html.
 * Nothing time-dependent goes into report.json, so the same seed gives the same file.
 */
import { join } from 'node:path';
import type { HeadConfig } from '../heads/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { escapeXml, svgToPng } from '../util/svg.js';
import { CURVES_SIZE, curvesSvg } from './curves-figure.js';
import type { CurvePoint, MethodOutcome, ToyTraining } from './experiment.js';
import { CLASS_COLORS, type FigureColumn, figureSize, toyFigureSvg } from './figure.js';
import type { AngularLayout } from './metrics.js';

export const METHODS = ['softmax', 'arcface'] as const;
export type MethodName = (typeof METHODS)[number];

/** Gaps between angularly neighbouring classes, degrees (see metrics.ts). */
export interface GapReport {
  /** Share of each class's features, nearest its centre, that its extent holds (1 = all). */
  readonly coverage: number;
  /** The smallest gap; negative = the two extents overlap. */
  readonly smallestDeg: number | null;
  /** The two classes of the smallest gap (clockwise one first). */
  readonly between: readonly [string, string] | null;
  /** Every neighbouring pair, counter-clockwise. */
  readonly pairs: readonly { readonly from: string; readonly to: string; readonly gapDeg: number }[];
}

export interface MethodReport {
  readonly label: string;
  readonly head: HeadConfig;
  readonly heldOutAccuracy: number;
  readonly spread: {
    /** Mean over classes of the class's mean angle to its centre, degrees. */
    readonly meanDeg: number;
    /** Largest angle of any feature to its class centre, degrees. */
    readonly maxDeg: number;
    readonly perClass: readonly {
      readonly class: string;
      readonly count: number;
      readonly meanDeg: number;
      readonly maxDeg: number;
    }[];
  };
  /** With every held-out feature. */
  readonly gap: GapReport;
  /** With each class's core share of features (robust to a few misclassified outliers). */
  readonly coreGap: GapReport;
  /** Direction of each class's weight vector, degrees counter-clockwise from +x. */
  readonly weightDirectionsDeg: readonly number[];
  readonly curves: readonly CurvePoint[];
}

export interface ToyReport {
  readonly experiment: 'arcface toy: softmax vs ArcFace on 2-D features';
  readonly data: {
    readonly description: string;
    readonly classes: readonly string[];
    readonly trainSize: number;
    readonly heldOutSize: number;
    readonly heldOutFraction: number;
    readonly skipped: readonly { readonly path: string; readonly reason: string }[];
  };
  readonly training: Omit<ToyTraining, 'onProgress' | 'threads'>;
  readonly definitions: Readonly<Record<string, string>>;
  readonly methods: Readonly<Record<MethodName, MethodReport>>;
  readonly files: readonly string[];
}

export const DEFINITIONS: Readonly<Record<string, string>> = {
  centre: "direction of the mean of a class's unit-normalised held-out features",
  spread:
    "angles of a class's features to its centre, degrees: meanDeg is the mean over classes of each class's mean, maxDeg the largest",
  gap:
    "angularly neighbouring classes (centres sorted by angle) A, B: the empty arc between A's most counter-clockwise " +
    "feature and B's most clockwise feature, degrees; negative when their arcs overlap; smallestDeg is the minimum over neighbours",
  coreGap:
    "the same gap when each class's arc only has to hold the given share of its features nearest its centre",
  accuracy:
    'held-out share whose highest class score is their label (softmax: logits with bias; ArcFace: cosine to class centres)',
};

const round = (v: number, digits = 4): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

function gapReport(layout: AngularLayout, coverage: number, names: readonly string[]): GapReport {
  const s = layout.smallest;
  return {
    coverage,
    smallestDeg: s ? round(s.gapDeg, 3) : null,
    between: s ? [names[s.from], names[s.to]] : null,
    pairs: layout.gaps.map((g) => ({ from: names[g.from], to: names[g.to], gapDeg: round(g.gapDeg, 3) })),
  };
}

/** Label of a method for figures and tables. */
export function methodLabel(name: MethodName, t: ToyTraining): string {
  return name === 'softmax' ? 'Softmax (FC with bias)' : `ArcFace (s = ${t.scale}, m = ${t.margin})`;
}

/** The report of one method's outcome. */
export function methodReport(
  name: MethodName,
  o: MethodOutcome,
  names: readonly string[],
  t: ToyTraining,
  coreCoverage: number,
): MethodReport {
  const present = o.spreads.filter((s) => s.count > 0);
  const weightDirectionsDeg: number[] = [];
  for (let k = 0; k < o.weights.length / 2; k++) {
    weightDirectionsDeg.push(round((Math.atan2(o.weights[2 * k + 1], o.weights[2 * k]) * 180) / Math.PI, 3));
  }
  return {
    label: methodLabel(name, t),
    head: o.head,
    heldOutAccuracy: round(o.heldOutAccuracy),
    spread: {
      meanDeg: round(present.reduce((a, s) => a + s.meanDeg, 0) / Math.max(1, present.length), 3),
      maxDeg: round(Math.max(...present.map((s) => s.maxDeg)), 3),
      perClass: o.spreads.map((s, k) => ({
        class: names[k],
        count: s.count,
        meanDeg: round(s.meanDeg, 3),
        maxDeg: round(s.maxDeg, 3),
      })),
    },
    gap: gapReport(o.layout, 1, names),
    coreGap: gapReport(o.coreLayout, coreCoverage, names),
    weightDirectionsDeg,
    curves: o.curves.map((c) => ({
      ...c,
      loss: round(c.loss, 5),
      trainAccuracy: round(c.trainAccuracy),
      heldOutAccuracy: round(c.heldOutAccuracy),
    })),
  };
}

/** JSON with non-finite numbers as null, two-space indented. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const deg = (v: number | null): string => (v === null ? 'n/a' : `${v.toFixed(1)}°`);

/** The figure's columns, softmax first. */
function columns(report: ToyReport, outcomes: Record<MethodName, MethodOutcome>): FigureColumn[] {
  return METHODS.map((m) => {
    const r = report.methods[m];
    const o = outcomes[m];
    return {
      title: r.label,
      notes: [
        `held-out accuracy ${pct(r.heldOutAccuracy)} | spread mean ${deg(r.spread.meanDeg)}, max ${deg(r.spread.maxDeg)}`,
        `smallest gap ${deg(r.gap.smallestDeg)} (all features), ${deg(r.coreGap.smallestDeg)} (${Math.round(100 * r.coreGap.coverage)}% core)`,
      ],
      features: o.features,
      labels: o.labels,
      weights: o.weights,
      layout: o.coreLayout,
    };
  });
}

function html(report: ToyReport): string {
  const esc = escapeXml;
  const rows = METHODS.map((m) => {
    const r = report.methods[m];
    return (
      `<tr><td>${esc(r.label)}</td><td>${pct(r.heldOutAccuracy)}</td><td>${deg(r.spread.meanDeg)}</td>` +
      `<td>${deg(r.spread.maxDeg)}</td><td>${deg(r.gap.smallestDeg)}</td><td>${deg(r.coreGap.smallestDeg)}</td>` +
      `<td>${r.coreGap.between ? esc(r.coreGap.between.join(' / ')) : ''}</td></tr>`
    );
  }).join('\n');
  const defs = Object.entries(report.definitions)
    .map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`)
    .join('\n');
  const t = report.training;
  const cov = Math.round(100 * report.methods.arcface.coreGap.coverage);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ArcFace toy experiment</title>
<style>body{font-family:DejaVu Sans,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}</style></head>
<body>
<h1>Softmax vs ArcFace on 2-D features</h1>
<p>${esc(report.data.description)}: ${report.data.classes.length} classes, ${report.data.trainSize} training and
${report.data.heldOutSize} held-out samples. Backbone <code>${esc(t.backbone.name)}</code> to 2-D, ${t.epochs} epochs per method
(ArcFace: the first ${t.warmupEpochs} with softmax), batch ${t.batchSize}, SGD lr ${t.lr}, seed ${t.seed}.</p>
<table><tr><th>method</th><th>held-out accuracy</th><th>mean spread</th><th>max spread</th>
<th>smallest gap (all)</th><th>smallest gap (${cov}% core)</th><th>between</th></tr>
${rows}
</table>
<h2>Held-out features</h2>
<p>Top: features on the plane; bottom: normalised onto the unit circle, with each class's angular extent
(${cov}% core) as an arc and the smallest gap marked. Dashed rays: class weight directions.</p>
<img src="toy.png" alt="softmax and ArcFace held-out features">
<h2>Training</h2>
<img src="curves.png" alt="training curves">
<h2>Definitions</h2>
<ul>${defs}</ul>
${report.data.skipped.length ? `<p>${report.data.skipped.length} files skipped (see report.json).</p>` : ''}
</body></html>
`;
}

/** Write the report folder; returns the files written (relative to `dir`). */
export async function writeToyReport(
  dir: string,
  report: Omit<ToyReport, 'files'>,
  outcomes: Record<MethodName, MethodOutcome>,
): Promise<ToyReport> {
  const files = [
    'report.json',
    'features.json',
    'toy.svg',
    'toy.png',
    'curves.svg',
    'curves.png',
    'index.html',
  ];
  const full: ToyReport = { ...report, files };
  const figure = toyFigureSvg(
    columns(full, outcomes),
    full.data.classes,
    'Held-out 2-D features: softmax vs ArcFace',
  );
  const curves = curvesSvg(
    METHODS.map((m, i) => ({
      label: full.methods[m].label,
      color: i === 0 ? '#1f77b4' : '#d62728',
      points: full.methods[m].curves,
    })),
    full.training.warmupEpochs,
  );
  const features = Object.fromEntries(
    METHODS.map((m) => [
      m,
      { labels: Array.from(outcomes[m].labels), xy: Array.from(outcomes[m].features, (v) => round(v, 6)) },
    ]),
  );
  await writeFileAtomic(join(dir, 'report.json'), toJson(full));
  await writeFileAtomic(join(dir, 'features.json'), toJson(features));
  await writeFileAtomic(join(dir, 'toy.svg'), figure);
  await writeFileAtomic(join(dir, 'toy.png'), await svgToPng(figure));
  await writeFileAtomic(join(dir, 'curves.svg'), curves);
  await writeFileAtomic(join(dir, 'curves.png'), await svgToPng(curves));
  await writeFileAtomic(join(dir, 'index.html'), html(full));
  return full;
}

/** Pixel sizes of the two PNGs. */
export const FIGURE_SIZES = { toy: figureSize(METHODS.length), curves: CURVES_SIZE };
export { CLASS_COLORS };
