/**
 * `--resume`: which paths an earlier run already wrote, so this run skips them. Each line was
 * written with one append, so only the last one can be incomplete (the run was killed during the
 * write): that torn tail is cut off before this run appends, and its file is done again. A complete
 * line that is not one of ours stops the run rather than appending to a file we do not understand.
 */
import { createReadStream } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import { CSV_COLUMNS, type OutputFormat } from './lines';
import { CsvRecordReader } from './csv';

/** An output file this command did not write (or not in this format). */
export class ForeignOutputError extends Error {}

/** What an output file holds, as far as its complete lines go. */
export interface WrittenOutput {
  /** The paths of the complete lines. */
  paths: Set<string>;
  /** Bytes up to the end of the last complete line: what stays when a torn tail is cut. */
  completeBytes: number;
  /** CSV: the header line is among the complete lines (else this run writes it). */
  hasHeader: boolean;
}

const LF = 0x0a;

/**
 * Reads an output file's bytes in chunks split anywhere and collects the paths of its complete
 * lines (JSONL: one JSON object with a string `path` per line; CSV: the header, then rows of
 * {@link CSV_COLUMNS}). Pure: the caller does the reading.
 */
export class WrittenScanner {
  private readonly paths = new Set<string>();
  private readonly csv = new CsvRecordReader();
  private hasHeader = false;
  /** JSONL: the bytes of the line still open. */
  private open: Uint8Array[] = [];
  private offset = 0;
  private completeBytes = 0;
  private line = 0;

  constructor(private readonly format: OutputFormat) {}

  push(chunk: Uint8Array): void {
    if (this.format === 'csv') {
      for (const record of this.csv.push(chunk)) this.csvRecord(record);
      this.completeBytes = this.csv.completeBytes;
      return;
    }
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      this.open.push(chunk.subarray(start, end));
      this.jsonLine(Buffer.concat(this.open).toString('utf8'));
      this.open = [];
      start = end + 1;
      this.completeBytes = this.offset + start;
    }
    if (start < chunk.length) this.open.push(chunk.slice(start));
    this.offset += chunk.length;
  }

  finish(): WrittenOutput {
    return { paths: this.paths, completeBytes: this.completeBytes, hasHeader: this.hasHeader };
  }

  private jsonLine(text: string): void {
    this.line++;
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ForeignOutputError(`line ${this.line} is not JSON`);
    }
    const path = (value as { path?: unknown } | null)?.path;
    if (typeof path !== 'string') throw new ForeignOutputError(`line ${this.line} has no "path"`);
    this.paths.add(path);
  }

  private csvRecord(fields: string[]): void {
    this.line++;
    if (!this.hasHeader) {
      if (fields.join(',') !== CSV_COLUMNS.join(',')) {
        throw new ForeignOutputError(`its first line is not the header ${CSV_COLUMNS.join(',')}`);
      }
      this.hasHeader = true;
      return;
    }
    const [path] = fields;
    if (fields.length !== CSV_COLUMNS.length || path === undefined) {
      throw new ForeignOutputError(
        `record ${this.line} has ${fields.length} fields, not ${CSV_COLUMNS.length}`,
      );
    }
    this.paths.add(path);
  }
}

/**
 * The paths an output file already holds (none when it does not exist yet), after cutting off a
 * torn last line. Throws {@link ForeignOutputError} for a file that is not ours.
 */
export async function resumeOutput(
  file: string,
  format: OutputFormat,
): Promise<WrittenOutput & { cutBytes: number }> {
  const size = await stat(file).then(
    (s) => s.size,
    (e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    },
  );
  if (size === null || size === 0) {
    return { paths: new Set(), completeBytes: 0, hasHeader: false, cutBytes: 0 };
  }
  const scanner = new WrittenScanner(format);
  // Streamed: a million-line file would not fit one string.
  for await (const chunk of createReadStream(file, { end: size - 1 })) scanner.push(chunk as Buffer);
  const written = scanner.finish();
  const cutBytes = size - written.completeBytes;
  if (cutBytes > 0) await truncate(file, written.completeBytes);
  return { ...written, cutBytes };
}
