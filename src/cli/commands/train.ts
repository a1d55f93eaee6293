/**
 * `arcface train`: train a backbone with a margin head on an identity-per-folder image set or on
 * MNIST digits, writing checkpoints and a metrics log into --out; `arcface export`: turn a
 * checkpoint into a standalone .onnx embedding model.
 */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { finite, integer } from '../parse.js';
import { type Dataset, FolderDataset, mnistSplit } from '../../data/index.js';
import { type HeadConfig, type PresetName, headPreset, presets } from '../../heads/index.js';
import { BACKBONES, type BackboneName, type BackboneSpec } from '../../nn/index.js';
import {
  CHECKPOINT_FILE,
  type OptimizerConfig,
  type ScheduleConfig,
  type TrainConfig,
  exportCheckpoint,
  loadCheckpoint,
  train,
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
  checkpointEvery: number;
  valFraction?: number;
  size?: number;
  augment: boolean;
  workers: number;
  threads?: number;
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
  sampleSize: number,
): Promise<{ train: Dataset; heldOut?: Dataset; close: () => Promise<void> }> {
  if (f.data === 'mnist') {
    const { train: tr, heldOut } = mnistSplit({ heldOutFraction: f.valFraction ?? 0.2, seed: f.seed });
    return { train: tr, heldOut, close: async () => undefined };
  }
  const ds = await FolderDataset.open(f.data, { size: sampleSize, workers: f.workers });
  return { train: ds, close: () => ds.close() };
}

async function runTrain(f: TrainFlags): Promise<void> {
  const ckptPath = join(f.out, CHECKPOINT_FILE);
  let config: TrainConfig;
  if (f.resume) {
    // The checkpoint's own config wins: resuming must replay the same run. Only --epochs may grow.
    const ck = await loadCheckpoint(ckptPath);
    config = { ...ck.config, epochs: Math.max(f.epochs, ck.config.epochs) };
  } else {
    const optimizer: OptimizerConfig =
      f.optimizer === 'sgd'
        ? { kind: 'sgd', momentum: f.momentum, weightDecay: f.weightDecay ?? 5e-4 }
        : { kind: 'adamw', weightDecay: f.weightDecay ?? 0.05 };
    const lr = f.lr ?? (f.optimizer === 'sgd' ? 0.1 : 1e-3);
    config = {
      backbone: backboneSpec(f.backbone, f.embeddingDim),
      head: headConfig(f.head, f.scale, f.margin),
      optimizer,
      // Warm-up is given in epochs on the command line; the schedule counts steps (set below).
      schedule: { kind: 'constant', lr },
      epochs: f.epochs,
      batchSize: f.batch,
      seed: f.seed,
      augment: f.augment,
    };
  }
  const square = f.backbone === 'mobilefacenet' || f.backbone.startsWith('iresnet') ? 112 : 28;
  const data = await openData(f, f.size ?? square);
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
    console.error(
      `training ${config.backbone.name} (${config.backbone.embeddingDim}-d) with ${f.resume ? "the checkpoint's" : f.head} head on ` +
        `${data.train.size} samples of ${data.train.numClasses} classes; writing ${f.out}`,
    );
    const result = await train(data.train, config, {
      outDir: f.out,
      checkpointEvery: f.checkpointEvery,
      resume: f.resume ? ckptPath : undefined,
      validation: data.heldOut,
      threads: f.threads,
      quiet: f.quiet,
      onEpoch: (r) => {
        if (!process.stderr.isTTY || f.quiet) {
          console.error(
            `epoch ${r.epoch + 1}: loss ${r.loss.toFixed(4)}, train acc ${r.accuracy.toFixed(4)}` +
              (r.valAccuracy === undefined ? '' : `, held-out acc ${r.valAccuracy.toFixed(4)}`),
          );
        }
      },
    });
    const last = result.epochs.at(-1);
    console.log(
      JSON.stringify({
        steps: result.steps,
        checkpoint: result.checkpoint,
        loss: last?.loss,
        accuracy: last?.accuracy,
        valAccuracy: last?.valAccuracy,
      }),
    );
  } finally {
    await data.close();
  }
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
    .option('--scale <s>', 'logit scale s (default 64)', num)
    .option('--margin <m>', 'margin: m2 for arcface/combined, m3 for cosface, m1 for sphereface', num)
    .option('--epochs <n>', 'epochs', int(1), 20)
    .option('--batch <n>', 'batch size', int(1), 64)
    .option('--lr <x>', 'peak learning rate (default 0.1 for sgd, 1e-3 for adamw)', num)
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
    .option('--checkpoint-every <n>', 'also write a checkpoint every n steps (0: only at the end)', int(0), 0)
    .option('--val-fraction <x>', 'mnist: share of digits held out for per-epoch accuracy (default 0.2)', num)
    .option(
      '--size <px>',
      'folder data: image side in pixels (default 112; 28 for small-cnn and mlp)',
      int(1),
    )
    .option('--augment', 'random horizontal flips', false)
    .option('--workers <n>', 'folder data: decoding worker threads', int(0), 1)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', int(1))
    .option('--quiet', 'no progress bar', false)
    .action(async (f: TrainFlags) => runTrain(f));

  program
    .command('export')
    .description("export a checkpoint's backbone as a standalone ONNX embedding model (eval-mode BatchNorm)")
    .argument('<checkpoint>', 'a last.ckpt written by arcface train')
    .requiredOption('--out <file>', 'output .onnx file')
    .option('--no-fold', 'keep BatchNorm nodes instead of folding them into the preceding conv/linear')
    .option('--batch <n>', 'static batch size of the exported graph', int(1), 1)
    .action(async (checkpoint: string, o: { out: string; fold: boolean; batch: number }) => {
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
