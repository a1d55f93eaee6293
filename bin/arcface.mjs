#!/usr/bin/env node
// The published `arcface` command: the compiled JavaScript in dist/, run by plain node (no tsx).
// In a clone, `npm install` builds dist/ (the prepare script); bin/arcface-dev.mjs runs the sources.
import { existsSync } from 'node:fs';
import console from 'node:console';
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(
    'arcface: dist/cli/main.js is missing: run `npm run build` (or, in a clone, `node bin/arcface-dev.mjs` to run the sources)',
  );
  process.exit(2);
}
await import(main.href);
