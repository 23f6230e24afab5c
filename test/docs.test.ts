// The README and docs/ as a user reads them: short enough, every link resolving, every
// TypeScript snippet complete and compiling under `tsc --strict` against the package as built.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import GithubSlugger from 'github-slugger';
import { type Token, type Tokens, lexer } from 'marked';

const root = resolve(import.meta.dirname, '..');
const docsDir = join(root, 'docs');

/** README.md and every docs/**.md a user reads (the generated API reference excepted). */
function markdownFiles(): string[] {
  const out = [join(root, 'README.md')];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (path !== join(docsDir, 'api')) walk(path);
      } else if (name.endsWith('.md')) out.push(path);
    }
  };
  if (existsSync(docsDir)) walk(docsDir);
  return out;
}

interface Located<T> {
  token: T;
  line: number;
}

/** Every token of a markdown file, nested ones included, with the line its raw text starts on. */
function tokensOf(source: string): Located<Token>[] {
  const out: Located<Token>[] = [];
  const visit = (tokens: Token[], from: number): void => {
    let at = from;
    for (const token of tokens) {
      const found = source.indexOf(token.raw, at);
      const start = found === -1 ? at : found;
      out.push({ token, line: source.slice(0, start).split('\n').length });
      const children: Token[] = [];
      if ('tokens' in token && Array.isArray(token.tokens)) children.push(...token.tokens);
      if (token.type === 'list') for (const item of (token as Tokens.List).items) children.push(item);
      if (token.type === 'table') {
        const table = token as Tokens.Table;
        for (const cell of [...table.header, ...table.rows.flat()]) children.push(...cell.tokens);
      }
      visit(children, start);
      if (found !== -1) at = start + token.raw.length;
    }
  };
  visit(lexer(source), 0);
  return out;
}

const files = markdownFiles().map((path) => {
  const source = readFileSync(path, 'utf8');
  return { path, name: relative(root, path), source, tokens: tokensOf(source) };
});

describe('README and docs', () => {
  it('the README stays under 10,000 characters (the details live in docs/)', () => {
    const size = Buffer.byteLength(readFileSync(join(root, 'README.md'), 'utf8'));
    assert.ok(size <= 10_000, `README.md is ${size} bytes; move detail into docs/ to bring it to 10,000 or less`);
  });

  it('no user-facing page speaks of project tracking', () => {
    const tracking = /\b(issue|ticket|helper)s?\s*#?\d+|\bissue\s+tracker\b/i;
    for (const f of files) {
      for (const [i, text] of f.source.split('\n').entries()) assert.doesNotMatch(text, tracking, `${f.name}:${i + 1}`);
    }
  });

  it('every relative link and #anchor resolves to a file and a heading', () => {
    const slugsOf = new Map<string, Set<string>>();
    const slugs = (path: string): Set<string> => {
      let set = slugsOf.get(path);
      if (!set) {
        const slugger = new GithubSlugger();
        const f = files.find((x) => x.path === path);
        const tokens = f ? f.tokens : tokensOf(readFileSync(path, 'utf8'));
        set = new Set(tokens.filter((t) => t.token.type === 'heading').map((t) => slugger.slug((t.token as Tokens.Heading).text)));
        slugsOf.set(path, set);
      }
      return set;
    };
    const broken: string[] = [];
    let checked = 0;
    for (const f of files) {
      for (const { token, line } of f.tokens) {
        if (token.type !== 'link') continue;
        const href = (token as Tokens.Link).href;
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:
        checked++;
        const [pathPart = '', anchor] = href.split('#', 2);
        const target = pathPart === '' ? f.path : resolve(dirname(f.path), decodeURIComponent(pathPart));
        if (!existsSync(target)) {
          broken.push(`${f.name}:${line}: ${href} (no such file)`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !slugs(target).has(anchor)) {
          broken.push(`${f.name}:${line}: ${href} (no heading #${anchor} in ${relative(root, target)})`);
        }
      }
    }
    assert.ok(checked > 10, `expected the docs to link to each other, found ${checked} links`);
    assert.deepEqual(broken, []);
  });

  it('every page with TypeScript snippets says how to run them (tsx, an ES module project)', () => {
    const missing = files
      .filter((f) => f.tokens.some(({ token }) => token.type === 'code' && /^(ts|typescript)\b/.test((token as Tokens.Code).lang ?? '')))
      .filter((f) => !/npx tsx/.test(f.source) || !/"type": "module"/.test(f.source))
      .map((f) => f.name);
    assert.deepEqual(missing, []);
  });

  it('the install lines work on Node.js 20, 22 and 24, and say how to install from a checkout', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const firstScreen = readme.split('\n').slice(0, 12).join('\n');
    assert.match(firstScreen, /npm install && npm start/, 'the demo command on the first screen');
    assert.match(firstScreen, /npm test/, 'the test command on the first screen');
    for (const page of [readme, readFileSync(join(docsDir, 'getting-started.md'), 'utf8')]) {
      assert.match(page, /npm install sessionkit better-sqlite3@12 .*# Node\.js 20/);
      assert.match(page, /npm install sessionkit better-sqlite3 .*# Node\.js 22 and 24/);
      assert.match(page, /pnpm approve-builds/);
      assert.match(page, /npm pack/);
    }
  });

  it('the API reference builds from the JSDoc of every entry point without a warning (npm run docs)', async () => {
    const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [typedoc, '--emit', 'none', '--logLevel', 'Warn'], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout: string; stderr: string; message: string }) => ({ stdout: err.stdout || err.message, stderr: err.stderr }));
    const output = `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '').trim();
    assert.equal(output, '', `TypeDoc reported (see typedoc.config.mjs; export what a public signature names, or document it):\n${output}`);
  });

  it('every TypeScript snippet is complete and compiles under tsc --strict against the built package', async () => {
    assert.ok(
      existsSync(join(root, 'dist')),
      'dist/ is missing: run `npm run build` first (npm test does); snippets import the package as users do',
    );
    // Inside the repository, so `import … from 'sessionkit/…'` resolves through package.json's own
    // "exports" to the built files and their types, exactly as in a user's project.
    const dir = join(root, 'test-output', 'docs-snippets');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const origin = new Map<string, { file: string; line: number }>();
    const separate: string[] = [];
    for (const f of files) {
      let n = 0;
      for (const { token, line } of f.tokens) {
        if (token.type !== 'code') continue;
        const [lang = '', ...flags] = ((token as Tokens.Code).lang ?? '').split(/\s+/);
        if (!['ts', 'typescript'].includes(lang) || flags.includes('nocheck')) continue;
        const name = `${f.name.replace(/[/\\.]/g, '_')}_${++n}.ts`;
        // a snippet that declares SessionTypes would type every other one: it compiles on its own
        const own = /declare module 'sessionkit'/.test((token as Tokens.Code).text);
        if (own) mkdirSync(join(dir, name.slice(0, -3)), { recursive: true });
        writeFileSync(join(dir, own ? join(name.slice(0, -3), name) : name), `${(token as Tokens.Code).text}\n`);
        if (own) separate.push(join(dir, name.slice(0, -3)));
        origin.set(name, { file: f.name, line: line + 1 });
      }
    }
    assert.ok(origin.size >= 10, `expected snippets in the docs, found ${origin.size}`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          moduleDetection: 'force',
          lib: ['ES2023'],
          types: ['node'],
          noEmit: true,
          skipLibCheck: true,
        },
        include: ['*.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const compile = (project: string) =>
      promisify(execFile)(process.execPath, [tsc, '-p', join(project, 'tsconfig.json'), '--pretty', 'false'], {
        cwd: project,
        maxBuffer: 16 * 1024 * 1024,
      }).then(
        () => '',
        (err: { stdout?: string; message: string }) => err.stdout || err.message,
      );
    for (const project of separate) copyFileSync(join(dir, 'tsconfig.json'), join(project, 'tsconfig.json'));
    const result = (await Promise.all([dir, ...separate].map(compile))).join('\n');
    // Point each error at the markdown line it comes from.
    const errors = result
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) =>
        l.replace(/^([^(]+)\((\d+),(\d+)\)/, (all, file: string, line: string) => {
          const o = origin.get(file.trim().split(/[/\\]/).pop() ?? '');
          return o ? `${o.file}:${o.line + Number(line) - 1} (${file.trim()})` : all;
        }),
      );
    assert.deepEqual(errors, [], `snippets that do not compile (mark an illustration-only one \`\`\`ts nocheck):\n${errors.join('\n')}`);
  });
});
