import { unlessAborted } from '../core/abortable';
import { boundedMap } from '../core/batch';
import { InternalError, isRecognitionError, type RecognitionError } from '../core/errors';
import type { ImageSource } from '../core/image-source';
import type { RecognitionResult } from '../core/results';
import type { ImageSources } from './image-sources';

/** One image of a batch: its answer, or its own error. One bad image never fails the others. */
export type SourceItem = { ok: true; result: RecognitionResult } | { ok: false; error: RecognitionError };

/** References (uploads, URLs) read at once per request: a bound on sockets and on bytes in flight. */
export const REFERENCE_READS_AT_ONCE = 2;

const asItemError = (e: unknown): RecognitionError =>
  isRecognitionError(e) ? e : new InternalError('unexpected failure', {}, { cause: e });

/**
 * Objects of a bulk batch (S3 keys a Step Functions Distributed Map lists) read at once: a few
 * more than a request's references, as there are up to MAX_BATCH_IMAGES of them and each read is
 * mostly S3's latency; still a bound on sockets and on bytes in flight.
 */
export const BULK_READS_AT_ONCE = 4;

/**
 * A batch request's images: each source read into bytes (references at most
 * REFERENCE_READS_AT_ONCE at a time, within one byte budget), then the readable ones recognized
 * together, answers back in the request's order. A read that fails is that image's error; an
 * aborted signal ends the whole call.
 */
export function recognizeSources(
  sources: ImageSources,
  recognizeBatch: (images: Uint8Array[]) => Promise<SourceItem[]>,
  images: readonly ImageSource[],
  signal?: AbortSignal,
): Promise<SourceItem[]> {
  const budget = sources.budget();
  return readThenRecognize(
    (source) => sources.read(source, budget, signal),
    REFERENCE_READS_AT_ONCE,
    recognizeBatch,
    images,
    signal,
  );
}

/**
 * Any batch of things to read: each read into bytes (`readsAtOnce` at a time, in order), then the
 * readable ones recognized together, answers back in the batch's order. A read that fails is that
 * image's error; an aborted signal ends the whole call.
 */
export async function readThenRecognize<S>(
  read: (source: S) => Promise<Buffer>,
  readsAtOnce: number,
  recognizeBatch: (images: Uint8Array[]) => Promise<SourceItem[]>,
  images: readonly S[],
  signal?: AbortSignal,
): Promise<SourceItem[]> {
  const reads = boundedMap(
    images,
    readsAtOnce,
    (source) =>
      read(source).then(
        (bytes): Buffer | RecognitionError => bytes,
        (e: unknown) => {
          if (signal?.aborted) throw e;
          return asItemError(e);
        },
      ),
    { stopped: () => signal?.aborted === true, reason: (): unknown => signal?.reason },
  );
  const outcomes = await unlessAborted(Promise.all(reads), signal);
  const readable = outcomes.flatMap((r, i) => (Buffer.isBuffer(r) ? [{ i, bytes: r }] : []));
  const answers = readable.length > 0 ? await recognizeBatch(readable.map((r) => r.bytes)) : [];
  const items = outcomes.map((r): SourceItem => ({
    ok: false,
    error: Buffer.isBuffer(r) ? new InternalError('the batch gave no answer for this image') : r,
  }));
  readable.forEach((r, k) => {
    const answer = answers[k];
    if (answer) items[r.i] = answer;
  });
  return items;
}
