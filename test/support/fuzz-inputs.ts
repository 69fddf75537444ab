/**
 * Fuzz inputs: mutations of real photos (bit flips, overwrites, truncations, cuts, splices),
 * headers that lie about the size, lying content types, multipart forms and odd option values.
 * Everything is a fast-check arbitrary so failures shrink to a small, replayable case.
 */
import fc from 'fast-check';
import { crc32 } from 'node:zlib';

export interface Mutated {
  bytes: Buffer;
  how: string;
}

/** Counterexamples print as `how`, not as a 200 kB Buffer literal. */
export function labelled<T extends object>(value: T, label: string): T {
  return Object.assign(value, { [fc.toStringMethod]: () => label });
}

const mutated = (bytes: Buffer, how: string): Mutated => labelled({ bytes, how }, how);

/** One or more edits of `base`; positions bias towards the header, where parsers decide the most. */
export function mutationOf(base: Buffer): fc.Arbitrary<Mutated> {
  const n = base.length;
  const pos = fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: 0, max: Math.min(n, 1024) - 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: n - 1 }) },
  );
  const flips = fc
    .array(fc.tuple(pos, fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 24 })
    .map((edits): Mutated => {
      const b = Buffer.from(base);
      for (const [p, bit] of edits) b[p] = (b[p] ?? 0) ^ (1 << bit);
      return mutated(b, `bit flips ${JSON.stringify(edits)}`);
    });
  const writes = fc
    .array(fc.tuple(pos, fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0xd9, 0xd8, 0x01)), {
      minLength: 1,
      maxLength: 8,
    })
    .map((edits): Mutated => {
      const b = Buffer.from(base);
      for (const [p, v] of edits) b[p] = v;
      return mutated(b, `byte writes ${JSON.stringify(edits)}`);
    });
  const truncate = fc
    .oneof(fc.integer({ min: 0, max: Math.min(n, 2048) }), fc.integer({ min: 0, max: n - 1 }))
    .map((len) => mutated(base.subarray(0, len), `truncated to ${len} bytes`));
  const cut = fc
    .tuple(pos, fc.integer({ min: 1, max: 4096 }))
    .map(([p, len]) =>
      mutated(Buffer.concat([base.subarray(0, p), base.subarray(p + len)]), `cut ${len} bytes at ${p}`),
    );
  const splice = fc
    .tuple(pos, fc.uint8Array({ minLength: 1, maxLength: 256 }))
    .map(([p, junk]) =>
      mutated(
        Buffer.concat([base.subarray(0, p), Buffer.from(junk), base.subarray(p)]),
        `inserted ${Buffer.from(junk).toString('hex')} at ${p}`,
      ),
    );
  return fc.oneof(flips, writes, truncate, cut, splice);
}

/** Rewrites the frame size in a JPEG's SOFn segment (the decoder then meets the real scan data). */
export function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(jpeg);
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xff) throw new Error(`not at a marker at ${i}`);
    const marker = b[i + 1]!;
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

/** Rewrites a real PNG's IHDR size and fixes its CRC, so only the size lies. */
export function pngRealClaiming(png: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(png);
  // signature (8) + length (4) + "IHDR" (4): width at 16, height at 20, CRC at 29
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b.writeUInt32BE(crc32(b.subarray(12, 29)), 29);
  return b;
}

/** Rewrites the 14-bit width/height in a lossy WebP's VP8 frame header. */
export function webpClaiming(webp: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(webp);
  if (b.toString('ascii', 12, 16) !== 'VP8 ') throw new Error('not a simple lossy WebP');
  // chunk data at 20: 3-byte frame tag, 9d 01 2a, then width and height (14 bits + 2 scale bits)
  b.writeUInt16LE(width & 0x3fff, 26);
  b.writeUInt16LE(height & 0x3fff, 28);
  return b;
}

export interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Buffer;
}

/** A multipart/form-data body; `boundary` may be odd on purpose. */
export function multipartBody(parts: readonly Part[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head, 'utf8'), p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** Values that have tripped number parsers elsewhere: overflow, signed zero, hex, blanks, unicode. */
export const ODD_NUMBERS = [
  '1e309',
  '-1e309',
  '-0',
  '+0',
  '0',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '0b1',
  '0o7',
  '1_000',
  ' 5 ',
  '\t3\n',
  '5.0',
  '5e0',
  '2.5',
  '1e-400',
  '4.9e-324',
  '9007199254740993',
  '-1',
  '101',
  '1001',
  '0.5',
  '1',
  '',
  'null',
  'true',
  '[]',
  '{}',
  '٣', // Arabic-Indic three
  '３', // full-width three
  '5\u0000',
  '%00',
  '\u202e5',
  '😀',
] as const;

export const OPTION_NAMES = ['topK', 'minConfidence', 'iou', 'maxDetections', 'model', 'format'] as const;

export const oddValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_NUMBERS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('json', 'image', 'mobilenetv2-12-int8', 'yolox-nano', 'nope', 'a'.repeat(101)),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.double().map(String) },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

/** Query pairs: known options with odd values, duplicates, and unknown keys. */
export const oddQuery: fc.Arbitrary<[string, string][]> = fc.array(
  fc.tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...OPTION_NAMES) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
      { weight: 1, arbitrary: fc.constantFrom('TOPK', 'topk', 'top K', 'image', '__proto__', 'constructor') },
    ),
    oddValue,
  ),
  { maxLength: 5 },
);

/** Content types that are right, lie, or are malformed. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constantFrom(
    undefined,
    '',
    'image/jpeg',
    'image/png',
    'image/webp',
    'image/gif',
    'image/heic',
    'image/svg+xml',
    'IMAGE/JPEG',
    'image/jpeg; charset=utf-8',
    'application/octet-stream',
    'application/json',
    'application/json; charset=latin1',
    'APPLICATION/JSON',
    'multipart/form-data',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary=x',
    'multipart/form-data; boundary="unterminated',
    'text/plain',
    'text/html',
    'application/x-www-form-urlencoded',
    ';;;',
    'image/',
    '*/*',
  ),
  fc.string({ maxLength: 30 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
);
