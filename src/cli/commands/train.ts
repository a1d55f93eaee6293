/**
 * `arcface train`: train a backbone with a margin head on an identity-per-folder image set or on
 * MNIST digits, writing checkpoints and a metrics log into --out; `arcface export`: turn a
 * checkpoint into a standalone .onnx embedding model.
 */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { finite, integer, numberIn, threadCount } from '../parse.js';
import { checkOutputPath } from '../../util/fs.js';
import { type Progress, progress } from '../../util/progress.js';
import { type Augmentation, type Dataset, FolderDataset, mnistSplit } from '../../data/index.js';
import { type HeadConfig, type PresetName, headPreset, presets } from '../../heads/index.js';
import { BACKBONES, type BackboneName, type BackboneSpec } from '../../nn/index.js';
import {
  CHECKPOINT_FILE,
  type ClassReport,
  type OptimizerConfig,
  type ScheduleConfig,
  type TrainConfig,
  exportCheckpoint,
  loadCheckpoint,
  lowDimWarnings,
  train,
  trainDefaults,
} from '../../train/index.js';

const int = integer;
const num = finite;

interface TrainFlags {
  data: string;
  backbone: BackboneName;
  embeddingDim?: number;
  head: PresetName;
  scale?: number;
  margin?: number;
  epochs: number;
  batch: number;
  lr?: number;
  optimizer: 'sgd' | 'adamw';
  momentum: number;
  weightDecay?: number;
  schedule: ScheduleConfig['kind'];
  warmupEpochs: number;
  seed: number;
  out: string;
  resume: boolean;
  overwrite: boolean;
  checkpointEvery: number;
  checkpointMinutes: number;
  sampleRate?: number;
  valFraction?: number;
  size?: number;
  augment: boolean;
  cropScale: number;
  jitter: number;
  workers: number;
  threads?: number;
  arena: boolean;
  quiet: boolean;
}

/** The head preset with --scale and --margin applied to the parameter each family's margin is. */
function headConfig(name: PresetName, scale?: number, margin?: number): HeadConfig {
  const base = headPreset(name);
  if (base.kind === 'softmax') {
    if (scale !== undefined || margin !== undefined)
      throw new Error('--scale/--margin do not apply to the softmax head');
    return base;
  }
  const over: Record<string, number> = {};
  if (scale !== undefined) over.s = scale;
  if (margin !== undefined) over[name === 'cosface' ? 'm3' : name === 'sphereface' ? 'm1' : 'm2'] = margin;
  return (presets[name] as (o: Record<string, number>) => HeadConfig)(over);
}

function backboneSpec(name: BackboneName, dim: number | undefined): BackboneSpec {
  const embeddingDim = dim ?? (name === 'small-cnn' || name === 'mlp' ? 2 : 512);
  return { name, embeddingDim } as BackboneSpec;
}

/** The training set and an optional held-out set for per-epoch accuracy. */
async function openData(
  f: TrainFlags,
  sampleSize: number | readonly [number, number],
  augmentation: Augmentation | undefined,
): Promise<{ train: Dataset; heldOut?: Dataset; close: () => Promise<void> }> {
  if (f.data === 'mnist') {
    const { train: tr, heldOut } = mnistSplit({ heldOutFraction: f.valFraction ?? 0.2, seed: f.seed });
    return { train: tr, heldOut, close: async () => undefined };
  }
  // Decode every file up front, so unreadable files and classes left empty are reported at the start.
  const ds = await FolderDataset.open(f.data, {
    size: sampleSize,
    workers: f.workers,
    validate: true,
    augmentation,
  });
  return { train: ds, close: () => ds.close() };
}

/** Flags given on the command line (not defaults), to tell when a resumed run's flags disagree. */
type Given = (flag: keyof TrainFlags) => boolean;

/** Print the training set's classes, skipped files and empty classes before the first step. */
function reportClasses(c: ClassReport): void {
  const sorted = [...c.counts].sort((x, y) => x - y);
  const total = sorted.reduce((x, y) => x + y, 0);
  console.error(
    `data: ${c.counts.length} classes, ${total} samples (per class: min ${sorted[0]}, ` +
      `median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted.at(-1)})`,
  );
  if (c.skipped.length) {
    console.error(`data: ${c.skipped.length} files skipped:`);
    for (const s of c.skipped.slice(0, 10)) console.error(`  ${s.path}: ${s.reason}`);
    if (c.skipped.length > 10) console.error(`  ... and ${c.skipped.length - 10} more`);
  }
  if (c.empty.length) {
    console.error(
      `warning: ${c.empty.length} classes have no usable sample (their centres never train): ` +
        c.empty.slice(0, 10).join(', ') +
        (c.empty.length > 10 ? ` and ${c.empty.length - 10} more` : ''),
    );
  }
}

/** Abort on the first SIGINT / SIGTERM (the trainer checkpoints and stops); exit at once on a second. */
function interruptOnSignals(): {
  signal: AbortSignal;
  received: () => NodeJS.Signals | undefined;
  dispose: () => void;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
  const handler = (sig: NodeJS.Signals): void => {
    if (received) {
      console.error(
        `\n${sig} again: exiting without waiting for the checkpoint (the previous one is intact)`,
      );
      process.exit(codes[sig]);
    }
    received = sig;
    console.error(`\n${sig}: stopping after this step and writing a checkpoint (again to exit at once)`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

async function runTrain(f: TrainFlags, given: Given): Promise<void> {
  // Before any data is read: a run that cannot write its folder should fail now, not after an epoch.
  await checkOutputPath(f.out, 'dir');
  const ckptPath = join(f.out, CHECKPOINT_FILE);
  let config: TrainConfig;
  let sampleSize: number | readonly [number, number];
  if (f.resume) {
    // The checkpoint's own config wins: resuming must replay the same run. Only --epochs may grow.
    const ck = await loadCheckpoint(ckptPath).catch((err: unknown) => {
      throw new Error(
        `--resume: cannot read ${ckptPath} (${err instanceof Error ? err.message : String(err)}); ` +
          'start a new run without --resume',
      );
    });
    // Without --epochs the run ends where it was meant to (not at the flag's default).
    const epochs = given('epochs') ? Math.max(f.epochs, ck.config.epochs) : ck.config.epochs;
    config = { ...ck.config, epochs };
    const shape = ck.meta.sampleShape;
    // [C, H, W] images: the folder is read at the checkpoint's height and width.
    sampleSize = shape.length === 3 ? [shape[1], shape[2]] : (f.size ?? 28);
    const ignored: string[] = [];
    // Checkpoints written before TrainConfig.augmentation existed have none: read as off (flips only),
    // which is what such a run resumed without --crop-scale/--jitter trained on then.
    const aug = config.augmentation ?? {};
    if (given('augment') && !config.augment)
      ignored.push("--augment (the checkpoint's run trains without augmentation)");
    if (given('cropScale') && f.cropScale !== (aug.cropScale ?? 1))
      ignored.push(`--crop-scale ${f.cropScale} (the checkpoint's is ${aug.cropScale ?? 1})`);
    const jitter = [aug.brightness ?? 0, aug.contrast ?? 0, aug.saturation ?? 0];
    if (given('jitter') && jitter.some((j) => j !== f.jitter))
      ignored.push(
        `--jitter ${f.jitter} (the checkpoint's brightness/contrast/saturation are ${jitter.join('/')})`,
      );
    if (given('backbone') && f.backbone !== config.backbone.name)
      ignored.push(`--backbone ${f.backbone} (the checkpoint's is ${config.backbone.name})`);
    if (given('size') && shape.length === 3 && !(f.size === shape[1] && f.size === shape[2]))
      ignored.push(`--size ${f.size} (the checkpoint's input is ${shape.join('x')})`);
    for (const flag of ['embeddingDim', 'head', 'scale', 'margin', 'lr', 'batch', 'sampleRate'] as const)
      if (given(flag)) ignored.push(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (ignored.length) {
      console.error(
        `warning: --resume continues with the checkpoint's settings; ignoring ${ignored.join(', ')}`,
      );
    }
  } else {
    const backbone = backboneSpec(f.backbone, f.embeddingDim);
    const defaults = trainDefaults(backbone.embeddingDim, f.optimizer, f.head);
    const optimizer: OptimizerConfig =
      f.optimizer === 'sgd'
        ? { kind: 'sgd', momentum: f.momentum, weightDecay: f.weightDecay ?? 5e-4 }
        : { kind: 'adamw', weightDecay: f.weightDecay ?? 0.05 };
    const head = headConfig(f.head, f.scale ?? defaults.scale, f.margin ?? defaults.margin);
    const lr = f.lr ?? defaults.lr;
    for (const w of lowDimWarnings(backbone.embeddingDim, head, lr, f.optimizer))
      console.error(`warning: ${w}`);
    if (!f.augment && (given('cropScale') || given('jitter')))
      console.error('warning: --crop-scale and --jitter apply only with --augment; training without them');
    config = {
      backbone,
      head,
      optimizer,
      // Warm-up is given in epochs on the command line; the schedule counts steps (set below).
      schedule: { kind: 'constant', lr },
      epochs: f.epochs,
      batchSize: f.batch,
      seed: f.seed,
      augment: f.augment,
      // Stored only with --augment: without it the dataset never applies crop or jitter.
      augmentation: f.augment
        ? { cropScale: f.cropScale, brightness: f.jitter, contrast: f.jitter, saturation: f.jitter }
        : undefined,
      sampleRate: f.sampleRate,
    };
    const square = f.backbone === 'mobilefacenet' || f.backbone.startsWith('iresnet') ? 112 : 28;
    sampleSize = f.size ?? square;
  }
  const data = await openData(f, sampleSize, config.augment ? config.augmentation : undefined);
  const signals = interruptOnSignals();
  let bar: Progress | undefined;
  try {
    if (!f.resume) {
      const steps = Math.floor(data.train.size / f.batch);
      const warmupSteps = Math.round(f.warmupEpochs * steps);
      const lr = config.schedule.lr;
      const schedule: ScheduleConfig =
        f.schedule === 'step'
          ? // InsightFace's classic milestones: at 50%, 75% and 90% of training.
            {
              kind: 'step',
              lr,
              warmupSteps,
              milestones: [0.5, 0.75, 0.9].map((p) => Math.round(p * steps * f.epochs)),
            }
          : { kind: f.schedule, lr, warmupSteps };
      config = { ...config, schedule };
    }
    const head = config.head;
    const headText =
      head.kind === 'margin'
        ? `${f.resume ? "the checkpoint's margin" : f.head} head (s = ${head.s}, m1/m2/m3 = ${head.m1}/${head.m2}/${head.m3})`
        : `${f.resume ? "the checkpoint's " : ''}softmax head`;
    console.error(
      `training ${config.backbone.name} (${config.backbone.embeddingDim}-d) with ${headText}, lr ${config.schedule.lr}` +
        `${config.sampleRate ? `, Partial FC rate ${config.sampleRate}` : ''} on ` +
        `${data.train.size} samples of ${data.train.numClasses} classes; writing ${f.out}`,
    );
    if (!f.arena && !/jemalloc|tcmalloc/.test(process.env.LD_PRELOAD ?? '')) {
      // Without the arena every step's tensors come from malloc; glibc's gives large ones back to the
      // system on free, so each step faults them in again (MobileFaceNet, batch 64: 16-26 s a step
      // against 3.5 s with the arena; docs/TRAINING-SPEED.md).
      console.error(
        'warning: --no-arena under glibc malloc makes steps several times slower; run with a caching ' +
          'allocator, e.g. LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ' +
          'MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 (Debian: libjemalloc2)',
      );
    }
    let speed = 0;
    const result = await train(data.train, config, {
      outDir: f.out,
      overwrite: f.overwrite,
      checkpointEvery: f.checkpointEvery,
      checkpointSeconds: f.checkpointMinutes * 60,
      resume: f.resume ? ckptPath : undefined,
      validation: data.heldOut,
      threads: f.threads,
      runtime: { enableCpuMemArena: f.arena },
      signal: signals.signal,
      onStart: (s) => {
        reportClasses(s.classes);
        if (s.staleLockPid !== undefined)
          console.error(
            `note: took over the lock of a run that is no longer running (pid ${s.staleLockPid})`,
          );
        if (s.removedTmp.length)
          console.error(
            `note: removed ${s.removedTmp.length} leftover temporary files: ${s.removedTmp.join(', ')}`,
          );
        if (config.sampleRate)
          console.error(
            `Partial FC: the head sees ${s.classesPerStep} of ${data.train.numClasses} classes per step`,
          );
        bar = progress('train', s.totalSteps, {
          quiet: f.quiet,
          fields: ['epoch', 'loss', 'acc', 'lr', 'speed'],
        });
        bar.update(s.startStep);
      },
      onStep: (r) => {
        speed = speed ? 0.9 * speed + 0.1 * r.imagesPerSec : r.imagesPerSec;
        bar?.update(r.step, {
          epoch: `${r.epoch + 1}/${config.epochs}`,
          loss: r.loss.toFixed(4),
          acc: r.accuracy.toFixed(3),
          lr: r.lr.toPrecision(3),
          speed: `${speed.toFixed(0)} img/s`,
        });
      },
      onEpoch: (r) => {
        if (!process.stderr.isTTY || f.quiet) {
          console.error(
            `epoch ${r.epoch + 1}: loss ${r.loss.toFixed(4)}, train acc ${r.accuracy.toFixed(4)}` +
              (r.valAccuracy === undefined ? '' : `, held-out acc ${r.valAccuracy.toFixed(4)}`),
          );
        }
      },
    });
    bar?.stop();
    bar = undefined;
    const last = result.epochs.at(-1);
    console.log(
      JSON.stringify({
        steps: result.steps,
        checkpoint: result.checkpoint,
        stopped: result.stopped,
        loss: last?.loss,
        accuracy: last?.accuracy,
        valAccuracy: last?.valAccuracy,
      }),
    );
    const sig = signals.received();
    if (result.stopped === 'interrupted' && sig) {
      console.error(
        `${sig}: stopped at step ${result.steps} with a checkpoint in ${result.checkpoint}; ` +
          `continue with: arcface train --data ${f.data} --out ${f.out} --resume`,
      );
      process.exitCode = sig === 'SIGINT' ? 130 : 143;
    }
  } finally {
    bar?.stop();
    signals.dispose();
    await data.close();
  }
}

/** `--batch` of export: 'dynamic' or a positive integer. */
function batchSize(v: string): number | 'dynamic' {
  return v === 'dynamic' ? v : int(1)(v);
}

/** Register `arcface train` and `arcface export` on the program. */
export function registerTrainCommands(program: Command): void {
  program
    .command('train')
    .description('train a backbone with an angular-margin head; checkpoints and metrics.jsonl go to --out')
    .requiredOption(
      '--data <dir|mnist>',
      "identity-per-folder images (DIR/<identity>/<image>), or 'mnist' for digits 0-7",
    )
    .addOption(new Option('--backbone <name>', 'backbone').choices(BACKBONES).default('mobilefacenet'))
    .option('--embedding-dim <n>', 'embedding size (default 512; 2 for small-cnn and mlp)', int(1))
    .addOption(new Option('--head <name>', 'margin head').choices(Object.keys(presets)).default('arcface'))
    .option('--scale <s>', 'logit scale s (default 64; 8 for embeddings of 3 or fewer dimensions)', num)
    .option(
      '--margin <m>',
      "margin: m2 for arcface/combined, m3 for cosface, m1 for sphereface (default: the preset's; 0.3 at 3 or fewer dimensions)",
      num,
    )
    .option(
      '--sample-rate <r>',
      'Partial FC: fraction of classes the head sees per step, in (0, 1] (default: all)',
      numberIn(0, 1, '(]'),
    )
    .option('--epochs <n>', 'epochs', int(1), 20)
    .option('--batch <n>', 'batch size', int(1), 64)
    .option(
      '--lr <x>',
      'peak learning rate (default 0.1 for sgd, 1e-3 for adamw; lower at 3 or fewer dimensions)',
      num,
    )
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adamw']).default('sgd'))
    .option('--momentum <x>', 'SGD momentum', num, 0.9)
    .option('--weight-decay <x>', 'weight decay (default 5e-4 for sgd, 0.05 for adamw)', num)
    .addOption(
      new Option('--schedule <kind>', 'learning-rate schedule')
        .choices(['cosine', 'poly', 'step', 'constant'])
        .default('cosine'),
    )
    .option('--warmup-epochs <x>', 'linear warm-up length in epochs', num, 0)
    .option('--seed <n>', 'seed of initialisation, shuffling and dropout', int(0), 0)
    .requiredOption('--out <dir>', 'output folder (last.ckpt, metrics.jsonl)')
    .option(
      '--resume',
      `continue from <out>/${CHECKPOINT_FILE} with its own settings (--epochs may extend it)`,
      false,
    )
    .option(
      '--overwrite',
      'start afresh in an --out folder that already holds a run (its checkpoint is replaced)',
      false,
    )
    .option(
      '--checkpoint-every <n>',
      'also write a checkpoint every n steps (0: off; one is always written at each epoch end)',
      int(0),
      0,
    )
    .option(
      '--checkpoint-minutes <x>',
      'also write a checkpoint when this many minutes have passed since the last (0: off)',
      numberIn(0, Infinity, '[)'),
      10,
    )
    .option('--val-fraction <x>', 'mnist: share of digits held out for per-epoch accuracy (default 0.2)', num)
    .option(
      '--size <px>',
      'folder data: image side in pixels (default 112; 28 for small-cnn and mlp)',
      int(1),
    )
    .option('--augment', 'random horizontal flips (and --crop-scale, --jitter when given)', false)
    .option(
      '--crop-scale <x>',
      'with --augment, folder data: random square crops of [x, 1] of the side, resized back (1: off)',
      numberIn(0, 1, '(]'),
      1,
    )
    .option(
      '--jitter <x>',
      'with --augment, folder data: brightness/contrast/saturation factors in [1-x, 1+x] (0: off)',
      numberIn(0, 1, '[)'),
      0,
    )
    .option('--workers <n>', 'folder data: decoding worker threads', int(0), 1)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', threadCount)
    .option(
      '--no-arena',
      "free ONNX Runtime's buffers after each use instead of keeping its memory arena: a lower peak " +
        '(MobileFaceNet, batch 64: 3.7 GB against 4.3 GB), at the same speed only under a caching malloc ' +
        '(LD_PRELOAD jemalloc or tcmalloc)',
    )
    .option('--quiet', 'no progress bar', false)
    .action(async (f: TrainFlags, cmd: Command) =>
      runTrain(f, (flag) => cmd.getOptionValueSource(flag) === 'cli'),
    );

  program
    .command('export')
    .description("export a checkpoint's backbone as a standalone ONNX embedding model (eval-mode BatchNorm)")
    .argument('<checkpoint>', 'a last.ckpt written by arcface train')
    .requiredOption('--out <file>', 'output .onnx file')
    .option('--no-fold', 'keep BatchNorm nodes instead of folding them into the preceding conv/linear')
    .option(
      '--batch <n>',
      "batch size of the exported graph: 'dynamic' (any) or a fixed number",
      batchSize,
      'dynamic',
    )
    .action(async (checkpoint: string, o: { out: string; fold: boolean; batch: number | 'dynamic' }) => {
      await checkOutputPath(o.out, 'file');
      const m = await exportCheckpoint(checkpoint, o.out, { foldBatchNorm: o.fold, batch: o.batch });
      console.log(
        JSON.stringify({
          out: o.out,
          input: m.input,
          output: m.output,
          nodes: m.nodeCount,
          foldedBatchNorms: m.folded.length,
        }),
      );
    });
}
