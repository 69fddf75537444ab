import { InvalidRequestError, UnsupportedMediaTypeError } from './errors';

/** The formats the decoder accepts; HEIF (HEVC) is recognised only to say it is not one of them. */
export type SniffedFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif';

export const SUPPORTED_FORMATS = 'JPEG, PNG, WebP, GIF, AVIF or TIFF';

const ascii = (bytes: Uint8Array, start: number, end: number) =>
  String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));

const startsWith = (bytes: Uint8Array, magic: readonly number[], at = 0) =>
  bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);

/** The brands of an ISO-BMFF `ftyp` box (HEIF and AVIF files open with one). */
function ftypBrands(bytes: Uint8Array): string[] | null {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return null;
  const size =
    (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
  const end = Math.min(size >= 16 ? size : 16, bytes.length, 256);
  const brands = [ascii(bytes, 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(ascii(bytes, at, at + 4));
  return brands;
}

/**
 * The image format from the first bytes alone (magic numbers), or null for anything else: SVG,
 * PDF, PSD, ICO, BMP, text. Checked before any decoder sees the body, so only the loaders of the
 * accepted formats ever parse untrusted bytes.
 */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  const head = ascii(bytes, 0, 6);
  if (head === 'GIF87a' || head === 'GIF89a') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'tiff';
  const brands = ftypBrands(bytes);
  if (brands?.some((b) => b === 'avif' || b === 'avis')) return 'avif';
  if (brands?.some((b) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(b)))
    return 'heif';
  return null;
}

/** Refuses an empty image (400) or one that is not an accepted format (415); returns its format. */
export function requireSupportedImage(bytes: Uint8Array): Exclude<SniffedFormat, 'heif'> {
  if (bytes.length === 0) throw new InvalidRequestError('The request has no image: the body is empty.');
  const format = sniffImageFormat(bytes);
  if (format === 'heif') {
    throw new UnsupportedMediaTypeError(`HEIC/HEIF images are not supported; send ${SUPPORTED_FORMATS}.`);
  }
  if (!format) {
    throw new UnsupportedMediaTypeError(`The body is not a ${SUPPORTED_FORMATS} image.`);
  }
  return format;
}
