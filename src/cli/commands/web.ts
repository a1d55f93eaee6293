/**
 * `arcface web --out DIR`: write the browser page (face verification and the toy experiment in ONNX Runtime
 * Web) as static files, with the face models it runs under models/.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { writeWebPage } from '../../web/write-page.js';

export function registerWebCommand(program: Command): void {
  program
    .command('web')
    .description(
      'write the web page (face verification, and softmax vs ArcFace on MNIST 0-7 trained in the browser) ' +
        'as static files with its face models; ' +
        'serve DIR with COOP/COEP headers for WASM threads',
    )
    .requiredOption('--out <dir>', 'folder to write index.html, page.js, ort/, models/ and the digits into')
    .action(async (opts: { out: string }) => {
      const files = await writeWebPage(opts.out);
      console.log(`wrote ${files.join(', ')} to ${relative(process.cwd(), opts.out) || '.'}`);
    });
}
