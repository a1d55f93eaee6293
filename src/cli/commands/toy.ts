/**
 * `arcface toy` (and `npm start`): the ArcFace paper's toy experiment. Trains the same 2-D embedding
 * network with softmax and with ArcFace on 8 classes and writes a report folder with the figure.
 */
import { relative } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { integer, numberIn, threadCount } from '../parse.js';
import { DEFAULT_DETECTOR, DEFAULT_RECOGNIZER } from '../../face/index.js';
import { type MethodReport } from '../../toy/report.js';
import {
  TOY_BACKBONES,
  TOY_DEFAULTS,
  type ToyBackbone,
  type ToyOptions,
  type ToyProgress,
  runToy,
} from '../../toy/run.js';
import { type Progress, progress } from '../../util/progress.js';

const int = integer;
const positive = numberIn(0, Infinity, '()');
const nonNegative = numberIn(0, Infinity, '[)');
const fraction = numberIn(0, 1, '()');
const share = numberIn(0, 1, '(]');
const backbone = (v: string): ToyBackbone => {
  if (!(TOY_BACKBONES as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`expected one of ${TOY_BACKBONES.join(', ')}`);
  }
  return v as ToyBackbone;
};

interface CliOptions extends Omit<ToyOptions, 'heldOutFraction' | 'onProgress'> {
  heldOut?: number;
  quiet: boolean;
}

/**
 * Draws the run's progress on stderr: a bar while images are decoded or faces embedded, a line
 * naming the data and each method, and a bar per method (epoch, loss, training and held-out
 * accuracy). `quiet` keeps stderr silent; bars draw only on a terminal.
 */
function progressDisplay(quiet: boolean): { onProgress: (p: ToyProgress) => void; stop: () => void } {
  let bar: Progress | undefined;
  let lastHeldOut = '';
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  const say = (text: string): void => {
    stop();
    if (!quiet) process.stderr.write(`${text}\n`);
  };
  const onProgress = (p: ToyProgress): void => {
    switch (p.kind) {
      case 'data':
        bar ??= progress(p.stage === 'decode' ? 'decode images' : 'embed faces', p.total, { quiet });
        bar.update(p.done);
        if (p.done >= p.total) stop();
        break;
      case 'loaded':
        say(`toy: ${p.description}; ${p.trainSize} training, ${p.heldOutSize} held-out samples`);
        break;
      case 'method':
        say(`toy: ${p.title}`);
        lastHeldOut = '';
        bar = progress(p.method === 'softmax' ? 'softmax' : 'ArcFace', p.totalSteps, {
          quiet,
          fields: ['epoch', 'loss', 'acc', 'heldOut'],
        });
        break;
      case 'step':
        bar?.update(p.step, {
          epoch: `${p.epoch}/${p.epochs}${p.phase !== p.method ? ' (softmax warm-up)' : ''}`,
          loss: p.loss.toFixed(3),
          acc: p.accuracy.toFixed(3),
          heldOut: lastHeldOut,
        });
        break;
      case 'epoch':
        lastHeldOut = pct(p.heldOutAccuracy);
        break;
    }
  };
  return { onProgress, stop };
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;
const deg = (v: number | null): string => (v === null ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}°`);
const line = (name: string, m: MethodReport): string =>
  `${name} acc ${pct(m.heldOutAccuracy)}, spread ${m.spread.meanDeg.toFixed(1)}°, ` +
  `gap ${deg(m.coreGap.smallestDeg)} (${Math.round(100 * m.coreGap.coverage)}% core; all: ${deg(m.gap.smallestDeg)})`;

/** Register `arcface toy` on the program. */
export function registerToyCommand(program: Command): void {
  const d = TOY_DEFAULTS;
  program
    .command('toy')
    .description(
      "the ArcFace paper's toy experiment: one 2-D embedding network trained with softmax and with ArcFace " +
        'on 8 classes (default: MNIST digits 0-7 from the mnist package); writes a figure, report.json and index.html',
    )
    .option('--data <dir>', 'identity-per-folder images (root/<name>/*.jpg|png|webp) instead of MNIST')
    .option(
      '--features [model]',
      'train a 2-D projection of frozen face embeddings of the --data images, from a recogniser spec ' +
        `(onnx:PATH, faceapi:resnet34, ...; default: the face pipeline's, ${DEFAULT_RECOGNIZER})`,
    )
    .option(
      '--detector <spec>',
      `face detector for --features (scrfd:PATH, yunet:PATH, blazeface:back, ...; default ${DEFAULT_DETECTOR})`,
    )
    .addOption(
      new Option(
        '--backbone <name>',
        `network to 2-D: ${TOY_BACKBONES.join(', ')} (default: lenet++ for MNIST, small-cnn with --data, mlp with --features)`,
      ).argParser(backbone),
    )
    .addOption(
      new Option(
        '--epochs <n>',
        `epochs per method (default ${d.epochs}; ${d.withFeatures.epochs} with --features)`,
      ).argParser(int(1)),
    )
    .addOption(
      new Option('--warmup-epochs <n>', "softmax epochs at the start of ArcFace's run (part of --epochs)")
        .argParser(int(0))
        .default(d.warmupEpochs),
    )
    .addOption(
      new Option('--seed <n>', 'seed of split, initialisation and order').argParser(int(0)).default(d.seed),
    )
    .addOption(
      new Option(
        '--scale <s>',
        `ArcFace scale s (default ${d.scale}; ${d.withFeatures.scale} with --features)`,
      ).argParser(positive),
    )
    .addOption(
      new Option('--margin <m>', 'ArcFace additive angular margin m, radians')
        .argParser(nonNegative)
        .default(d.margin),
    )
    .addOption(
      new Option('--lr <rate>', 'peak learning rate (one-epoch warm-up, then cosine decay)')
        .argParser(positive)
        .default(d.lr),
    )
    .addOption(
      new Option(
        '--arcface-lr <rate>',
        `peak learning rate of ArcFace's epochs after the warm-up (default ${d.lenetArcfaceLr} with lenet++, ` +
          `${d.arcfaceLr} with small-cnn and mlp, ${d.withFeatures.arcfaceLr} with --features)`,
      ).argParser(positive),
    )
    .addOption(new Option('--batch-size <n>', 'batch size').argParser(int(1)).default(d.batchSize))
    .addOption(
      new Option('--optimizer <name>', 'sgd (momentum 0.9) or adamw')
        .choices(['sgd', 'adamw'])
        .default(d.optimizer),
    )
    .addOption(
      new Option('--weight-decay <wd>', 'weight decay').argParser(nonNegative).default(d.weightDecay),
    )
    .option(
      '--augment',
      'MNIST: train on digits shifted by up to 2 pixels (default with lenet++ and small-cnn)',
    )
    .option('--no-augment', 'MNIST: no shifts')
    .option(
      '--warmup-bias',
      "give ArcFace's softmax warm-up a bias (default: none, so it orders classes by angle)",
    )
    .addOption(new Option('--per-class <n>', 'use at most n samples per class').argParser(int(2)))
    .addOption(
      new Option('--held-out <fraction>', 'share of each class held out')
        .argParser(fraction)
        .default(d.heldOutFraction),
    )
    .addOption(
      new Option('--image-size <px>', '--data images: square side').argParser(int(8)).default(d.imageSize),
    )
    .addOption(
      new Option(
        '--crop <share>',
        '--data images: centred square kept before resizing, share of the short side',
      )
        .argParser(share)
        .default(d.crop),
    )
    .option('--out <dir>', 'report folder (default ./reports/toy-<timestamp>)')
    .addOption(
      new Option('--threads <n>', 'ONNX Runtime threads (default: all cores)').argParser(threadCount),
    )
    .option('--quiet', 'no progress bars', false)
    .action(async (cli: CliOptions) => {
      const { heldOut, quiet, ...rest } = cli;
      const display = progressDisplay(quiet);
      const { dir, report } = await runToy({
        ...rest,
        heldOutFraction: heldOut,
        onProgress: display.onProgress,
      }).finally(display.stop);
      const where = relative(process.cwd(), dir) || '.';
      console.log(
        `toy: ${line('softmax', report.methods.softmax)} | ${line('ArcFace', report.methods.arcface)} | ` +
          `report: ${where}/index.html`,
      );
    });
}
