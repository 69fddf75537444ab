import { Busboy } from '@fastify/busboy';
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../core/errors';
import { sniffImageFormat } from '../../core/image-format';
import type { ImageSource } from '../../core/image-source';

export interface ImageRequest {
  /** The request's images, in order: one, or several for a batch. */
  images: ImageSource[];
  /** The client sent a list (`images` in JSON, or several files): the answer is `{results: [...]}`. */
  batch: boolean;
  /** Options found in the body (JSON fields, form fields); the query string adds to them. */
  fields: Record<string, unknown>;
}

/** Limits of one request body. */
export interface BodyLimits {
  /** The bytes all the body's images may take together (MAX_IMAGE_BYTES). */
  maxImageBytes: number;
  /** The most images one request may carry (MAX_BATCH_IMAGES). */
  maxImages: number;
}

/** The keys a JSON body may give an image under; exactly one per image. */
const SOURCE_KEYS = ['image', 's3', 'url'] as const;

const IMAGE_TYPES = /^(image\/[\w.+-]+|application\/octet-stream)$/;
/**
 * What curl's --data-binary and -d call a body unless told otherwise (`curl --data-binary @dog.jpg
 * URL`). No route takes a URL-encoded form, so such a body is read by its bytes: a photo, or JSON.
 */
const CURL_DEFAULT_TYPE = 'application/x-www-form-urlencoded';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function tooLarge(maxImageBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The image is larger than the ${(maxImageBytes / 1e6).toFixed(1)} MB limit (${maxImageBytes} bytes). Downscale it or send a JPEG.`,
  );
}

/** Accepts plain base64 or a data: URL; rejects anything else with a precise message. */
export function decodeBase64Image(value: unknown, field: string, maxImageBytes: number): Buffer {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidRequestError(`'${field}' must be a non-empty base64 string or data: URL.`);
  }
  let payload = value;
  const dataUrl = /^data:([^;,]*)(;base64)?,/.exec(value);
  if (dataUrl) {
    if (!dataUrl[2]) throw new InvalidRequestError(`'${field}' data: URL must be base64-encoded (;base64,).`);
    payload = value.slice(dataUrl[0].length);
  }
  // The decoded size is known before decoding: refuse giant strings without allocating them.
  if (Math.floor((payload.length * 3) / 4) > maxImageBytes + 3) throw tooLarge(maxImageBytes);
  const compact = payload.replace(/\s+/g, '');
  if (compact.length % 4 === 1 || !BASE64.test(compact)) {
    throw new InvalidRequestError(`'${field}' is not valid base64.`);
  }
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.length > maxImageBytes) throw tooLarge(maxImageBytes);
  return bytes;
}

function parseS3Reference(value: unknown, where: string): ImageSource {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError(
      `'${where}' must be an object like {"key": "uploads/…"} (from POST /uploads).`,
    );
  }
  const { key, bucket, ...extra } = value as Record<string, unknown>;
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new InvalidRequestError(`'${where}.key' must be the key POST /uploads answered.`);
  }
  if (bucket !== undefined && (typeof bucket !== 'string' || bucket.length === 0)) {
    throw new InvalidRequestError(`'${where}.bucket' must be a bucket name when given.`);
  }
  const unknown = Object.keys(extra);
  if (unknown.length > 0)
    throw new InvalidRequestError(`'${where}' has unknown fields: ${unknown.join(', ')}.`);
  return { kind: 's3', ref: bucket === undefined ? { key } : { key, bucket: bucket } };
}

/**
 * One image of a JSON body: {"image": base64 | data URL} | {"s3": {"key"}} | {"url": "https://…"}.
 * `budget` is what the body's images may still take; the decoded bytes are taken from it.
 */
function parseJsonImage(
  item: Record<string, unknown>,
  where: string,
  budget: { left: number; limit: number },
): ImageSource {
  const given = SOURCE_KEYS.filter((k) => k in item);
  if (given.length !== 1) {
    throw new InvalidRequestError(
      given.length === 0
        ? `${where} needs one of "image" (base64 or data: URL), "s3" ({"key"} from POST /uploads) or "url".`
        : `${where} has ${given.join(' and ')}: give exactly one of them.`,
    );
  }
  const key = given[0] as (typeof SOURCE_KEYS)[number];
  const label = where === 'The JSON body' ? key : `${where}.${key}`;
  if (key === 's3') return parseS3Reference(item.s3, label);
  if (key === 'url') {
    if (typeof item.url !== 'string' || item.url.length === 0 || item.url.length > 2048) {
      throw new InvalidRequestError(`'${label}' must be an https:// URL of at most 2048 characters.`);
    }
    return { kind: 'url', url: item.url };
  }
  const bytes = decodeBase64Image(item.image, label, budget.left);
  budget.left -= bytes.length;
  return { kind: 'bytes', bytes };
}

function parseJson(body: Buffer, limits: BodyLimits): ImageRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidRequestError('The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError('The JSON body must be an object like {"image": "<base64>"}.');
  }
  const fields = parsed as Record<string, unknown>;
  const budget = { left: limits.maxImageBytes, limit: limits.maxImageBytes };
  if ('images' in fields) {
    const { images, ...rest } = fields;
    const stray = SOURCE_KEYS.filter((k) => k in rest);
    if (stray.length > 0) {
      throw new InvalidRequestError(
        `Give either "images" or ${stray.map((k) => `"${k}"`).join(', ')}, not both.`,
      );
    }
    if (!Array.isArray(images) || images.length === 0) {
      throw new InvalidRequestError(
        '"images" must be a non-empty array like [{"image": "<base64>"}, {"url": "…"}].',
      );
    }
    if (images.length > limits.maxImages) {
      throw new InvalidRequestError(
        `"images" has ${images.length} entries; at most ${limits.maxImages} per request.`,
      );
    }
    const sources = images.map((item: unknown, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        throw new InvalidRequestError(`images[${i}] must be an object like {"image": "<base64>"}.`);
      }
      return parseJsonImage(item as Record<string, unknown>, `images[${i}]`, budget);
    });
    return { images: sources, batch: true, fields: rest };
  }
  const image = parseJsonImage(fields, 'The JSON body', budget);
  const rest = Object.fromEntries(
    Object.entries(fields).filter(([k]) => !(SOURCE_KEYS as readonly string[]).includes(k)),
  );
  return { images: [image], batch: false, fields: rest };
}

/** What a form may hold besides its files: a few short option fields. */
export const MULTIPART_FIELD_LIMITS = { fields: 20, fieldSize: 1024 } as const;

/** A form's limits: `maxFiles` files and the option fields (so parts = files + fields). */
export function multipartLimits(maxFiles: number) {
  return { ...MULTIPART_FIELD_LIMITS, files: maxFiles, parts: maxFiles + MULTIPART_FIELD_LIMITS.fields };
}

/**
 * Reads a multipart/form-data body with one file, or several for a batch. Every limit (files,
 * fields, field size, parts, bytes) answers as soon as it is passed: busboy stops feeding a part it
 * skips, so waiting for its 'finish' after a limit would hold the request until it times out.
 */
function parseMultipart(body: Buffer, contentType: string, bodyLimits: BodyLimits): Promise<ImageRequest> {
  const maxImageBytes = bodyLimits.maxImageBytes;
  const limits = multipartLimits(bodyLimits.maxImages);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    let bb: InstanceType<typeof Busboy>;
    try {
      bb = new Busboy({
        headers: { 'content-type': contentType },
        limits: { ...limits, fileSize: maxImageBytes + 1 },
      });
    } catch (e) {
      fail(new InvalidRequestError(`Malformed multipart request: ${(e as Error).message}.`));
      return;
    }
    const files: Buffer[] = [];
    const fields: Record<string, unknown> = {};
    // All the form's files together stay within the body's byte limit.
    let bytesLeft = maxImageBytes;
    bb.on('file', (_name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        bytesLeft -= c.length;
        if (bytesLeft < 0) {
          fail(tooLarge(maxImageBytes));
          return;
        }
        chunks.push(c);
      });
      stream.on('limit', () => {
        fail(tooLarge(maxImageBytes));
      });
      // A body cut inside a file part errors the part's stream: that is a bad request, not a crash.
      stream.on('error', (e: Error) => {
        fail(new InvalidRequestError(`Malformed multipart request: ${e.message}.`));
      });
      stream.on('end', () => files.push(Buffer.concat(chunks)));
    });
    bb.on('field', (name, value, nameTruncated, valueTruncated) => {
      if (nameTruncated || valueTruncated) {
        fail(
          new InvalidRequestError(
            `Form field '${name}' is longer than ${limits.fieldSize} bytes; options are short values.`,
          ),
        );
        return;
      }
      fields[name] = value;
    });
    bb.on('filesLimit', () => {
      fail(
        new InvalidRequestError(
          `The form has more than ${limits.files} files; at most ${limits.files} per request.`,
        ),
      );
    });
    bb.on('fieldsLimit', () => {
      fail(new InvalidRequestError(`The form has more than ${limits.fields} fields.`));
    });
    bb.on('partsLimit', () => {
      fail(new InvalidRequestError(`The form has more than ${limits.parts} parts.`));
    });
    bb.on('error', (e: Error) => {
      fail(new InvalidRequestError(`Malformed multipart request: ${e.message}.`));
    });
    bb.on('finish', () => {
      if (settled) return;
      if (files.length === 0) {
        fail(
          new InvalidRequestError(
            'The form has no file: send the photo in a file field, e.g. curl -F image=@photo.jpg.',
          ),
        );
        return;
      }
      settled = true;
      resolve({
        images: files.map((bytes) => ({ kind: 'bytes', bytes })),
        batch: files.length > 1,
        fields,
      });
    });
    bb.end(body);
  });
}

/**
 * Finds the images and body options in any of the accepted request shapes: raw image bytes; JSON
 * {"image": base64 | data URL} | {"s3": {"key"}} | {"url"} | {"images": [those]}, with options;
 * or multipart/form-data with one file or several.
 */
export async function readImageRequest(
  body: Buffer,
  contentType: string | undefined,
  limits: BodyLimits,
): Promise<ImageRequest> {
  const { maxImageBytes } = limits;
  const type = mediaType(contentType);
  if (body.length === 0) {
    throw new InvalidRequestError(
      'The request has no image: the body is empty. Send the photo bytes, a form or JSON.',
    );
  }
  const untyped = type === '' || type === CURL_DEFAULT_TYPE;
  if (type === 'application/json' || (untyped && body[0] === 0x7b) /* { */) return parseJson(body, limits);
  if (type === 'multipart/form-data') return parseMultipart(body, contentType ?? '', limits);
  if (type === '' || IMAGE_TYPES.test(type) || (type === CURL_DEFAULT_TYPE && sniffImageFormat(body))) {
    if (body.length > maxImageBytes) throw tooLarge(maxImageBytes);
    return { images: [{ kind: 'bytes', bytes: body }], batch: false, fields: {} };
  }
  if (type === CURL_DEFAULT_TYPE) {
    throw new UnsupportedMediaTypeError(
      `The body is labelled '${CURL_DEFAULT_TYPE}' (what curl --data-binary sends by default) but is neither an image nor JSON: send the photo's bytes, or add -H 'Content-Type: image/jpeg'.`,
    );
  }
  throw new UnsupportedMediaTypeError(
    `Content-Type '${type}' is not supported: send image/* bytes, multipart/form-data or application/json.`,
  );
}

/** POST /uploads: `{"contentType": "image/jpeg", "size": 12345678}`, the photo the client will PUT. */
export function readUploadRequest(
  body: Buffer,
  contentType: string | undefined,
): { contentType: string; size: number } {
  const type = mediaType(contentType);
  if (type !== 'application/json' && !(type === '' && body[0] === 0x7b)) {
    throw new UnsupportedMediaTypeError(
      'POST /uploads takes JSON like {"contentType": "image/jpeg", "size": 12345678}.',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidRequestError('The body is not valid JSON.');
  }
  const { contentType: photoType, size } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof photoType !== 'string' || photoType.length === 0) {
    throw new InvalidRequestError('"contentType" must be the photo\'s MIME type, e.g. image/jpeg.');
  }
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
    throw new InvalidRequestError('"size" must be the photo\'s size in bytes (a positive integer).');
  }
  return { contentType: photoType.toLowerCase(), size };
}
