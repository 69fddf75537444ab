/**
 * `--resume` (local/bulk/resume.ts): the paths an output file already holds, read from chunks split
 * anywhere; a torn last line (a run killed mid-write) is left out and cut off; a file that is not
 * ours is refused rather than appended to.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { csvHeader, csvRow, jsonlLine, type OutputFormat } from '../../local/bulk/lines';
import { ForeignOutputError, resumeOutput, WrittenScanner } from '../../local/bulk/resume';

const ok = { statusCode: 200, label: 'dog', predictions: [] };
const failed = { statusCode: 422, error: 'UNPROCESSABLE_IMAGE', message: 'corrupt' };
const PATHS = ['a.jpg', 'sub/b, "c".png', 'new\nline.jpg', 'café/日本.webp'];

function output(format: OutputFormat, paths: readonly string[]): string {
  const lines = paths.map((p, i) =>
    format === 'csv' ? csvRow(p, i % 2 ? failed : ok) : jsonlLine(p, i % 2 ? failed : ok),
  );
  return (format === 'csv' ? csvHeader() : '') + lines.join('');
}

/** Scans `bytes` pushed in pieces of `size` bytes. */
function scan(format: OutputFormat, bytes: Buffer, size: number) {
  const scanner = new WrittenScanner(format);
  for (let at = 0; at < bytes.length; at += size) scanner.push(bytes.subarray(at, at + size));
  return scanner.finish();
}

describe.each(['jsonl', 'csv'] as const)('%s', (format) => {
  it('collects every path, whatever the chunk size', () => {
    const bytes = Buffer.from(output(format, PATHS));
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const written = scan(format, bytes, size);
      expect([...written.paths]).toEqual(PATHS);
      expect(written.completeBytes).toBe(bytes.length);
      expect(written.hasHeader).toBe(format === 'csv');
    }
  });

  it('a torn last line is not counted, and completeBytes ends before it', () => {
    const whole = Buffer.from(output(format, PATHS.slice(0, 2)));
    const next = Buffer.from(output(format, PATHS.slice(0, 3))).subarray(whole.length);
    // Torn anywhere in the third line, even one byte short of its end.
    for (const keep of [1, Math.floor(next.length / 2), next.length - 1]) {
      const torn = Buffer.concat([whole, next.subarray(0, keep)]);
      const written = scan(format, torn, 5);
      expect([...written.paths]).toEqual(PATHS.slice(0, 2));
      expect(written.completeBytes).toBe(whole.length);
    }
  });

  it('resumeOutput cuts the torn tail off the file, so appended lines start on their own line', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'bulk-resume-')), `out.${format}`);
    const whole = output(format, PATHS.slice(0, 2));
    writeFileSync(file, whole + output(format, PATHS.slice(0, 3)).slice(whole.length, -4));
    const written = await resumeOutput(file, format);
    expect([...written.paths]).toEqual(PATHS.slice(0, 2));
    expect(written.cutBytes).toBeGreaterThan(0);
    expect(readFileSync(file, 'utf8')).toBe(whole);
  });

  it('a file that does not exist yet, or is empty, holds nothing (and CSV has no header yet)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bulk-resume-'));
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    for (const file of [path.join(dir, 'missing'), empty]) {
      const written = await resumeOutput(file, format);
      expect([written.paths.size, written.hasHeader, written.cutBytes]).toEqual([0, false, 0]);
    }
  });
});

describe('a file that is not an output of this format is refused', () => {
  it('JSONL: a complete line that is not JSON, or has no path', () => {
    expect(() => scan('jsonl', Buffer.from('{"path":"a.jpg"}\nnot json\n'), 4)).toThrow(
      new ForeignOutputError('line 2 is not JSON'),
    );
    expect(() => scan('jsonl', Buffer.from('{"label":"dog"}\n'), 4)).toThrow(ForeignOutputError);
  });

  it('CSV: a first line other than the header, or a row with another number of fields', () => {
    expect(() => scan('csv', Buffer.from('{"path":"a.jpg"}\n'), 4)).toThrow(ForeignOutputError);
    expect(() => scan('csv', Buffer.from(`${csvHeader()}a.jpg,200\r\n`), 4)).toThrow(/record 2 has 2 fields/);
  });

  it('a JSONL file read as CSV, and a CSV file read as JSONL', () => {
    expect(() => scan('csv', Buffer.from(output('jsonl', PATHS)), 16)).toThrow(ForeignOutputError);
    expect(() => scan('jsonl', Buffer.from(output('csv', PATHS)), 16)).toThrow(ForeignOutputError);
  });

  it('blank lines in JSONL are passed over', () => {
    expect([...scan('jsonl', Buffer.from('\n{"path":"a.jpg"}\n\n'), 3).paths]).toEqual(['a.jpg']);
  });
});
