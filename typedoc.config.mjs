// The API reference: TypeDoc over the JSDoc of every package entry point (`npm run docs`, written
// to docs/api/). docs/api/ is git-ignored: it is generated from the source comments, so it cannot
// drift from them when it is built where it is read, and committed HTML would turn every JSDoc
// edit into a conflict in generated files. The entry points are read from package.json's
// "exports", so a new entry point is documented without editing this file; give its file a
// `@module sessionkit/<name>` comment so the reference names it as users import it.
import { existsSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** The first file path an exports target names (a string, or nested conditions). */
function firstPath(target) {
  if (typeof target === 'string') return target;
  for (const value of Object.values(target ?? {})) {
    const found = firstPath(value);
    if (found) return found;
  }
  return undefined;
}

/** `./dist/adapters/express.js` (or `.d.ts`, `.cjs`, `./dist/esm/…`) → `src/adapters/express.ts`. */
function sourceOf(subpath, built) {
  const rest = built.replace(/^\.\/dist\//, '').replace(/\.(d\.)?[cm]?[jt]s$/, '');
  const candidates = [`src/${rest}.ts`, `src/${rest.replace(/^[^/]+\//, '')}.ts`];
  const found = candidates.find((c) => existsSync(new URL(`./${c}`, import.meta.url)));
  if (!found) throw new Error(`typedoc.config.mjs: no source under src/ for the export ${subpath} (${built}); tried ${candidates.join(', ')}`);
  return found;
}

const entryPoints = Object.entries(pkg.exports)
  .filter(([subpath]) => subpath !== './package.json')
  .map(([subpath, target]) => sourceOf(subpath, firstPath(target)));

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'sessionkit',
  entryPoints,
  out: 'docs/api',
  tsconfig: 'tsconfig.json',
  readme: 'none',
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  treatWarningsAsErrors: true,
  // No "Defined in" links to a git host: a checkout without a remote (a tarball, a fresh
  // repository) would otherwise warn, and the warning is an error here.
  disableSources: true,
  // Session's private alias for its keys (keyof Data & string): shown inline.
  intentionallyNotExported: ['Key', 'Listener'],
  validation: { notExported: true, invalidLink: true, notDocumented: false },
};
