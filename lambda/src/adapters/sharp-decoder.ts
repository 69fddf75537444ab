import sharp from 'sharp';
import { SUPPORTED_FORMATS } from '../core/image-format';
import {
  InvalidRequestError,
  PayloadTooLargeError,
  UnprocessableImageError,
  UnsupportedMediaTypeError,
} from '../core/errors';
import { planResize } from '../core/geometry';
import { isSrgbEquivalentProfile } from '../core/icc-profile';
import type { ModelSpec } from '../core/manifest';
import type { ImageDecoder, PreparedImage } from '../core/ports';
import type { Detection } from '../core/results';
import { readJpegHeader } from './jpeg-header';

export interface SharpDecoderOptions {
  /** Decoded pixel cap: a 100000×100000 header is refused before any pixel is decoded. */
  maxPixels: number;
  /** Longest/shortest side beyond this is refused: resizing a 1×40000 strip to 256 px would explode. */
  maxAspectRatio?: number;
  /** The annotated photo (format=image) is scaled down to this longest side. */
  annotatedMaxSide?: number;
  /**
   * Read a JPEG's size, orientation and ICC profile in JavaScript (./jpeg-header.ts) rather than
   * through sharp's metadata(), falling back to metadata() for anything unusual or refused. Default
   * true; false is the path before (the tests and the bench compare the two).
   */
  readJpegHeaders?: boolean;
}

/** What probe() tells prepare() and annotate(). */
export interface ProbedImage {
  format: string;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** Whether decoding runs the embedded profile through lcms. */
  applyIcc: boolean;
}

// Every request brings a new image: libvips' operation cache would only hold memory.
sharp.cache(false);

const SUPPORTED = SUPPORTED_FORMATS;

/** Maps sharp/libvips failures to typed errors; the message keeps libvips' reason, never a path. */
function decodeError(e: unknown, maxPixels: number): Error {
  const message = e instanceof Error ? e.message : String(e);
  if (/unsupported image format/i.test(message)) {
    return new UnsupportedMediaTypeError(`The body is not a supported image (${SUPPORTED}).`);
  }
  if (/pixel limit/i.test(message)) {
    return new PayloadTooLargeError(`The image has more than ${maxPixels.toLocaleString('en')} pixels.`);
  }
  return new UnprocessableImageError(
    `The image could not be decoded: ${message.split('\n')[0] ?? 'corrupt data'}`,
  );
}

/**
 * isSrgbEquivalentProfile() samples three tone curves: 0.4–0.9 ms on the event loop per photo
 * (docs/performance.md, "Decoding: before and after"). Photos share a handful of profiles (most
 * cameras and phones embed the same 3 KB sRGB one), so the answers for the last few are kept.
 */
const MAX_REMEMBERED_PROFILES = 32;
const MAX_REMEMBERED_PROFILE_BYTES = 16 * 1024;
const rememberedProfiles = new Map<string, boolean>();

/**
 * Whether decoding must run the embedded profile through lcms. For an sRGB profile the transform
 * leaves every pixel as it was yet costs about half of prepare() (docs/performance.md, "Embedded sRGB
 * profiles"), and the ImageNet/COCO training pipelines (PIL) ignore ICC profiles anyway. Wide-gamut
 * (Display P3, Adobe RGB), CMYK and unparsable profiles keep the transform so their colours stay right.
 */
function needsIccTransform(icc: Buffer | undefined): boolean {
  if (icc === undefined) return false;
  if (icc.length > MAX_REMEMBERED_PROFILE_BYTES) return !isSrgbEquivalentProfile(icc);
  // Keyed by the profile's bytes themselves, so a hit is the same answer for the same input.
  const key = icc.toString('latin1');
  let srgb = rememberedProfiles.get(key);
  if (srgb === undefined) {
    srgb = isSrgbEquivalentProfile(icc);
    if (rememberedProfiles.size >= MAX_REMEMBERED_PROFILES) {
      rememberedProfiles.delete(rememberedProfiles.keys().next().value as string);
    }
    rememberedProfiles.set(key, srgb);
  }
  return !srgb;
}

/**
 * Decodes untrusted image bytes with sharp: sniffs the real format, applies EXIF orientation,
 * flattens alpha, converts to sRGB and resizes in one libvips pipeline (JPEG shrink-on-load means
 * a 12 MP photo is never fully decoded).
 */
// With VIPS_BLOCK_UNTRUSTED=1 (the image, npm start) libvips refuses its untrusted loaders, SVG
// among them. The annotator's overlay is SVG this file writes itself; user bytes reach sharp only
// after the service checked they are one of the accepted formats (core/image-format.ts).
sharp.unblock({ operation: ['VipsForeignLoadSvgBuffer'] });

export class SharpImageDecoder implements ImageDecoder {
  private readonly maxAspectRatio: number;
  private readonly readJpegHeaders: boolean;

  constructor(private readonly options: SharpDecoderOptions) {
    this.maxAspectRatio = options.maxAspectRatio ?? 50;
    this.readJpegHeaders = options.readJpegHeaders ?? true;
  }

  /** `applyIcc: false` skips the embedded-profile transform (see {@link needsIccTransform}). */
  private input(bytes: Uint8Array, { applyIcc }: { applyIcc: boolean } = { applyIcc: true }) {
    return sharp(bytes, {
      failOn: 'error',
      limitInputPixels: this.options.maxPixels,
      pages: 1,
      ignoreIcc: !applyIcc,
    });
  }

  /**
   * A JPEG whose header ./jpeg-header.ts reads and that no limit refuses, without asking sharp; null
   * sends everything else (other formats, odd headers, refusals and their errors) through metadata().
   */
  private probeJpegHeader(bytes: Uint8Array): ProbedImage | null {
    if (!this.readJpegHeaders) return null;
    const header = readJpegHeader(bytes);
    if (header === null) return null;
    const [width, height] =
      header.orientation >= 5 ? [header.height, header.width] : [header.width, header.height];
    if (width * height > this.options.maxPixels) return null;
    if (Math.max(width, height) / Math.min(width, height) > this.maxAspectRatio) return null;
    return { format: 'jpeg', width, height, applyIcc: needsIccTransform(header.icc) };
  }

  /** Format, oriented size and whether to apply the embedded ICC profile, from the header alone. */
  async probe(bytes: Uint8Array): Promise<ProbedImage> {
    if (bytes.length === 0) throw new InvalidRequestError('The request has no image: the body is empty.');
    const fromHeader = this.probeJpegHeader(bytes);
    if (fromHeader !== null) return fromHeader;
    let meta: sharp.Metadata;
    try {
      meta = await this.input(bytes).metadata();
    } catch (e) {
      throw decodeError(e, this.options.maxPixels);
    }
    let format: string = meta.format;
    if (format === 'heif') {
      if (meta.compression !== 'av1') {
        throw new UnsupportedMediaTypeError(
          `HEIC/HEIF (${meta.compression ?? 'unknown'}) images are not supported; send ${SUPPORTED}.`,
        );
      }
      format = 'avif';
    }
    if (!['jpeg', 'png', 'webp', 'gif', 'avif', 'tiff'].includes(format)) {
      throw new UnsupportedMediaTypeError(
        `${format.toUpperCase()} images are not supported; send ${SUPPORTED}.`,
      );
    }
    const { width, height } = meta.autoOrient;
    if (!(width > 0 && height > 0)) throw new UnprocessableImageError('The image header has no size.');
    if (width * height > this.options.maxPixels) {
      throw new PayloadTooLargeError(
        `The image is ${width}×${height}; the limit is ${this.options.maxPixels.toLocaleString('en')} pixels.`,
      );
    }
    if (Math.max(width, height) / Math.min(width, height) > this.maxAspectRatio) {
      throw new UnprocessableImageError(
        `The image is ${width}×${height}: aspect ratio over ${this.maxAspectRatio}:1.`,
      );
    }
    return { format, width, height, applyIcc: needsIccTransform(meta.icc) };
  }

  async prepare(bytes: Uint8Array, model: Pick<ModelSpec, 'input' | 'preprocess'>): Promise<PreparedImage> {
    const { format, width, height, applyIcc } = await this.probe(bytes);
    const original = { width, height };
    const plan = planResize(original, model.preprocess.resize, model.input);
    let pipeline = this.input(bytes, { applyIcc })
      .autoOrient()
      .flatten({ background: '#ffffff' })
      .resize(plan.resize.width, plan.resize.height, { fit: 'fill', kernel: 'linear' });
    if (plan.mode === 'center-crop') pipeline = pipeline.extract(plan.crop);
    if (plan.mode === 'letterbox') {
      const v = plan.pad.value;
      pipeline = pipeline.extend({ ...plan.pad, background: { r: v, g: v, b: v } });
    }
    let out: { data: Buffer; info: sharp.OutputInfo };
    try {
      out = await pipeline.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw decodeError(e, this.options.maxPixels);
    }
    const { info, data } = out;
    if (info.channels !== 3 || info.width !== model.input.width || info.height !== model.input.height) {
      throw new UnprocessableImageError(
        `The image decoded to an unexpected ${info.width}×${info.height}×${info.channels}.`,
      );
    }
    return {
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      original,
      format,
      plan,
    };
  }

  async annotate(bytes: Uint8Array, detections: readonly Detection[]): Promise<Uint8Array> {
    const probed = await this.probe(bytes);
    // Boxes are drawn on the scaled photo: sharp resizes before it composites.
    const scale = Math.min(
      1,
      (this.options.annotatedMaxSide ?? Infinity) / Math.max(probed.width, probed.height),
    );
    const width = Math.max(1, Math.round(probed.width * scale));
    const height = Math.max(1, Math.round(probed.height * scale));
    const { applyIcc } = probed;
    const stroke = Math.max(2, Math.round(Math.max(width, height) / 300));
    const font = Math.max(12, stroke * 6);
    const esc = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const palette = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];
    const shapes = detections.map((d) => {
      const [x1, y1, x2, y2] = [d.box.x1, d.box.y1, d.box.x2, d.box.y2].map((v) => Math.round(v * scale)) as [
        number,
        number,
        number,
        number,
      ];
      const colour = palette[d.classId % palette.length] ?? '#e6194b';
      const text = `${esc(d.label)} ${Math.round(d.score * 100)}%`;
      const ty = y1 > font + 4 ? y1 - 4 : y1 + font + 2;
      return (
        `<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>` +
        `<text x="${x1 + 2}" y="${ty}" font-family="sans-serif" font-size="${font}" fill="${colour}" stroke="#000" stroke-width="0.5">${text}</text>`
      );
    });
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
    try {
      return await this.input(bytes, { applyIcc })
        .autoOrient()
        .flatten({ background: '#ffffff' })
        .resize(width, height, { fit: 'fill' })
        .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
        .jpeg({ quality: 85 })
        .toBuffer();
    } catch (e) {
      throw decodeError(e, this.options.maxPixels);
    }
  }
}
