/**
 * `arcface prepare`: detect and align the largest face of every image in an identity-per-folder set once,
 * writing 112 x 112 (or --size) crops in the same layout, so `arcface train --data OUT` trains on aligned
 * faces without detecting them every epoch. Resumable; images with no face are reported by name.
 */
import { type Command, Option } from 'commander';
import { integer, threadCount } from '../parse.js';
import { progress } from '../../util/progress.js';
import { type AlignResult, prepareFolder } from '../../data/prepare-folder.js';
import {
  DEFAULT_DETECTOR,
  alignFace,
  createFacePipeline,
  decodeImage,
  parseDetectorSpec,
} from '../../face/index.js';
import { extendRgb } from '../../face/image-ops.js';

/**
 * Margin of the retry on an image with no face, on each side, as a share of its long side: the canvas is
 * twice the image, as in the face pipeline's retry. At 0.25 BlazeFace finds tight LFW face-box crops too, but
 * the aligned crop then reaches past the margin into black on one side.
 */
const RETRY_MARGIN = 0.5;

interface PrepareFlags {
  data: string;
  out: string;
  detector: string;
  size: number;
  threads?: number;
  quiet: boolean;
}

/** Register `arcface prepare` on the program. */
export function registerPrepareCommand(program: Command): void {
  program
    .command('prepare')
    .description(
      'detect and align every image of an identity-per-folder set once (largest face), writing crops in ' +
        'the same <class>/<image> layout for `arcface train --data OUT`; re-runs skip what is done',
    )
    .requiredOption('--data <dir>', 'source folder: one sub-folder of images per identity')
    .requiredOption('--out <dir>', 'output folder for the aligned crops and prepare-manifest.json')
    .option(
      '--detector <spec>',
      'face detector: blazeface:back (default), blazeface:front, scrfd:PATH or yunet:PATH',
      DEFAULT_DETECTOR,
    )
    .addOption(
      new Option('--size <px>', 'crop side in pixels (ArcFace template scaled)')
        .argParser(integer(16))
        .default(112),
    )
    .addOption(
      new Option('--threads <n>', 'ONNX Runtime threads (default: all cores)').argParser(threadCount),
    )
    .option('--quiet', 'no progress bar', false)
    .action(async (f: PrepareFlags) => {
      await runPrepare(f);
    });
}

async function runPrepare(f: PrepareFlags): Promise<void> {
  const detector = parseDetectorSpec(f.detector);
  const pipeline = await createFacePipeline({ detector, recognizer: false, threads: f.threads });
  const align = async (bytes: Uint8Array, path: string): Promise<AlignResult> => {
    const image = await decodeImage(bytes).catch((err: unknown) => {
      throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    });
    let source = image;
    let { faces } = await pipeline.detect(image);
    const padded = faces.length === 0;
    if (padded) {
      // A tight crop (the face fills the frame or touches its edge) gives the detector's anchors no context;
      // once more on a copy grown on every side with its edge pixels replicated (the face pipeline's own
      // padding for the same case, see findFaces in src/face/pipeline.ts).
      source = await extendRgb(image, Math.round(RETRY_MARGIN * Math.max(image.width, image.height)));
      ({ faces } = await pipeline.detect(source));
      if (faces.length === 0) return { kind: 'no-face' };
    }
    // One face per image: the largest box (the subject of a portrait-style identity folder).
    const area = (b: (typeof faces)[number]['box']): number => (b.x2 - b.x1) * (b.y2 - b.y1);
    const face = faces.reduce((a, b) => (area(b.box) > area(a.box) ? b : a));
    return {
      kind: 'face',
      // Aligned from the copy the face was found on, with its landmarks in that copy's pixels (the
      // original's plus the margin): where the face runs past the original's edge, the warp samples the
      // replicated margin rather than black, as the pipeline's embed does for the same image.
      crop: alignFace(source, face.landmarks, f.size),
      faces: faces.length,
      score: face.score,
      padded,
    };
  };
  const controller = new AbortController();
  const onSignal = (): void => {
    console.error('\nstopping: writing the manifest (run again to resume)');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  let bar: ReturnType<typeof progress> | undefined;
  try {
    const result = await prepareFolder({
      data: f.data,
      out: f.out,
      align,
      alignerName: `${detector} largest face, ArcFace template`,
      size: f.size,
      signal: controller.signal,
      onProgress: (p) => {
        bar ??= progress('prepare', p.total, {
          quiet: f.quiet,
          fields: ['new', 'skipped', 'noface', 'failed'],
        });
        bar.update(p.done, { new: p.written, skipped: p.skipped, noface: p.noFace, failed: p.failed });
      },
    });
    bar?.stop();
    console.error(
      `prepare: ${result.total} images: ${result.written} aligned now, ${result.skipped} already done, ` +
        `${result.noFace} with no face, ${result.failed} failed; crops in ${f.out}`,
    );
    const list = (title: string, items: readonly { source: string; reason: string }[]): void => {
      if (items.length === 0) return;
      console.error(`${title} (${items.length}):`);
      for (const p of items.slice(0, 20)) console.error(`  ${p.source}: ${p.reason}`);
      if (items.length > 20)
        console.error(`  ... and ${items.length - 20} more (see ${result.manifestPath})`);
    };
    if (result.paddedFiles.length) {
      const shown = result.paddedFiles.slice(0, 20).join(', ');
      const more = result.paddedFiles.length > 20 ? ` and ${result.paddedFiles.length - 20} more` : '';
      console.error(
        `prepare: ${result.paddedFiles.length} faces found only on a padded copy (tight crops): ${shown}${more}`,
      );
    }
    list('no face detected', result.noFaceFiles);
    list('could not be read', result.failedFiles);
    if (result.emptyClasses.length)
      console.error(
        `warning: ${result.emptyClasses.length} classes have no crop: ${result.emptyClasses.slice(0, 10).join(', ')}`,
      );
    if (result.aborted) {
      console.error('prepare: stopped early; run the same command again to finish');
      process.exitCode = 130;
    }
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    await pipeline.dispose();
  }
}
