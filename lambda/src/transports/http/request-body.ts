import { Busboy } from '@fastify/busboy';
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../core/errors';

export interface ImageRequest {
  image: Buffer;
  /** Options found in the body (JSON fields, form fields); the query string adds to them. */
  fields: Record<string, unknown>;
}

const IMAGE_TYPES = /^(image\/[\w.+-]+|application\/octet-stream)$/;
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

function parseJson(body: Buffer, maxImageBytes: number): ImageRequest {
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
  if (!('image' in fields))
    throw new InvalidRequestError(`The JSON body needs an "image" field (base64 or data: URL).`);
  const { image, ...rest } = fields;
  return { image: decodeBase64Image(image, 'image', maxImageBytes), fields: rest };
}

/** What a form may hold: one file and a few short option fields (so parts = files + fields). */
export const MULTIPART_LIMITS = { files: 1, fields: 20, fieldSize: 1024, parts: 21 } as const;

/**
 * Reads a multipart/form-data body with exactly one file. Every limit (files, fields, field size,
 * parts, file size) answers as soon as it is passed: busboy stops feeding a part it skips, so
 * waiting for its 'finish' after a limit would hold the request until it times out.
 */
function parseMultipart(body: Buffer, contentType: string, maxImageBytes: number): Promise<ImageRequest> {
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
        limits: { ...MULTIPART_LIMITS, fileSize: maxImageBytes + 1 },
      });
    } catch (e) {
      fail(new InvalidRequestError(`Malformed multipart request: ${(e as Error).message}.`));
      return;
    }
    const files: Buffer[] = [];
    const fields: Record<string, unknown> = {};
    bb.on('file', (_name, stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
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
            `Form field '${name}' is longer than ${MULTIPART_LIMITS.fieldSize} bytes; options are short values.`,
          ),
        );
        return;
      }
      fields[name] = value;
    });
    bb.on('filesLimit', () => {
      fail(new InvalidRequestError('Send exactly one file per request.'));
    });
    bb.on('fieldsLimit', () => {
      fail(new InvalidRequestError(`The form has more than ${MULTIPART_LIMITS.fields} fields.`));
    });
    bb.on('partsLimit', () => {
      fail(new InvalidRequestError(`The form has more than ${MULTIPART_LIMITS.parts} parts.`));
    });
    bb.on('error', (e: Error) => {
      fail(new InvalidRequestError(`Malformed multipart request: ${e.message}.`));
    });
    bb.on('finish', () => {
      if (settled) return;
      if (files.length !== 1) {
        fail(
          new InvalidRequestError(
            files.length === 0
              ? 'The form has no file: send the photo in a file field, e.g. curl -F image=@photo.jpg.'
              : 'Send exactly one file per request.',
          ),
        );
        return;
      }
      settled = true;
      resolve({ image: files[0] as Buffer, fields });
    });
    bb.end(body);
  });
}

/**
 * Finds the image and body options in any of the accepted request shapes: raw image bytes,
 * JSON {"image": base64 | data URL, ...options}, or multipart/form-data with one file.
 */
export async function readImageRequest(
  body: Buffer,
  contentType: string | undefined,
  maxImageBytes: number,
): Promise<ImageRequest> {
  const type = mediaType(contentType);
  if (body.length === 0) {
    throw new InvalidRequestError(
      'The request has no image: the body is empty. Send the photo bytes, a form or JSON.',
    );
  }
  if (type === 'application/json' || (type === '' && body[0] === 0x7b) /* { */)
    return parseJson(body, maxImageBytes);
  if (type === 'multipart/form-data') return parseMultipart(body, contentType ?? '', maxImageBytes);
  if (type === '' || IMAGE_TYPES.test(type)) {
    if (body.length > maxImageBytes) throw tooLarge(maxImageBytes);
    return { image: body, fields: {} };
  }
  throw new UnsupportedMediaTypeError(
    `Content-Type '${type}' is not supported: send image/* bytes, multipart/form-data or application/json.`,
  );
}
