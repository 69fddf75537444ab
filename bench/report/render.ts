/** Re-renders the Markdown of a results file: `npx tsx bench/report/render.ts bench/results/X.json`. */
import { readFileSync, writeFileSync } from 'node:fs';
import type { BenchResults } from '../lib/types';
import { renderMarkdown } from './markdown';

const file = process.argv[2];
if (!file?.endsWith('.json')) throw new Error('usage: tsx bench/report/render.ts <results.json>');
const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
writeFileSync(file.replace(/\.json$/, '.md'), renderMarkdown(results));
