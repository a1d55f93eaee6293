/** The `arcface` command: one sub-command per file in ./commands. */
import { Command } from 'commander';
import { registerFaceCommands } from './commands/face.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerTrainCommands } from './commands/train.js';
import { registerToyCommand } from './commands/toy.js';
import { registerGalleryCommands } from './commands/gallery.js';
import { registerServeCommand } from './commands/serve.js';
import { registerClusterCommand } from './commands/cluster.js';
import { registerWebCommand } from './commands/web.js';
import { registerCalibrateCommand } from './commands/calibrate.js';
import { registerPrepareCommand } from './commands/prepare.js';

export function buildProgram(): Command {
  const program = new Command('arcface')
    .description('ArcFace in TypeScript: train, evaluate and recognise faces with angular-margin embeddings')
    .showHelpAfterError()
    // Usage errors exit 2 in every sub-command (inherited): exit 1 is an answer where a command has one
    // (verify: "different"; embed: "some images failed"), never a bad flag.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  // Each room registers its own sub-commands here.
  registerFaceCommands(program);
  registerEvalCommand(program);
  registerTrainCommands(program);
  registerToyCommand(program);
  registerGalleryCommands(program);
  registerServeCommand(program);
  registerClusterCommand(program);
  registerWebCommand(program);
  registerCalibrateCommand(program);
  registerPrepareCommand(program);
  return program;
}

const program = buildProgram();
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`arcface: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
