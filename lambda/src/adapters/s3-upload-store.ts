import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { randomUUID } from 'node:crypto';
import {
  InvalidRequestError,
  PayloadTooLargeError,
  SourceNotAllowedError,
  UnsupportedMediaTypeError,
} from '../core/errors';
import type { SourceReadOptions, UploadReference, UploadStore, UploadTicket } from '../core/ports';
import type { UploadConfig } from './config';
import { createObjectReaderS3Client, S3ObjectReader } from './s3-object-reader';

/** The photo types an upload may be, with the extension its key gets: what the decoder reads. */
export const UPLOAD_CONTENT_TYPES: Readonly<Record<string, string>> = {
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/webp': '.webp',
  'image/gif': '.gif',
  'image/avif': '.avif',
  'image/tiff': '.tiff',
};

/**
 * Longest key read() accepts, in UTF-8 bytes. The keys createUpload hands out are about 60 bytes
 * (prefix, date, UUID, extension); S3 itself allows 1,024.
 */
export const MAX_UPLOAD_KEY_BYTES = 512;

/** Headers the presigned PUT's signature covers besides Host: the client cannot change them. */
const SIGNED_HEADERS = ['content-length', 'content-type'] as const;

export interface S3UploadStoreOptions {
  /** Connect excluded: how long S3 may take to answer a request's headers, and the body's idle timeout (SOURCE_TIMEOUT_MS). */
  timeoutMs: number;
  /** How long a TCP (and TLS) connect may take (S3_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
  /**
   * Default: createUploadS3Client(config, …). A client given here must not add flexible checksums
   * to requests (`requestChecksumCalculation: 'WHEN_REQUIRED'`): createUpload refuses to hand out
   * a URL that carries the checksum of an empty body, which S3 would answer with BadDigest.
   */
  client?: S3Client;
}

/**
 * The S3 client the upload store uses: the upload endpoint (path-style for an S3-compatible
 * server), one attempt per request, a connect timeout and a timeout on the answer's headers, no
 * flexible checksums (see createObjectReaderS3Client).
 */
export function createUploadS3Client(
  config: Pick<UploadConfig, 'endpoint'>,
  timeouts: { timeoutMs: number; connectTimeoutMs: number },
): S3Client {
  return createObjectReaderS3Client(config.endpoint, timeouts);
}

/**
 * The upload area in S3 (POST /uploads, then {"s3": {"key"}}): presigns PUTs of one photo each
 * into `bucket/prefix/yyyy-mm-dd/<uuid>.<ext>`, with its Content-Type and Content-Length bound
 * into the signature, and reads back only keys under the prefix of that bucket. A reference to
 * another bucket or key is refused (SOURCE_NOT_ALLOWED) before any request to S3. Reads are bounded
 * like a body, by the one bounded object read (S3ObjectReader): the size from HEAD is checked
 * before the body is read, the stream is cut past it, and S3 has `timeoutMs` to answer and then to
 * send each next chunk.
 */
export class S3UploadStore implements UploadStore {
  private readonly client: S3Client;
  private readonly reader: S3ObjectReader;
  private readonly keyPrefix: string;

  constructor(
    private readonly config: UploadConfig,
    options: S3UploadStoreOptions,
  ) {
    this.client = options.client ?? createUploadS3Client(config, options);
    this.reader = new S3ObjectReader(this.client, {
      timeoutMs: options.timeoutMs,
      noun: 'upload',
      notFound:
        'No upload has this key: it was never uploaded, or it has expired (uploads are deleted after a day).',
    });
    this.keyPrefix = config.prefix ? `${config.prefix}/` : '';
  }

  async createUpload(request: { contentType: string; size: number }): Promise<UploadTicket> {
    const contentType =
      typeof request.contentType === 'string' ? request.contentType.trim().toLowerCase() : '';
    const extension = UPLOAD_CONTENT_TYPES[contentType];
    if (!extension) {
      throw new UnsupportedMediaTypeError(
        `An upload must be a photo of one of these types: ${Object.keys(UPLOAD_CONTENT_TYPES).join(', ')}.`,
      );
    }
    const { size } = request;
    const { maxBytes } = this.config;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) {
      throw new InvalidRequestError(
        `size must be the photo's length in bytes: a whole number from 1 to ${maxBytes}.`,
      );
    }
    if (size > maxBytes) {
      throw new PayloadTooLargeError(
        `The photo is ${size} bytes; an upload may be at most ${maxBytes} bytes.`,
      );
    }

    const key = `${this.keyPrefix}${new Date().toISOString().slice(0, 10)}/${randomUUID()}${extension}`;
    const url = await getSignedUrl(
      this.client,
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: key,
        ContentType: contentType,
        ContentLength: size,
      }),
      { expiresIn: this.config.urlTtlSeconds, signableHeaders: new Set(SIGNED_HEADERS) },
    );
    const expiresAt = await this.expiryOf(url);
    return {
      url,
      method: 'PUT',
      headers: { 'Content-Type': contentType, 'Content-Length': String(size) },
      expiresAt: expiresAt.toISOString(),
      s3: { bucket: this.config.bucket, key },
      maxBytes,
    };
  }

  async read(ref: UploadReference, options: SourceReadOptions): Promise<Buffer> {
    const key = this.allowedKey(ref);
    if (!(options.maxBytes >= 1))
      throw new Error(`read() needs a byte limit of at least 1, got ${options.maxBytes}`);
    const limit = Math.min(options.maxBytes, this.config.maxBytes);
    return this.reader.read(this.config.bucket, key, limit, options.signal);
  }

  /**
   * The key of a reference to an upload, or SOURCE_NOT_ALLOWED: another bucket, a key outside the
   * prefix, or a key that is not one createUpload could have handed out. Nothing is sent to S3.
   */
  private allowedKey(ref: unknown): string {
    // The reference comes from a request body: its shape is checked here too.
    if (typeof ref !== 'object' || ref === null) {
      throw new InvalidRequestError('s3 must be an object with the "key" POST /uploads answered.');
    }
    const { bucket, key } = ref as { bucket?: unknown; key?: unknown };
    if (bucket !== undefined && bucket !== this.config.bucket) {
      throw new SourceNotAllowedError(
        'Only photos uploaded through POST /uploads can be read: s3.bucket must be the bucket it answered, or left out.',
        'bucket',
      );
    }
    if (typeof key !== 'string' || key === '') {
      throw new InvalidRequestError('s3.key must be the key POST /uploads answered.');
    }
    if (
      Buffer.byteLength(key) > MAX_UPLOAD_KEY_BYTES ||
      !key.startsWith(this.keyPrefix) ||
      key.length === this.keyPrefix.length ||
      key.startsWith('/') ||
      key.endsWith('/') ||
      key.includes('..') ||
      key.includes('//') ||
      /[\p{Cc}\p{Cs}]/u.test(key)
    ) {
      throw new SourceNotAllowedError(
        'Only keys that POST /uploads answered can be read: this one is outside the upload area, or not a key it hands out.',
        'key',
      );
    }
    return key;
  }

  /** When the presigned URL stops working: its X-Amz-Date plus X-Amz-Expires, or sooner if the signing credentials expire first. */
  private async expiryOf(url: string): Promise<Date> {
    const query = new URL(url).searchParams;
    const signed = (query.get('X-Amz-SignedHeaders') ?? '').split(';');
    const missing = SIGNED_HEADERS.filter((h) => !signed.includes(h));
    // Guards against an SDK change or a client built differently: either would hand out URLs that
    // accept any size or type, or that S3 refuses.
    if (missing.length > 0) throw new Error(`the presigned upload URL does not sign ${missing.join(', ')}`);
    if ([...query.keys()].some((k) => /^x-amz-(checksum-|sdk-checksum-algorithm)/i.test(k))) {
      throw new Error(
        "the presigned upload URL carries a checksum of an empty body: build the S3 client with requestChecksumCalculation: 'WHEN_REQUIRED'",
      );
    }
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(query.get('X-Amz-Date') ?? '');
    const seconds = Number(query.get('X-Amz-Expires'));
    if (!m || !Number.isInteger(seconds))
      throw new Error('the presigned upload URL has no X-Amz-Date or X-Amz-Expires');
    const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
    let expiry = Date.UTC(y, mo - 1, d, h, mi, s) + seconds * 1000;
    const credentials = await this.client.config.credentials();
    if (credentials.expiration) expiry = Math.min(expiry, credentials.expiration.getTime());
    return new Date(expiry);
  }
}
