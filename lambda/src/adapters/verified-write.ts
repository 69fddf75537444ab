import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
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
 * The one way files are written here: `write` fills a temporary name beside `dest` (created
 * folder included), and only a complete file is renamed to `dest`; on any failure the temporary
 * file is removed and `dest` is untouched. Readers never see a half-written file.
 */
export async function replaceAtomically<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const result = await write(tmp);
    await rename(tmp, dest);
    return result;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Writes bytes, a string or a list of byte ranges (in order) to `dest` through replaceAtomically. */
export function writeAtomically(
  dest: string,
  data: string | Uint8Array | readonly Uint8Array[],
): Promise<void> {
  return replaceAtomically(dest, async (tmp) => {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await writeFile(tmp, data);
      return;
    }
    const handle = await open(tmp, 'w');
    try {
      for (const p of data) {
        for (let off = 0; off < p.length;) off += (await handle.write(p, off, p.length - off)).bytesWritten;
      }
    } finally {
      await handle.close();
    }
  });
}

/** Model downloads give up after this long without a byte (DOWNLOAD_IDLE_TIMEOUT_MS). */
export const DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS = 10_000;

/** A transfer that sent nothing for its idle timeout: the connection is open but dead. */
export class StalledTransferError extends Error {
  override name = 'StalledTransferError';
  constructor(readonly idleTimeoutMs: number) {
    super(`no bytes arrived for ${idleTimeoutMs} ms: the transfer stalled and was abandoned`);
  }
}

export interface WriteVerifiedOptions {
  onBytes?: (n: number) => void;
  expectedBytes?: number | null;
  /** Destroys the source with StalledTransferError when it sends nothing for this long. */
  idleTimeoutMs?: number;
}

/**
 * Streams into a temporary name beside the destination, hashing on the way, and renames only a
 * complete, verified file: a crash, a cut connection or a stall never leaves a partial file under
 * the final name.
 */
export async function writeVerified(
  source: Readable,
  dest: string,
  expectedSha256: string | null,
  { onBytes, expectedBytes, idleTimeoutMs }: WriteVerifiedOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  // The source may fail while the folder is created (a connection dropped after the headers):
  // hold that error for the caller instead of letting it crash the process as unhandled.
  const held: { error?: Error } = {};
  const holdEarlyError = (e: Error) => {
    held.error = e;
  };
  source.once('error', holdEarlyError);
  let idle: NodeJS.Timeout | undefined;
  const kick = () => {
    if (!idleTimeoutMs) return;
    clearTimeout(idle);
    idle = setTimeout(() => {
      source.destroy(new StalledTransferError(idleTimeoutMs));
    }, idleTimeoutMs);
  };
  kick();
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      kick();
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  return replaceAtomically(dest, async (tmp) => {
    source.off('error', holdEarlyError);
    if (held.error) throw held.error;
    await pipeline(source, tap, createWriteStream(tmp));
    clearTimeout(idle);
    const sha256 = hash.digest('hex');
    if (expectedBytes != null && bytes !== expectedBytes) {
      throw new ShortTransferError(`short transfer: ${bytes} of ${expectedBytes} bytes`);
    }
    if (expectedSha256 && sha256 !== expectedSha256)
      throw new ChecksumMismatchError(dest, expectedSha256, sha256);
    return { sha256, bytes };
  }).finally(() => {
    clearTimeout(idle);
  });
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
