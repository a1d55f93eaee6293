import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { type PackageSurface, tarballProblems } from './tarball-check.js';

const pkg = JSON.parse(
  await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
) as PackageSurface;

/** Every file this package.json points at, as a tarball listing would hold them. */
function complete(): Set<string> {
  const files = new Set(['package.json', 'README.md']);
  for (const target of Object.values(pkg.exports)) {
    for (const path of typeof target === 'string' ? [target] : Object.values(target)) {
      files.add(path.replace(/^\.\//, ''));
    }
  }
  for (const path of Object.values(pkg.bin)) files.add(path);
  return files;
}

describe('tarballProblems (the consumer test messages)', () => {
  it('finds nothing wrong with a listing that holds every target', () => {
    expect(tarballProblems(pkg, complete())).toEqual([]);
  });

  it('names the export, condition and file that is missing', () => {
    const files = complete();
    files.delete('dist/face/index.d.ts');
    files.delete('bin/arcface.mjs');
    expect(tarballProblems(pkg, files)).toEqual([
      'exports["./face"].types -> ./dist/face/index.d.ts is not in the tarball',
      'bin "arcface" -> bin/arcface.mjs is not in the tarball',
    ]);
  });

  it('names sources, tests and benches that should not ship, but not declarations', () => {
    const files = complete();
    for (const f of ['src/face/index.ts', 'test/face/cli.test.ts', 'bench/README.md', 'dist/x.d.ts'])
      files.add(f);
    expect(tarballProblems(pkg, files)).toEqual([
      'src/face/index.ts should not be in the tarball',
      'test/face/cli.test.ts should not be in the tarball',
      'bench/README.md should not be in the tarball',
    ]);
  });

  it('checks every entry point package.json declares', () => {
    const rooms = Object.keys(pkg.exports);
    for (const room of [
      '.',
      './face',
      './train',
      './heads',
      './engine',
      './eval',
      './data',
      './nn',
      './toy',
      './import',
    ]) {
      expect(rooms).toContain(room);
    }
  });
});
