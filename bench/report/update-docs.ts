/**
 * Puts a results file's tables into docs/performance.md, between the bench:begin/bench:end markers:
 * `npx tsx bench/report/update-docs.ts bench/results/X.json`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import type { BenchResults } from '../lib/types';
import { renderMarkdown } from './markdown';

async function main(file: string | undefined) {
  if (!file?.endsWith('.json')) throw new Error('usage: tsx bench/report/update-docs.ts <results.json>');
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  // Demote headings so the run's tables nest under the document's own section.
  const body = renderMarkdown(results)
    .replace(/^(#{1,5}) /gm, '#$1# ')
    .trim();
  const docs = path.resolve(__dirname, '../../docs/performance.md');
  const text = readFileSync(docs, 'utf8');
  const begin = '<!-- bench:begin -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${docs} has no ${begin} … ${end} block`);
  const source = `Source: \`${path.relative(path.resolve(__dirname, '../..'), file)}\`.`;
  const next = `${text.slice(0, a + begin.length)}\n\n${source}\n\n${body}\n\n${text.slice(b)}`;
  // Formatted like the rest of the repo (tables aligned), so `prettier --check` stays green.
  const options = await prettier.resolveConfig(docs);
  writeFileSync(docs, await prettier.format(next, { ...options, filepath: docs }));
}

main(process.argv[2]).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
