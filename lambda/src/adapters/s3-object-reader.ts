import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import {
  PayloadTooLargeError,
  RecognitionError,
  SourceNotFoundError,
  SourceTimeoutError,
  SourceUnreadableError,
} from '../core/errors';

/**
 * The S3 client an object reader (and the upload store's presigner) uses: the given endpoint
 * (path-style for an S3-compatible server), one attempt per request (the caller's own timeout
 * bounds the whole read), a connect timeout and a timeout on the answer's headers.
 *
 * No flexible checksums: on a presigned PUT the SDK would otherwise sign the CRC32 of the empty
 * body it presigns (`x-amz-checksum-crc32=AAAAAA==`), and S3 would refuse every real upload. On
 * reads, the body's length is checked against HEAD and the GET; TLS covers the bytes in transit.
 */
export function createObjectReaderS3Client(
  endpoint: string | null,
  timeouts: { timeoutMs: number; connectTimeoutMs: number },
): S3Client {
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: timeouts.connectTimeoutMs,
      requestTimeout: timeouts.timeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}

export interface S3ObjectReaderOptions {
  /** Connect excluded: how long S3 may take to answer a request's headers, and the body's idle timeout (SOURCE_TIMEOUT_MS). */
  timeoutMs: number;
  /** What the messages call the object ("upload", "object"): they never name its bucket or key. */
  noun: string;
  /** The message of a key with no object (SOURCE_NOT_FOUND). */
  notFound: string;
}

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * The one bounded read of an S3 object, for every caller that reads photos from S3 (the upload
 * area, the bulk input bucket): HEAD first, and the size it announces checked against the limit
 * before any body is read (PAYLOAD_TOO_LARGE), an empty object refused; then a GET of that very
 * object (If-Match its ETag), its stream cut past the announced length, abandoned when S3 sends
 * nothing for `timeoutMs` (SOURCE_TIMEOUT), refused when it ends short (SOURCE_UNREADABLE). The
 * caller's signal stops it at once, with the signal's reason. Which buckets and keys may be read is
 * the caller's rule, checked before it calls this.
 *
 * IAM: s3:GetObject on the objects (HeadObject needs no other action).
 */
export class S3ObjectReader {
  constructor(
    private readonly client: S3Client,
    private readonly options: S3ObjectReaderOptions,
  ) {}

  async read(bucket: string, key: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    if (!(maxBytes >= 1)) throw new Error(`read() needs a byte limit of at least 1, got ${maxBytes}`);
    const { noun } = this.options;
    if (signal?.aborted) throw signal.reason as Error;

    const head = await this.send(signal, () =>
      this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
    );
    const announced = head.ContentLength;
    if (announced === undefined || !Number.isSafeInteger(announced) || announced < 0) {
      throw new SourceUnreadableError(`S3 did not say how large the ${noun} is.`);
    }
    if (announced > maxBytes) {
      throw new PayloadTooLargeError(
        `The ${noun} is ${announced} bytes; at most ${maxBytes} bytes can be read.`,
      );
    }
    if (announced === 0) throw new SourceUnreadableError(`The ${noun} is empty.`);

    // IfMatch: the object HEAD measured, not one put in its place since.
    const get = await this.send(signal, () =>
      this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: head.ETag }), {
        abortSignal: signal,
      }),
    );
    const body = get.Body as Readable | undefined;
    if (!body) throw new SourceUnreadableError(`S3 answered without the ${noun}.`);
    if (get.ContentLength !== undefined && get.ContentLength !== announced) {
      body.destroy();
      throw new SourceUnreadableError(`The ${noun} changed while it was being read.`);
    }
    return this.readBody(body, announced, maxBytes, signal);
  }

  /** An S3 call, its failure as the error a client sees (the signal's reason once it aborted). */
  private async send<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (signal?.aborted) throw signal.reason as Error;
      throw this.failure(e);
    }
  }

  private failure(e: unknown): Error {
    if (e instanceof RecognitionError) return e;
    const { noun } = this.options;
    const err = (e ?? {}) as SdkError;
    const status = err.$metadata?.httpStatusCode;
    if (err.name === 'NotFound' || err.name === 'NoSuchKey' || status === 404) {
      return new SourceNotFoundError(this.options.notFound);
    }
    if (err.name === 'TimeoutError' || err.code === 'ETIMEDOUT') {
      return new SourceTimeoutError(
        `S3 did not answer within ${this.options.timeoutMs} ms.`,
        {},
        { cause: e },
      );
    }
    if (status === 412) {
      return new SourceUnreadableError(`The ${noun} changed while it was being read.`, {}, { cause: e });
    }
    if (status === 403) {
      return new SourceUnreadableError(`S3 refused to read the ${noun} (access denied).`, {}, { cause: e });
    }
    return new SourceUnreadableError(
      status ? `S3 answered ${status} when reading the ${noun}.` : `The ${noun} could not be read from S3.`,
      {},
      { cause: e },
    );
  }

  /**
   * The whole body, `expected` bytes long, into one buffer of that size; cut past the limit,
   * abandoned after `timeoutMs` without a byte, and refused if it ends short.
   */
  private async readBody(
    body: Readable,
    expected: number,
    limit: number,
    signal: AbortSignal | undefined,
  ): Promise<Buffer> {
    const { timeoutMs, noun } = this.options;
    const out = Buffer.allocUnsafe(expected);
    let received = 0;
    const state: { stalled: boolean } = { stalled: false };
    let idle: NodeJS.Timeout | undefined;
    const kick = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        state.stalled = true;
        body.destroy(new Error(`no bytes for ${timeoutMs} ms`));
      }, timeoutMs);
    };
    const onAbort = () => {
      body.destroy(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    kick();
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        kick();
        if (received + chunk.length > expected) {
          if (received + chunk.length > limit) {
            throw new PayloadTooLargeError(`The ${noun} is larger than the ${limit} bytes that can be read.`);
          }
          throw new SourceUnreadableError(`S3 sent more bytes than the ${noun} is long.`);
        }
        chunk.copy(out, received);
        received += chunk.length;
      }
    } catch (e) {
      if (signal?.aborted) throw signal.reason as Error;
      if (state.stalled) {
        throw new SourceTimeoutError(
          `S3 stopped sending the ${noun}: nothing for ${timeoutMs} ms after ${received} of ${expected} bytes.`,
        );
      }
      if (e instanceof RecognitionError) throw e;
      if ((e as SdkError).name === 'TimeoutError') throw this.failure(e);
      throw new SourceUnreadableError(
        `The ${noun} could not be read whole: it ended after ${received} of ${expected} bytes.`,
        {},
        { cause: e },
      );
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      if (!body.destroyed && received !== expected) body.destroy();
    }
    if (received !== expected) {
      throw new SourceUnreadableError(
        `The ${noun} could not be read whole: it ended after ${received} of ${expected} bytes.`,
      );
    }
    return out;
  }
}
