/**
 * Evaluation at scale: 1:N search of 10,000 probes against a 100,000-identity gallery of 512-d
 * embeddings (MatMul + TopK + mate rank in the engine, probes in chunks), and all-pairs verification
 * of a 5,000-embedding set. Synthetic embeddings; the numbers are times, not accuracies.
 *
 *   npm run bench:eval [-- --probes 10000 --gallery 100000 --dim 512 --pairs-set 5000 --budget 150 --device cpu]
 *
 * A calibration run on a tenth of the probes comes first; when the full search would take longer
 * than --budget seconds, the bench prints the extrapolation instead of running it.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { cmcCurve, dirAtFpir } from '../src/eval/identification.js';
import { auc, eer, rocCurve, tarAtFar } from '../src/eval/roc.js';
import { searchGallery } from '../src/eval/search.js';
import { allPairsScores, l2Normalize } from '../src/eval/similarity.js';

const { values } = parseArgs({
  options: {
    probes: { type: 'string', default: '10000' },
    gallery: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '512' },
    'pairs-set': { type: 'string', default: '5000' },
    budget: { type: 'string', default: '150' },
    threads: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
  },
});
const P = Number(values.probes);
const G = Number(values.gallery);
const D = Number(values.dim);
const N = Number(values['pairs-set']);
const budget = Number(values.budget);
const threads = values.threads ? Number(values.threads) : availableParallelism();
const device = values.device as 'cpu' | 'cuda' | 'auto';

/** Seeded standard normals (xorshift32 + Box-Muller), fast enough for 51M values. */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

const secs = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(2);
const gflops = (flop: number, t0: number): string =>
  (flop / ((performance.now() - t0) / 1000) / 1e9).toFixed(1);

/**
 * Probes: 90% are a gallery identity plus noise 1 to 6 times its length (cosine to the mate about
 * 0.7 down to 0.16, the top of the impostor range at this size), 10% are new identities (non-mated).
 */
function makeProbes(count: number, gallery: Float32Array): { probes: Float32Array; mate: Int32Array } {
  const noise = normals(count * D, 99 + count);
  const mate = new Int32Array(count);
  const probes = new Float32Array(count * D);
  for (let p = 0; p < count; p++) {
    const nonMated = p % 10 === 9;
    mate[p] = nonMated ? -1 : (p * 7919) % G;
    for (let k = 0; k < D; k++) {
      const base = nonMated ? 0 : gallery[mate[p] * D + k] * Math.sqrt(D);
      probes[p * D + k] = base + (nonMated ? 1 : 1 + 5 * ((p * 0.618034) % 1)) * noise[p * D + k];
    }
  }
  return { probes: l2Normalize(probes, D), mate };
}

async function search(count: number, gallery: Float32Array): Promise<number> {
  const { probes, mate } = makeProbes(count, gallery);
  const t0 = performance.now();
  const res = await searchGallery(probes, gallery, D, mate, { k: 5, threads, device });
  const seconds = (performance.now() - t0) / 1000;
  const matedIdx = [...mate.keys()].filter((i) => mate[i] >= 0);
  const ranks = Int32Array.from(matedIdx, (i) => res.rank[i]);
  const cmc = cmcCurve(ranks, Math.min(5, G));
  const nonTop = Float32Array.from(
    [...mate.keys()].filter((i) => mate[i] < 0),
    (i) => res.topScore[i * res.k],
  );
  const dir = nonTop.length
    ? dirAtFpir(
        ranks,
        Float32Array.from(matedIdx, (i) => res.matedScore[i]),
        nonTop,
        [1e-1, 1e-2],
      )
    : [{ dir: null }, { dir: null }];
  console.log(
    `  ${count} probes x ${G} gallery x ${D}-d: ${seconds.toFixed(2)} s ` +
      `(${gflops(2 * count * G * D, t0)} GFLOP/s matmul-equivalent, ${((seconds / count) * 1e3).toFixed(2)} ms/probe); ` +
      `rank-1 ${(cmc[0] * 100).toFixed(2)}%, rank-5 ${(cmc[cmc.length - 1] * 100).toFixed(2)}%, ` +
      `DIR@FPIR=1e-2 ${dir[1].dir === null ? 'n/a' : (dir[1].dir * 100).toFixed(2) + '%'}`,
  );
  return seconds;
}

async function main(): Promise<void> {
  const tAll = performance.now();
  console.log(
    `bench:eval  threads=${threads} device=${device}  (Node ${process.version}, ${availableParallelism()} cores)`,
  );
  let t0 = performance.now();
  const gallery = l2Normalize(normals(G * D, 12345), D);
  console.log(`gallery: ${G} x ${D} random unit vectors made in ${secs(t0)} s`);

  console.log('1:N search (MatMul + TopK(5) + mate rank in the engine, probes chunked):');
  const calib = Math.min(P, Math.max(20, Math.round(P / 10)));
  const tCal = await search(calib, gallery);
  const estimate = (tCal * P) / calib;
  if (P === calib) {
    // Nothing more to run.
  } else if (estimate <= budget) {
    await search(P, gallery);
  } else {
    console.log(
      `  ${P} probes: not run (estimated ${estimate.toFixed(0)} s > --budget ${budget} s); ` +
        `extrapolated linearly from ${calib} probes: ${estimate.toFixed(1)} s`,
    );
  }

  console.log(
    `all-pairs verification of ${N} embeddings (${((N * (N - 1)) / 2).toLocaleString('en')} pairs):`,
  );
  const ids = Int32Array.from({ length: N }, (_, i) => Math.floor(i / 5));
  const centres = normals((N / 5 + 1) * D, 7);
  const noise = normals(N * D, 8);
  const set = l2Normalize(
    Float32Array.from(
      { length: N * D },
      (_, j) => centres[ids[Math.floor(j / D)] * D + (j % D)] + 2.5 * noise[j],
    ),
    D,
  );
  t0 = performance.now();
  const all = await allPairsScores(set, D, ids, { threads, device });
  const tScore = secs(t0);
  t0 = performance.now();
  const roc = rocCurve(all.genuine, all.impostor);
  const e = eer(roc);
  const t = tarAtFar(roc, [1e-4, 1e-6]);
  console.log(
    `  scoring ${tScore} s, ROC/AUC/EER/TAR@FAR ${secs(t0)} s: AUC ${auc(roc).toFixed(5)}, EER ${(e.eer * 100).toFixed(3)}%, ` +
      `TAR@FAR=1e-4 ${t[0].tar === null ? 'n/a' : (t[0].tar * 100).toFixed(2) + '%'}, ` +
      `TAR@FAR=1e-6 ${t[1].tar === null ? `n/a (${t[1].note})` : (t[1].tar * 100).toFixed(2) + '%'}`,
  );
  console.log(`total ${secs(tAll)} s`);
}

await main();
