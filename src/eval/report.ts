/**
 * The evaluation report: report.json with every number, and the plots as SVG and PNG, written
 * atomically into one folder.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import type { IdentificationSummary } from './identification.js';
import { cmcSvg, rocSvg, scoreHistogramSvg, svgToPng } from './plots.js';
import type { VerificationOutcome, VerificationSummary } from './verification.js';

/** The whole report.json. */
export interface EvalReport {
  readonly tool: 'arcface eval';
  /** ISO 8601 time the report was made. */
  readonly createdAt: string;
  /** Where the embeddings and pairs came from, as given on the command line. */
  readonly inputs: Readonly<Record<string, string | number | boolean | null>>;
  /** How embeddings were compared. */
  readonly scoring: string;
  readonly embeddings: { readonly count: number; readonly dim: number };
  readonly verification: VerificationSummary | null;
  readonly identification: IdentificationSummary | null;
  /** Plot files written next to report.json. */
  readonly plots: readonly string[];
  /** Caveats worth reading before quoting a number. */
  readonly notes: readonly string[];
}

/** JSON with non-finite numbers as null (JSON has no Infinity), two-space indented. */
export function reportJson(report: EvalReport): string {
  return (
    JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) +
    '\n'
  );
}

/** One plot, by base name (no extension). */
export interface Plot {
  readonly name: string;
  readonly svg: string;
}

/** The plots a run supports: ROC and score histograms with verification, CMC with identification. */
export function makePlots(
  verification: VerificationOutcome | null,
  identification: IdentificationSummary | null,
  label: string,
): Plot[] {
  const plots: Plot[] = [];
  if (verification) {
    const s = verification.summary;
    plots.push({
      name: 'roc',
      svg: rocSvg([{ label, roc: verification.roc }], `ROC (${s.protocol}, AUC ${s.auc.toFixed(4)})`),
    });
    const lines = [{ label: `EER threshold ${s.eer.threshold.toFixed(3)}`, x: s.eer.threshold }];
    if (s.kfold?.thresholdMean != null) {
      lines.push({ label: `k-fold threshold ${s.kfold.thresholdMean.toFixed(3)}`, x: s.kfold.thresholdMean });
    }
    plots.push({
      name: 'scores',
      svg: scoreHistogramSvg(verification.genuine, verification.impostor, {
        thresholds: lines,
        title: `Scores (${label})`,
      }),
    });
  }
  if (identification) {
    plots.push({
      name: 'cmc',
      svg: cmcSvg(
        [{ label, cmc: identification.cmc }],
        `CMC (${identification.galleryIdentities} identities)`,
      ),
    });
  }
  return plots;
}

/**
 * Write report.json and each plot as NAME.svg and NAME.png into `dir` (created if missing).
 * @returns the paths written
 */
export async function writeReport(
  dir: string,
  report: EvalReport,
  plots: readonly Plot[],
): Promise<string[]> {
  const written: string[] = [];
  for (const p of plots) {
    const svgPath = join(dir, `${p.name}.svg`);
    const pngPath = join(dir, `${p.name}.png`);
    await writeFileAtomic(svgPath, p.svg);
    await writeFileAtomic(pngPath, await svgToPng(p.svg));
    written.push(svgPath, pngPath);
  }
  const json = join(dir, 'report.json');
  await writeFileAtomic(json, reportJson(report));
  written.push(json);
  return written;
}
