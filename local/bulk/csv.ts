/**
 * RFC 4180 CSV, both ways: a field is quoted when it holds a comma, a quote, CR or LF (quotes
 * doubled inside); records end in CRLF (LF alone is read too). The reader is incremental and works on bytes, so the
 * resume scan can stream a large results file and know the byte offset where the last whole record
 * ends: the four structural bytes (`"`, `,`, CR, LF) never occur inside a UTF-8 multi-byte
 * character, so splitting on bytes is safe and a field is decoded only once it is complete.
 */

export const CSV_RECORD_END = '\r\n';

/** One field as RFC 4180 writes it: quoted only when it must be. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One record, its fields quoted as needed, with its CRLF. */
export function csvRecord(fields: readonly string[]): string {
  return fields.map(csvField).join(',') + CSV_RECORD_END;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;

/** The reader's position inside a field. */
type FieldState = 'start' | 'plain' | 'quoted' | 'quoteInQuoted';

/**
 * Reads CSV records from chunks of bytes split anywhere. `push` returns the records each chunk
 * completes; `completeBytes` is the offset just past the last complete record (the rest, if any,
 * is a record still open: more bytes may complete it, or it is a torn tail). A record ends at CRLF
 * or LF outside quotes; a record whose CR came but not yet its LF is still open.
 */
export class CsvRecordReader {
  private state: FieldState = 'start';
  private fields: string[] = [];
  private field: number[] = [];
  private offset = 0;
  /** A CR outside quotes: the end of the record if an LF follows, else part of the field. */
  private pendingCr = false;
  /** Bytes up to the end of the last complete record. */
  completeBytes = 0;

  push(chunk: Uint8Array): string[][] {
    const records: string[][] = [];
    for (const byte of chunk) {
      this.offset++;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (byte !== LF) this.field.push(CR);
      }
      switch (this.state) {
        case 'quoted':
          if (byte === QUOTE) this.state = 'quoteInQuoted';
          else this.field.push(byte);
          continue;
        case 'quoteInQuoted':
          if (byte === QUOTE) {
            this.field.push(QUOTE);
            this.state = 'quoted';
            continue;
          }
          // The closing quote: what follows is the separator (anything else is kept as is).
          this.state = 'plain';
          break;
        case 'start':
          if (byte === QUOTE) {
            this.state = 'quoted';
            continue;
          }
          this.state = 'plain';
          break;
        case 'plain':
          break;
      }
      if (byte === COMMA) {
        this.endField();
      } else if (byte === CR) {
        this.pendingCr = true;
      } else if (byte === LF) {
        this.endField();
        records.push(this.fields);
        this.fields = [];
        this.completeBytes = this.offset;
      } else {
        this.field.push(byte);
      }
    }
    return records;
  }

  /** Bytes after the last complete record (a record still open or torn). */
  get openBytes(): number {
    return this.offset - this.completeBytes;
  }

  private endField(): void {
    this.fields.push(Buffer.from(this.field).toString('utf8'));
    this.field = [];
    this.state = 'start';
  }
}

/** Every complete record of a whole CSV text (a test and small-file helper). */
export function parseCsv(text: string): string[][] {
  return new CsvRecordReader().push(Buffer.from(text, 'utf8'));
}
