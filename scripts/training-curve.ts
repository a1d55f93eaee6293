/**
 * The curve of a training run as a Markdown table: loss, training accuracy and seconds per epoch from the
 * run's metrics.jsonl, plus the images/s over the run's steps (median and range).
 *
 *   npx tsx scripts/training-curve.ts runs/mbf/metrics.jsonl
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: tsx scripts/training-curve.ts RUN/metrics.jsonl');
interface Row {
  type: string;
  epoch?: number;
  loss?: number;
  accuracy?: number;
  seconds?: number;
  imagesPerSec?: number;
}
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l) as Row);
console.log('| epoch | loss | train accuracy | seconds |');
console.log('|---:|---:|---:|---:|');
let total = 0;
for (const r of rows.filter((x) => x.type === 'epoch')) {
  total += r.seconds ?? 0;
  console.log(
    `| ${(r.epoch ?? 0) + 1} | ${r.loss?.toFixed(2)} | ${((r.accuracy ?? 0) * 100).toFixed(1)}% | ${r.seconds?.toFixed(0)} |`,
  );
}
const ips = rows
  .filter((x) => x.type === 'step' && x.imagesPerSec !== undefined)
  .map((x) => x.imagesPerSec as number)
  .sort((a, b) => a - b);
if (ips.length)
  console.log(
    `\n${ips.length} steps: images/s median ${ips[Math.floor(ips.length / 2)].toFixed(2)} ` +
      `(min ${ips[0].toFixed(2)}, max ${ips[ips.length - 1].toFixed(2)}); epochs took ${(total / 60).toFixed(1)} min in all`,
  );
