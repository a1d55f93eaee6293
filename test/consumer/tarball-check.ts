/** What a packed tarball must hold, given package.json: the checks behind the consumer test's messages. */

/** The fields of package.json that say which files a consumer reaches. */
export interface PackageSurface {
  readonly exports: Record<string, string | Record<string, string>>;
  readonly bin: Record<string, string>;
}

/**
 * Problems with a tarball's file list, one readable line each (empty when it is fine): every
 * `exports` condition and `bin` target must be in it; no TypeScript source (other than .d.ts), and
 * nothing under src/, test/, bench/ or scripts/, may be.
 *
 * @param files paths inside the package, relative to its root, with '/' separators
 */
export function tarballProblems(pkg: PackageSurface, files: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const has = (path: string): boolean => files.has(path.replace(/^\.\//, ''));
  for (const [key, target] of Object.entries(pkg.exports)) {
    const conditions = typeof target === 'string' ? { default: target } : target;
    for (const [condition, path] of Object.entries(conditions)) {
      if (!has(path)) problems.push(`exports["${key}"].${condition} -> ${path} is not in the tarball`);
    }
  }
  for (const [name, path] of Object.entries(pkg.bin)) {
    if (!has(path)) problems.push(`bin "${name}" -> ${path} is not in the tarball`);
  }
  for (const f of files) {
    const source = /\.(ts|mts|cts)$/.test(f) && !/\.d\.(ts|mts|cts)$/.test(f);
    if (source || /^(src|test|bench|scripts)\//.test(f)) problems.push(`${f} should not be in the tarball`);
  }
  return problems;
}
