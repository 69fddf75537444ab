import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';

export class ChecksumMismatchError extends Error {
  override name = 'ChecksumMismatchError';
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`sha256 of ${path.basename(file)} is ${actual}, expected ${expected}`);
  }
}

/**
 * Streams into a temporary name beside the destination, hashing on the way, and renames only a
 * complete, verified file: a crash or a cut connection never leaves a partial file under the
 * final name.
 */
export async function writeVerified(
  source: Readable,
  dest: string,
  expectedSha256: string | null,
  onBytes?: (n: number) => void,
  expectedBytes?: number | null,
): Promise<{ sha256: string; bytes: number }> {
  // The source may fail while the folder is created (a connection dropped after the headers):
  // hold that error for the caller instead of letting it crash the process as unhandled.
  const held: { error?: Error } = {};
  const holdEarlyError = (e: Error) => {
    held.error = e;
  };
  source.once('error', holdEarlyError);
  await mkdir(path.dirname(dest), { recursive: true });
  source.off('error', holdEarlyError);
  if (held.error) throw held.error;
  const tmp = `${dest}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, tap, createWriteStream(tmp));
    const sha256 = hash.digest('hex');
    if (expectedBytes != null && bytes !== expectedBytes) {
      throw new ShortTransferError(`short transfer: ${bytes} of ${expectedBytes} bytes`);
    }
    if (expectedSha256 && sha256 !== expectedSha256)
      throw new ChecksumMismatchError(dest, expectedSha256, sha256);
    await rename(tmp, dest);
    return { sha256, bytes };
  } finally {
    await rm(tmp, { force: true });
  }
}

export class ShortTransferError extends Error {
  override name = 'ShortTransferError';
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retries transient failures with exponential backoff; `isFatal` errors are thrown at once. */
export async function withRetries<T>(
  attempts: number,
  baseDelayMs: number,
  job: (attempt: number) => Promise<T>,
  isFatal: (e: unknown) => boolean,
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await job(attempt);
    } catch (e) {
      if (attempt >= attempts || isFatal(e)) throw e;
      const delay = baseDelayMs * 2 ** (attempt - 1);
      onRetry?.(e, attempt, delay);
      await sleep(delay);
    }
  }
}
