/** Writes a bench's results between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in a Markdown file, keeping the rest. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function replaceBlock(file: string, name: string, text: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark\n';
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  const next =
    i >= 0 && j > i ? `${doc.slice(0, i + start.length)}\n${text}\n${doc.slice(j)}` : `${doc.trimEnd()}\n\n${start}\n${text}\n${end}\n`;
  writeFileSync(file, next);
  console.log(`bench: ${name} results written to ${file}`);
}
