/**
 * The folder run's engine: files in, one batch item per file out, in order. Files go to the
 * service's batched path (`recognizeBatch`) in chunks; while one chunk runs, the next chunk's files
 * are read and its batch started, so its decodes (libuv's threads) overlap the other's model runs
 * and the model never waits for the disk. The bytes read but not yet answered stay within a budget,
 * so a folder of huge files cannot fill memory.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  InternalError,
  PayloadTooLargeError,
  RecognitionError,
  SourceNotFoundError,
  SourceUnreadableError,
} from '../../lambda/src/core/errors';
import type { BatchItem } from '../../lambda/src/service/recognition-service';

/**
 * Images per recognizeBatch call: the HTTP batch limit's default (MAX_BATCH_IMAGES), several of a
 * model's `maxBatch` so its session runs stay full, and small enough that an interrupted run loses
 * little work.
 */
export const CHUNK_IMAGES = 16;
/** Chunks in flight: one running on the model while the next one decodes. */
const CHUNKS_IN_FLIGHT = 2;
/**
 * File bytes read and not yet answered, across the chunks in flight and the one being read. A file
 * larger than this is that file's PAYLOAD_TOO_LARGE, unread (no photo the decoder accepts comes
 * near: 40 megapixels is some 120 MB even uncompressed).
 */
export const BYTES_IN_FLIGHT = 256 * 1024 * 1024;

/** One file's answer (or error), as the batch gives it. */
export interface FileItem {
  path: string;
  item: BatchItem;
}

export interface PipelineOptions {
  /** The folder the paths are relative to. */
  root: string;
  /** One chunk's images through the service: one item per image, in order. */
  recognize: (images: Uint8Array[], signal: AbortSignal) => Promise<BatchItem[]>;
  /** Stops the run: no chunk starts after it, and the chunks in flight are dropped unanswered. */
  signal: AbortSignal;
  chunkImages?: number;
  budgetBytes?: number;
}

/** A file as read for a chunk: its bytes, or why it has none. */
type ReadFile = { path: string; bytes: Buffer } | { path: string; error: RecognitionError };

const failed = (path: string, error: RecognitionError): FileItem => ({
  path,
  item: { ok: false, error },
});

/** Why a file cannot be read, as a batch item's error (its code says which). */
function readError(file: string, e: unknown): RecognitionError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new SourceNotFoundError(`${file} is gone: it was listed but is no more.`);
  if (code) return new SourceUnreadableError(`${file} could not be read (${code}).`);
  return new InternalError('unexpected failure reading a file', {}, { cause: e });
}

/** The next files for a chunk, with their sizes: up to `count` files and `budget` bytes (at least one). */
async function planChunk(
  root: string,
  files: readonly string[],
  from: number,
  count: number,
  budget: number,
): Promise<{ planned: { path: string; size: number | RecognitionError }[]; bytes: number }> {
  const planned: { path: string; size: number | RecognitionError }[] = [];
  let bytes = 0;
  for (let i = from; i < files.length && planned.length < count; i++) {
    const file = files[i] as string;
    let size: number | RecognitionError;
    try {
      size = (await stat(path.join(root, file))).size;
      if (size > budget) {
        size = new PayloadTooLargeError(
          `${file} is ${size} bytes; the folder run reads files up to ${budget} bytes.`,
        );
      }
    } catch (e) {
      size = readError(file, e);
    }
    const adds = typeof size === 'number' ? size : 0;
    if (planned.length > 0 && bytes + adds > budget) break;
    bytes += adds;
    planned.push({ path: file, size });
  }
  return { planned, bytes };
}

/** The chunk's files read (in parallel: libuv's threads do the work). */
function readChunk(root: string, planned: { path: string; size: number | RecognitionError }[]) {
  return Promise.all(
    planned.map(async ({ path: file, size }): Promise<ReadFile> => {
      if (typeof size !== 'number') return { path: file, error: size };
      try {
        return { path: file, bytes: await readFile(path.join(root, file)) };
      } catch (e) {
        return { path: file, error: readError(file, e) };
      }
    }),
  );
}

/**
 * The chunk through the service, back as one item per file in the chunk's order; files that could
 * not be read keep their read error. Rejects only when the run is stopped.
 */
async function runChunk(read: readonly ReadFile[], options: PipelineOptions): Promise<FileItem[]> {
  const readable = read.filter((f): f is Extract<ReadFile, { bytes: Buffer }> => 'bytes' in f);
  let items: BatchItem[] = [];
  if (readable.length > 0) {
    try {
      items = await options.recognize(
        readable.map((f) => f.bytes),
        options.signal,
      );
    } catch (e) {
      if (options.signal.aborted) throw e;
      // A failure of the whole call (not expected once the options were checked) is each image's.
      const error =
        e instanceof RecognitionError ? e : new InternalError('unexpected failure', {}, { cause: e });
      items = readable.map(() => ({ ok: false, error }));
    }
  }
  let next = 0;
  return read.map((f) => {
    if (!('bytes' in f)) return failed(f.path, f.error);
    const item = items[next++];
    return item ? { path: f.path, item } : failed(f.path, new InternalError('no answer for the image'));
  });
}

/**
 * Yields each chunk's file items as the chunk finishes, in the files' order. Stops starting chunks
 * once `signal` aborts; awaiting a chunk then rejects with the signal's reason.
 */
export async function* recognizeFiles(
  files: readonly string[],
  options: PipelineOptions,
): AsyncGenerator<FileItem[]> {
  const chunkImages = options.chunkImages ?? CHUNK_IMAGES;
  const budget = options.budgetBytes ?? BYTES_IN_FLIGHT;
  const inFlight: { bytes: number; items: Promise<FileItem[]> }[] = [];
  let bytesInFlight = 0;
  const oldest = async () => {
    const chunk = inFlight.shift();
    if (!chunk) throw new Error('no chunk in flight');
    bytesInFlight -= chunk.bytes;
    return chunk.items;
  };
  let next = 0;
  while (next < files.length) {
    options.signal.throwIfAborted();
    const { planned, bytes } = await planChunk(options.root, files, next, chunkImages, budget);
    next += planned.length;
    // Room first: the oldest chunk is answered (and its bytes freed) before this one is read.
    while (inFlight.length >= CHUNKS_IN_FLIGHT || (inFlight.length > 0 && bytesInFlight + bytes > budget)) {
      yield await oldest();
    }
    const read = await readChunk(options.root, planned);
    options.signal.throwIfAborted();
    const items = runChunk(read, options);
    // Observed now: a chunk dropped when the run stops must not be an unhandled rejection.
    items.catch(() => undefined);
    inFlight.push({ bytes, items });
    bytesInFlight += bytes;
  }
  while (inFlight.length > 0) yield await oldest();
}
