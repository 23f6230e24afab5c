import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freshProject, root } from './support/package.js';

const run = promisify(execFile);

/**
 * The public types as a user's compiler sees them: test/types/*.ts compiled in fresh projects
 * that install the packed tarball, with `skipLibCheck: false` (so sessionkit's .d.ts files are
 * checked too) and `types: ["node"]` (only what a file imports comes in). Each file must compile,
 * and each `@ts-expect-error` in it must meet an error. Run by TypeScript 5 (tsc) and 7 (tsgo).
 */
const devVersions = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
const COMPILERS = {
  'TypeScript 5': join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
  'TypeScript 7 (tsgo)': join(root, 'node_modules', '@typescript', 'native-preview', 'bin', 'tsgo'),
};

const base = { strict: true, noEmit: true, skipLibCheck: false, types: ['node'], target: 'es2022', module: 'nodenext' };

/**
 * Two projects: Express 5's types with everything else a case may import (a file sees only what
 * it imports, `types` being ["node"]), and Express 4's. core.ts imports nothing but sessionkit,
 * hono and node: modules, so only @types/node is in its program.
 */
const node = devVersions['@types/node']!;
const LATEST = {
  '@types/node': node,
  '@types/express': '^5',
  '@types/express-session': '^1.18',
  hono: devVersions.hono!,
  fastify: devVersions.fastify!,
};
const EXPRESS4 = { '@types/node': node, '@types/express': '^4' };
/** SvelteKit 2 (as in the repository) and 3: its declarations import `cookie` (0.6, typed by @types/cookie in Kit 2). */
const KIT2 = { '@types/node': node, '@sveltejs/kit': devVersions['@sveltejs/kit']! };
const KIT3 = { '@types/node': node, '@sveltejs/kit': '^3.2.0' };
const CASES: [file: string, project: string, deps: Record<string, string>][] = [
  ['core.ts', 'types', LATEST],
  ['commonjs.cts', 'types', LATEST],
  ['express.ts', 'types', LATEST],
  ['express-session.ts', 'types', LATEST],
  ['fastify.ts', 'types', LATEST],
  ['express.ts', 'types-express4', EXPRESS4],
  ['sveltekit2.ts', 'types-kit2', KIT2],
  ['sveltekit3.ts', 'types-kit3', KIT3],
];

describe('public types in fresh projects, skipLibCheck off', () => {
  for (const [file, name, deps] of CASES) {
    for (const [compiler, path] of Object.entries(COMPILERS)) {
      it(`${compiler}: ${file}${name === 'types-express4' ? ' with Express 4 types' : ''}`, async () => {
        const project = freshProject(name, 'module', deps);
        copyFileSync(join(root, 'test', 'types', file), join(project, file));
        const config = join(project, `tsconfig.${file}.json`);
        writeFileSync(config, JSON.stringify({ compilerOptions: base, files: [file] }));
        const r = await run(process.execPath, [path, '-p', config], { cwd: project, encoding: 'utf8' }).catch((e) => e);
        assert.equal(r.code ?? 0, 0, `${compiler} on ${file}:\n${r.stdout}${r.stderr}`);
      });
    }
  }
});
