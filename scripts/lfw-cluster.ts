/**
 * Identification and clustering accuracy on the whole of LFW (13,233 images, 5,749 people), from an embeddings
 * file made by the default pipeline. A measurement run by hand, not a test; docs/CLUSTERING.md holds its tables:
 *
 *   node bin/arcface.mjs embed ../shared/data/lfw/lfw-deepfunneled --out /tmp/lfw-all.jsonl
 *   npx tsx scripts/lfw-cluster.ts --embeddings /tmp/lfw-all.jsonl [--center] [--report FILE]
 *
 * Identification: people with 2+ images enrol their first image (file order), the rest are mated probes; the
 * one-image people are open-set impostor probes (src/eval/identification.ts). Clustering: every method of
 * src/gallery/cluster.ts swept over its threshold on one k-NN graph, scored by src/gallery/cluster-metrics.ts,
 * then scikit-learn's DBSCAN and agglomerative clustering on the same embeddings through
 * scripts/lfw_cluster_sklearn.py (skipped with a message where scikit-learn is missing).
 * Options: --k N (neighbours, default 64), --center (subtract the mean embedding first), --no-sklearn,
 * --report FILE (JSON of every row).
 */
import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { readEmbeddings } from '../src/eval/embeddings-io.js';
import { identifyLabelled } from '../src/eval/identification.js';
import { l2Normalize } from '../src/eval/similarity.js';
import { type ClusterMethod, type ClusterOptions, centerRows, clusterGraph } from '../src/gallery/cluster.js';
import { type ClusterScores, scoreClustering } from '../src/gallery/cluster-metrics.js';
import { neighbourGraph, truncateGraph } from '../src/gallery/neighbours.js';
import { knownImportedRecognizer } from '../src/face/index.js';
import { writeFileAtomic } from '../src/util/fs.js';

const { values: args } = parseArgs({
  options: {
    embeddings: { type: 'string', default: '/tmp/lfw-all.jsonl' },
    k: { type: 'string', default: '64' },
    center: { type: 'boolean', default: false },
    'no-sklearn': { type: 'boolean', default: false },
    'no-identification': { type: 'boolean', default: false },
    report: { type: 'string' },
  },
});

const set = await readEmbeddings(args.embeddings);
const dim = set.dim;
const labels = set.meta.map((m, i) => {
  if (m.label === undefined) throw new Error(`${args.embeddings}: row ${i} has no label (identity)`);
  return m.label;
});
const raw = l2Normalize(set.vectors, dim);
const normed = args.center ? centerRows(raw, dim) : raw;
const people = new Set(labels).size;
const calibrated = knownImportedRecognizer('faceapi:resnet34').calibration!.threshold;
console.log(`${labels.length} embeddings (${dim}-d) of ${people} people${args.center ? ', centred' : ''}`);

const report: Record<string, unknown> = { embeddings: args.embeddings, n: labels.length, people, dim };
const pct = (v: number | null | undefined): string =>
  v === null || v === undefined ? 'n/a' : (100 * v).toFixed(2);

if (!args['no-identification']) {
  const t0 = performance.now();
  const id = await identifyLabelled(raw, dim, labels, { fpirs: [0.1, 0.01], k: 5 });
  const ms = performance.now() - t0;
  report.identification = { ...id, cmc: id.cmc.slice(0, 10), ms };
  console.log('\n## Identification (raw embeddings, exact search in the engine)');
  console.log(
    `gallery ${id.galleryIdentities} people, ${id.matedProbes} mated probes, ${id.nonMatedProbes} non-mated probes, ${ms.toFixed(0)} ms`,
  );
  console.log('| rank-1 | rank-5 | DIR @ FPIR 10% (threshold) | DIR @ FPIR 1% (threshold) |');
  console.log('| --- | --- | --- | --- |');
  const d = (f: number): string => {
    const x = id.dirAtFpir?.find((r) => Math.abs(r.fpir - f) < 1e-12);
    return x?.dir === null || x === undefined ? 'n/a' : `${pct(x.dir)}% (${x.threshold!.toFixed(4)})`;
  };
  console.log(`| ${pct(id.rank1)}% | ${pct(id.rank5)}% | ${d(0.1)} | ${d(0.01)} |`);
}

// One graph for every method; rank-order reads a shorter prefix of it.
const k = Number(args.k);
let t0 = performance.now();
const graph = await neighbourGraph(normed, dim, k);
const graphMs = performance.now() - t0;
console.log(`\nk-NN graph, k = ${graph.k}: ${graphMs.toFixed(0)} ms (engine MatMul + TopK by blocks)`);

interface Row extends Omit<ClusterScores, 'items' | 'classes'> {
  readonly method: string;
  readonly param: string;
  readonly ms: number;
}
const rows: Row[] = [];
const run = (name: string, param: string, opts: ClusterOptions, kUsed = graph.k): void => {
  const g = truncateGraph(graph, kUsed);
  const t = performance.now();
  const c = clusterGraph(g, normed, dim, { ...opts, minSize: 2 });
  const ms = performance.now() - t;
  const { items: _items, classes: _classes, ...s } = scoreClustering(c.labels, labels);
  rows.push({ method: name, param, ms, ...s });
};

const sims = args.center
  ? [0.65, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8]
  : [0.93, 0.94, 0.95, 0.955, 0.96, 0.965, 0.97];
const avgSims = args.center
  ? [0.5, 0.55, 0.6, 0.62, 0.64, 0.66, 0.7]
  : [0.9, calibrated, 0.92, 0.925, 0.93, 0.935, 0.94, 0.95];
const methods: [ClusterMethod, readonly number[]][] = [
  ['components', sims],
  ['whispers', sims],
  ['average', avgSims],
  ['dbscan', sims],
];
for (const [method, ts] of methods) {
  for (const t of ts) {
    run(method === 'dbscan' ? 'dbscan (minPts 3)' : method, `${t}`, { method, threshold: t, minPoints: 3 });
  }
}
for (const kr of [10, 20, 40]) {
  if (kr > graph.k) continue;
  for (const r of [0.3, 1, 1.4, 2]) {
    run('rank-order', `k ${kr}, D < ${r}`, { method: 'rank-order', rankThreshold: r }, kr);
  }
}
// Rank-order links restricted to pairs that are also similar (not in Otto et al.; measured as a variant).
const minSim = args.center ? 0.74 : 0.955;
for (const kr of [10, 20]) {
  for (const r of [1.4, 2]) {
    run(
      'rank-order + similarity',
      `k ${kr}, D < ${r}, cos >= ${minSim}`,
      {
        method: 'rank-order',
        rankThreshold: r,
        threshold: minSim,
      },
      kr,
    );
  }
}
// How many neighbours Chinese whispers needs: the same threshold on shorter lists.
const cw = args.center ? 0.76 : 0.955;
for (const kr of [8, 16, 32]) run('whispers', `${cw}, k ${kr}`, { method: 'whispers', threshold: cw }, kr);

let sklearn: {
  rows?: Record<string, number | string>[];
  skipped?: string;
  sklearn?: string;
  cutMatchesRefit?: boolean;
} = {};
if (!args['no-sklearn']) {
  t0 = performance.now();
  const py = ['scripts/lfw_cluster_sklearn.py', args.embeddings, ...(args.center ? ['--center'] : [])];
  const out = await new Promise<string>((resolve, reject) =>
    execFile('/usr/bin/python3', py, { maxBuffer: 1 << 26 }, (err, stdout, stderr) =>
      err ? reject(new Error(`scikit-learn script failed: ${stderr || err.message}`)) : resolve(stdout),
    ),
  ).catch((err: unknown) => JSON.stringify({ skipped: err instanceof Error ? err.message : String(err) }));
  sklearn = JSON.parse(out) as typeof sklearn;
  console.log(
    `\nscikit-learn: ${sklearn.skipped ?? `${sklearn.sklearn}, ${((performance.now() - t0) / 1000).toFixed(0)} s in all`}`,
  );
  if (sklearn.cutMatchesRefit === false)
    console.log('WARNING: the agglomerative tree cut differs from the fit');
}

console.log(`\n## Clustering (${labels.length} faces, ${people} people)`);
console.log(
  '| method | threshold | pairwise P | pairwise R | pairwise F | BCubed P | BCubed R | BCubed F | clusters (groups + unclustered) | s |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const f3 = (v: number): string => v.toFixed(3);
for (const r of rows) {
  console.log(
    `| ${r.method} | ${r.param} | ${f3(r.pairwisePrecision)} | ${f3(r.pairwiseRecall)} | ${f3(r.pairwiseF)} | ` +
      `${f3(r.bcubedPrecision)} | ${f3(r.bcubedRecall)} | ${f3(r.bcubedF)} | ${r.clusters} (${r.groups} + ${r.unclustered}) | ${(r.ms / 1000).toFixed(2)} |`,
  );
}
for (const r of sklearn.rows ?? []) {
  const n = (key: string): number => Number(r[key]);
  console.log(
    `| ${r.method} | ${r.threshold} | ${f3(n('pairwisePrecision'))} | ${f3(n('pairwiseRecall'))} | ${f3(n('pairwiseF'))} | ` +
      `${f3(n('bcubedPrecision'))} | ${f3(n('bcubedRecall'))} | ${f3(n('bcubedF'))} | ${r.clusters} (${r.groups} + ${n('clusters') - n('groups')}) | ${n('seconds').toFixed(2)} |`,
  );
}
const best = (list: { pairwiseF: number }[]): number => Math.max(...list.map((r) => r.pairwiseF));
console.log(
  `\nbest pairwise F: ours ${f3(best(rows))}; scikit-learn ${sklearn.rows ? f3(best(sklearn.rows.map((r) => ({ pairwiseF: Number(r.pairwiseF) })))) : 'n/a'}`,
);

if (args.report) {
  report.graph = { k: graph.k, ms: graphMs };
  report.clustering = rows;
  report.sklearn = sklearn;
  await writeFileAtomic(args.report, JSON.stringify(report, null, 1));
  console.error(`wrote ${args.report}`);
}
