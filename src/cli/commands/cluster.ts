/**
 * `arcface cluster DIR --out DIR`: group the faces in a folder of unlabelled photos by person. Writes
 * clusters.json, faces/*.jpg thumbnails and index.html (a contact sheet) into --out.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { integer, numberIn } from '../parse.js';
import { createFacePipeline, parseDetectorSpec, parseRecognizerSpec } from '../../face/index.js';
import {
  CLUSTER_METHODS,
  type ClusterMethod,
  DEFAULT_CLUSTER_METHOD,
  DEFAULT_NEIGHBOURS,
} from '../../gallery/cluster.js';
import { clusterPhotos } from '../../gallery/cluster-photos.js';
import { writeContactSheet } from '../../gallery/contact-sheet.js';
import { progress } from '../../util/progress.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

interface ClusterFlags {
  out: string;
  method: ClusterMethod;
  threshold?: number;
  rankThreshold?: number;
  k: number;
  minSize: number;
  faces: 'all' | 'largest';
  detector?: string;
  recognizer?: string;
  flip?: boolean;
  threads?: number;
  quiet?: boolean;
}

/** Image files under `dir`, recursively, sorted so the output order is stable. */
async function listImages(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listImages(path)));
    else if (entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) found.push(path);
  }
  return found.sort();
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (v: string): T => {
    if ((allowed as readonly string[]).includes(v)) return v as T;
    throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}`);
  };
}

/** Register `arcface cluster` on the program. */
export function registerClusterCommand(program: Command): void {
  program
    .command('cluster')
    .description(
      'group the faces in a folder of photos by person: writes clusters.json, face thumbnails and index.html ' +
        '(a contact sheet) into --out. Exit 0 done, 1 some photos could not be read, 2 error',
    )
    .argument('<dir>', 'folder of photos, searched recursively')
    .requiredOption('--out <dir>', 'output folder')
    .addOption(
      new Option('--method <name>', 'clustering algorithm (docs/CLUSTERING.md compares them on LFW)')
        .choices(CLUSTER_METHODS)
        .default(DEFAULT_CLUSTER_METHOD),
    )
    .option(
      '--threshold <cos>',
      'cosine similarity that joins faces (default: measured on LFW for the default recogniser and each ' +
        'method; otherwise the recogniser\u2019s verification threshold, which is likely too low: pass one)',
      numberIn(-1, 1, '[]'),
    )
    .option(
      '--rank-threshold <d>',
      'rank-order distance that links faces (--method rank-order)',
      numberIn(0, Infinity, '()'),
    )
    .option('--k <n>', 'neighbours per face in the similarity graph', integer(1), DEFAULT_NEIGHBOURS)
    .option('--min-size <n>', 'smallest group; smaller ones are reported as unclustered', integer(1), 2)
    .option('--faces <which>', 'faces per photo: all or largest', oneOf(['all', 'largest'] as const), 'all')
    .option(
      '--detector <spec>',
      'face detector: blazeface:back|front, scrfd:PATH or yunet:PATH (default: blazeface:back)',
    )
    .option(
      '--recognizer <spec>',
      'recogniser: faceapi:resnet34, human:…, or onnx:PATH (default: faceapi:resnet34)',
    )
    .option('--flip', 'embed each face plus its mirror image (default: on where it helps the model)')
    .option('--no-flip', 'embed the face only')
    .option('--threads <n>', 'ONNX Runtime threads per model (default: all cores)', integer(1))
    .option('--quiet', 'no progress bar')
    .action(async (dir: string, flags: ClusterFlags) => {
      if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new Error(`${dir} is not a folder`);
      const images = await listImages(dir);
      if (images.length === 0) throw new Error(`no images (${[...IMAGE_EXTENSIONS].join(' ')}) under ${dir}`);
      const pipeline = await createFacePipeline({
        detector: flags.detector ? parseDetectorSpec(flags.detector) : undefined,
        recognizer: flags.recognizer ? parseRecognizerSpec(flags.recognizer) : undefined,
        threads: flags.threads,
        recognition: { flip: flags.flip },
      });
      try {
        const bar = progress('faces', images.length, { quiet: flags.quiet });
        const result = await clusterPhotos(pipeline, images, {
          method: flags.method,
          threshold: flags.threshold,
          rankThreshold: flags.rankThreshold,
          k: flags.k,
          minSize: flags.minSize,
          faces: flags.faces,
          onProgress: (d) => bar.update(d),
        });
        bar.stop();
        const report = await writeContactSheet(flags.out, result, flags.method, images.length);
        for (const f of report.failed) console.error(`skipped ${f.image}: ${f.error}`);
        if (report.thresholdSource === 'verification threshold' && report.threshold !== null) {
          console.error(
            `note: no clustering threshold is measured for ${report.recognizer}; used its verification ` +
              `threshold ${report.threshold}, which tends to join different people in large sets (try --threshold)`,
          );
        }
        console.error(
          `${images.length} photos, ${report.faces} faces: ${report.groups.length} groups, ` +
            `${report.unclustered.length} unclustered, ${report.noFace.length} photos without a face ` +
            `(${flags.method}${report.threshold === null ? '' : ` at ${report.threshold}`}); ` +
            `wrote ${join(flags.out, 'index.html')} and clusters.json`,
        );
        if (report.failed.length > 0) process.exitCode = 1;
      } finally {
        await pipeline.dispose();
      }
    });
}
