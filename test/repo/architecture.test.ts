/**
 * docs/ARCHITECTURE.md's dependency arrows, checked against the imports in src/: each room imports only the
 * rooms listed for it, and nothing below src/cli draws progress bars or writes to stdout/stderr.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

/** Rooms each room may import (besides itself and util, which every room may use). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  engine: [],
  heads: ['engine'],
  nn: ['engine'],
  data: [],
  train: ['engine', 'heads', 'nn', 'data'],
  eval: ['engine'],
  import: ['engine'],
  face: ['engine', 'import'],
  toy: ['engine', 'data', 'face', 'heads', 'nn', 'train'],
  gallery: ['engine', 'eval', 'face'],
  serve: ['face', 'gallery', 'web'],
  web: ['data', 'face', 'toy', 'train'],
  util: [],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const sources = files(src).map((path) => ({
  path,
  rel: relative(src, path).split(sep).join('/'),
  text: readFileSync(path, 'utf8'),
}));
const roomOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '');

/** Rooms a file imports, resolved from its relative import paths. */
function importedRooms(rel: string, text: string): string[] {
  const rooms = new Set<string>();
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
    const target = new URL(m[1], `file:///src/${rel}`).pathname.slice('/src/'.length);
    rooms.add(roomOf(target));
  }
  return [...rooms];
}

describe('architecture', () => {
  it('every room imports only the rooms ARCHITECTURE.md says it does', () => {
    const wrong: string[] = [];
    for (const { rel, text } of sources) {
      const room = roomOf(rel);
      if (room === 'cli' || room === '') continue;
      const allowed = ALLOWED[room];
      expect(allowed, `room ${room} (${rel}) is not in the table`).toBeDefined();
      for (const r of importedRooms(rel, text)) {
        if (r !== room && r !== 'util' && !allowed.includes(r)) wrong.push(`${rel} imports ${r}/`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('nothing below src/cli draws progress bars or writes to the console', () => {
    const offenders = sources
      .filter(({ rel }) => roomOf(rel) !== 'cli' && rel !== 'util/progress.ts')
      .filter(({ text }) => /util\/progress\.js'|process\.std(err|out)|console\./.test(text))
      .map(({ rel }) => rel);
    expect(offenders).toEqual([]);
  });
});
