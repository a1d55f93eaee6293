#!/usr/bin/env node
// The `arcface` command from the TypeScript sources through tsx: inside the repository there is no
// build step between an edit and a run (npm start, npm run dev, the CLI tests). Needs devDependencies.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
