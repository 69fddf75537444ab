/**
 * Reads what the decoder needs before it builds sharp's pipeline — stored size, EXIF orientation and
 * the embedded ICC profile — from a JPEG's markers in JavaScript (a few microseconds), so `prepare()`
 * need not first ask sharp for `metadata()`: that is a second libvips header read on libuv's pool
 * and about 1 ms of a 9 ms decode on this VM (docs/performance.md, "Decoding: before and after").
 *
 * It gives the answer libvips' jpegload would (libjpeg's header, libexif's IFD0 Orientation with
 * out-of-range values read as 1, the ICC_PROFILE APP2 chunks in sequence order) and is deliberately
 * narrow: any marker layout, EXIF block or chunk sequence it does not fully understand returns
 * null, and the decoder then asks sharp as before. test/unit/jpeg-header-decoder.test.ts holds it to
 * sharp's own metadata() on crafted and mutated headers.
 */

export interface JpegHeader {
  /** Stored size, before EXIF orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when there is none, or libvips would read it as 1). */
  orientation: number;
  /** The embedded ICC profile, its chunks joined. */
  icc: Buffer | undefined;
}

const SOI = 0xd8;
const SOS = 0xda;
const APP1 = 0xe1;
const APP2 = 0xe2;
/** Baseline, extended sequential and progressive Huffman: what camera and phone JPEGs use. */
const ACCEPTED_SOF = new Set([0xc0, 0xc1, 0xc2]);
/** Any other start-of-frame (lossless, hierarchical, arithmetic): left to libjpeg. */
const OTHER_SOF = new Set([0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

const EXIF_ID = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"
const ICC_ID = [0x49, 0x43, 0x43, 0x5f, 0x50, 0x52, 0x4f, 0x46, 0x49, 0x4c, 0x45, 0]; // "ICC_PROFILE\0"
/** libvips gathers at most this many ICC chunks. */
const MAX_ICC_CHUNKS = 100;
const ORIENTATION_TAG = 0x0112;
const TIFF_SHORT = 3;

const startsWith = (b: Uint8Array, at: number, end: number, id: readonly number[], n = id.length) => {
  if (end - at < n) return false;
  for (let k = 0; k < n; k++) if (b[at + k] !== id[k]) return false;
  return true;
};

/** Every read is bounds-checked first; the fallback only satisfies the type checker. */
const u8 = (b: Uint8Array, at: number): number => b[at] ?? 0;

interface Range {
  start: number;
  end: number;
}

/**
 * EXIF orientation from an APP1 payload that starts with "Exif\0\0", or null when the block is not
 * plainly laid out (libexif's recovery rules are then left to libvips).
 */
function exifOrientation(b: Uint8Array, { start, end }: Range): number | null {
  const t = start + EXIF_ID.length; // the TIFF header
  if (end - t < 8) return null;
  let little: boolean;
  if (b[t] === 0x49 && b[t + 1] === 0x49) little = true;
  else if (b[t] === 0x4d && b[t + 1] === 0x4d) little = false;
  else return null;
  const u16 = (at: number) => (little ? u8(b, at) | (u8(b, at + 1) << 8) : (u8(b, at) << 8) | u8(b, at + 1));
  const u32 = (at: number) =>
    little
      ? (u8(b, at) | (u8(b, at + 1) << 8) | (u8(b, at + 2) << 16)) + u8(b, at + 3) * 0x1000000
      : u8(b, at) * 0x1000000 + ((u8(b, at + 1) << 16) | (u8(b, at + 2) << 8) | u8(b, at + 3));
  if (u16(t + 2) !== 42) return null;
  const ifd0 = u32(t + 4);
  if (ifd0 < 8 || t + ifd0 + 2 > end) return null;
  const entries = u16(t + ifd0);
  const first = t + ifd0 + 2;
  if (first + entries * 12 > end) return null;
  let orientation: number | null = null;
  for (let k = 0; k < entries; k++) {
    const e = first + k * 12;
    if (u16(e) !== ORIENTATION_TAG) continue;
    // A second Orientation, another type or a count other than 1: libexif's call, not ours.
    if (orientation !== null || u16(e + 2) !== TIFF_SHORT || u32(e + 4) !== 1) return null;
    const value = u16(e + 8);
    orientation = value >= 1 && value <= 8 ? value : 1;
  }
  return orientation ?? 1;
}

/** The ICC profile from its APP2 chunks, or null when they are not numbered 1…n in order. */
function joinIcc(b: Uint8Array, chunks: readonly (Range & { seq: number; count: number })[]): Buffer | null {
  if (chunks.length > MAX_ICC_CHUNKS) return null;
  const parts: Uint8Array[] = [];
  for (const [k, c] of chunks.entries()) {
    if (c.seq !== k + 1 || c.count !== chunks.length || c.end <= c.start) return null;
    parts.push(b.subarray(c.start, c.end));
  }
  return Buffer.concat(parts);
}

/** See the file comment. `bytes` is any buffer; null means "ask sharp". */
export function readJpegHeader(bytes: Uint8Array): JpegHeader | null {
  const b = bytes;
  if (b.length < 4 || b[0] !== 0xff || b[1] !== SOI) return null;
  let at = 2;
  let size: { width: number; height: number } | null = null;
  const exif: Range[] = [];
  const icc: (Range & { seq: number; count: number })[] = [];
  for (;;) {
    if (at + 4 > b.length || b[at] !== 0xff) return null;
    const marker = u8(b, at + 1);
    if (marker === SOS) break;
    // Fill bytes, stray SOI/EOI/RSTn/TEM before the scan: unusual enough to leave to libjpeg.
    if (marker === 0xff || marker === 0 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) return null;
    const length = (u8(b, at + 2) << 8) | u8(b, at + 3);
    const start = at + 4;
    const end = at + 2 + length;
    if (length < 2 || end > b.length) return null;
    if (ACCEPTED_SOF.has(marker)) {
      if (size !== null || length < 8) return null;
      const precision = u8(b, start);
      const height = (u8(b, start + 1) << 8) | u8(b, start + 2);
      const width = (u8(b, start + 3) << 8) | u8(b, start + 4);
      const components = u8(b, start + 5);
      if (precision !== 8 || width === 0 || height === 0) return null;
      if (![1, 3, 4].includes(components) || length !== 8 + 3 * components) return null;
      for (let c = 0; c < components; c++) {
        const sampling = u8(b, start + 6 + 3 * c + 1);
        const h = sampling >> 4;
        const v = sampling & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4 || u8(b, start + 6 + 3 * c + 2) > 3) return null;
      }
      size = { width, height };
    } else if (OTHER_SOF.has(marker)) {
      return null;
    } else if (marker === APP1 && startsWith(b, start, end, EXIF_ID, 4)) {
      // libvips takes any APP1 that starts "Exif"; only the plain "Exif\0\0" layout is read here.
      if (!startsWith(b, start, end, EXIF_ID)) return null;
      exif.push({ start, end });
    } else if (marker === APP2 && startsWith(b, start, end, ICC_ID, ICC_ID.length - 1)) {
      if (!startsWith(b, start, end, ICC_ID) || end - start < ICC_ID.length + 2) return null;
      const seqAt = start + ICC_ID.length;
      icc.push({ seq: u8(b, seqAt), count: u8(b, seqAt + 1), start: seqAt + 2, end });
    }
    at = end;
  }
  if (size === null || exif.length > 1) return null;
  const [block] = exif;
  const orientation = block ? exifOrientation(b, block) : 1;
  if (orientation === null) return null;
  let profile: Buffer | undefined;
  if (icc.length > 0) {
    const joined = joinIcc(b, icc);
    if (joined === null) return null;
    profile = joined;
  }
  return { ...size, orientation, icc: profile };
}
