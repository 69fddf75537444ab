/**
 * The folder run's CSV (local/bulk/csv.ts, lines.ts): RFC 4180 quoting both ways, whatever a path
 * or a label holds, read back from bytes split anywhere; and the columns a row has for an answer,
 * a detection and an error.
 */
import fc from 'fast-check';
import { CsvRecordReader, csvField, csvRecord, parseCsv } from '../../local/bulk/csv';
import { CSV_COLUMNS, csvHeader, csvRow, jsonlLine } from '../../local/bulk/lines';

describe('csvField / csvRecord: RFC 4180 quoting', () => {
  it('leaves plain fields alone and quotes those with a comma, a quote, CR or LF', () => {
    expect(csvField('dog.jpg')).toBe('dog.jpg');
    expect(csvField('a,b.jpg')).toBe('"a,b.jpg"');
    expect(csvField('say "cheese".jpg')).toBe('"say ""cheese"".jpg"');
    expect(csvField('two\nlines.jpg')).toBe('"two\nlines.jpg"');
    expect(csvField('cr\r.jpg')).toBe('"cr\r.jpg"');
    expect(csvField('')).toBe('');
  });

  it('ends a record with CRLF', () => {
    expect(csvRecord(['a', 'b,c', ''])).toBe('a,"b,c",\r\n');
  });

  it('reads back the fields it wrote: commas, quotes, newlines, non-ASCII, empty fields', () => {
    const rows = [
      ['holiday, 2024/beach "sunset".jpg', '200', ''],
      ['multi\nline\r\nname.png', '415', 'UNSUPPORTED_MEDIA_TYPE'],
      ['café/日本/💡.webp', '', '""'],
    ];
    expect(parseCsv(rows.map(csvRecord).join(''))).toEqual(rows);
  });

  it('any fields, split into chunks at any byte (inside a UTF-8 character too), read back the same', () => {
    const field = fc.string({ unit: fc.constantFrom('a', ',', '"', '\r', '\n', ' ', 'é', '日', '💡') });
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (records, cuts) => {
          const bytes = Buffer.from(records.map(csvRecord).join(''), 'utf8');
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const reader = new CsvRecordReader();
          const read: string[][] = [];
          let from = 0;
          for (const at of [...points, bytes.length]) {
            read.push(...reader.push(bytes.subarray(from, at)));
            from = at;
          }
          expect(read).toEqual(records);
          expect(reader.completeBytes).toBe(bytes.length);
          expect(reader.openBytes).toBe(0);
        },
      ),
      { seed: 4180, numRuns: 300 },
    );
  });

  it('an unfinished last record is not returned, and completeBytes stops before it', () => {
    const whole = csvRecord(['a.jpg', '200']);
    const reader = new CsvRecordReader();
    expect(reader.push(Buffer.from(`${whole}"torn, still quoted`))).toEqual([['a.jpg', '200']]);
    expect(reader.completeBytes).toBe(Buffer.byteLength(whole));
    expect(reader.openBytes).toBe('"torn, still quoted'.length);
  });

  it('reads LF-only line ends too (a file edited elsewhere)', () => {
    expect(parseCsv('a,b\nc,"d\ne"\n')).toEqual([
      ['a', 'b'],
      ['c', 'd\ne'],
    ]);
  });
});

describe('csvRow: one image as a spreadsheet row', () => {
  const cells = (path: string, body: Record<string, unknown>) => {
    const [header, row] = parseCsv(csvHeader() + csvRow(path, body));
    return Object.fromEntries((header ?? []).map((c, i) => [c, row?.[i]]));
  };

  it('a classification: top label and probability, predictions as label:probability;…, summary, size', () => {
    const body = {
      statusCode: 200,
      label: 'Alaskan Malamute',
      task: 'classification',
      model: 'mobilenetv2-12-int8',
      predictions: [
        { label: 'Alaskan Malamute', synset: 'n02110063', classId: 249, probability: 0.61 },
        { label: 'husky', synset: 'n02110185', classId: 250, probability: 0.2 },
      ],
      summary: { label: 'dog', wnid: 'n02084071', probability: 0.95, path: ['dog'] },
      image: { width: 768, height: 576, format: 'jpeg' },
    };
    expect(cells('pets/rex, the dog.jpg', body)).toEqual({
      path: 'pets/rex, the dog.jpg',
      status: '200',
      error: '',
      message: '',
      model: 'mobilenetv2-12-int8',
      label: 'Alaskan Malamute',
      score: '0.61',
      count: '2',
      predictions: 'Alaskan Malamute:0.61;husky:0.2',
      summary: 'dog',
      width: '768',
      height: '576',
    });
  });

  it('a detection: best label and score, boxes as label:score@x1,y1,x2,y2;…', () => {
    const box = { x1: 1, y1: 2.5, x2: 30, y2: 40 };
    const body = {
      statusCode: 200,
      label: 'person',
      task: 'detection',
      model: 'yolox-nano',
      detections: [
        { label: 'person', classId: 0, score: 0.9, box, boxNormalized: box },
        { label: 'kite', classId: 33, score: 0.5, box: { x1: 5, y1: 6, x2: 7, y2: 8 }, boxNormalized: box },
      ],
      image: { width: 640, height: 480, format: 'jpeg' },
    };
    const row = cells('kite.jpg', body);
    expect([row.label, row.score, row.count, row.summary]).toEqual(['person', '0.9', '2', '']);
    expect(row.predictions).toBe('person:0.9@1,2.5,30,40;kite:0.5@5,6,7,8');
  });

  it('a detection with nothing found: count 0, the other answer cells empty', () => {
    const body = { statusCode: 200, label: null, task: 'detection', model: 'yolox-nano', detections: [] };
    const row = cells('empty.jpg', body);
    expect([row.status, row.label, row.score, row.count, row.predictions]).toEqual(['200', '', '', '0', '']);
  });

  it('an error: status, code and message; no answer cells', () => {
    const body = {
      statusCode: 415,
      error: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'The body is not a JPEG, PNG image.',
    };
    expect(cells('notes.jpg', body)).toEqual({
      ...Object.fromEntries(CSV_COLUMNS.map((c) => [c, ''])),
      path: 'notes.jpg',
      status: '415',
      error: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'The body is not a JPEG, PNG image.',
    });
  });
});

it('jsonlLine: one line, path first, then the body as it is', () => {
  const line = jsonlLine('a/b\n.jpg', { statusCode: 200, label: 'x' });
  expect(line.endsWith('\n')).toBe(true);
  expect(line.slice(0, -1)).not.toContain('\n');
  expect(Object.keys(JSON.parse(line))).toEqual(['path', 'statusCode', 'label']);
  expect(JSON.parse(line).path).toBe('a/b\n.jpg');
});
