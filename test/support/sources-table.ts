import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface SourceRow {
  file: string;
  bytes: number;
  sha256: string;
}

/** The rows of the `| file | bytes | sha256 | … |` table in a fixture folder's SOURCES.md. */
export function readSourcesTable(dir: string): SourceRow[] {
  return readFileSync(path.join(dir, 'SOURCES.md'), 'utf8')
    .split('\n')
    .map((line) => line.split('|').map((cell) => cell.trim()))
    .filter((cells) => /^[0-9a-f]{64}$/.test(cells[3] ?? ''))
    .map((cells) => ({ file: cells[1] ?? '', bytes: Number(cells[2]), sha256: cells[3] ?? '' }));
}
