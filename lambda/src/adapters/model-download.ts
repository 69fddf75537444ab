import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ModelSpec } from '../core/manifest';
import { ChecksumMismatchError, withRetries, writeVerified } from './verified-write';

export class DownloadError extends Error {
  override name = 'DownloadError';
}

export interface DownloadProgress {
  start(total: number | null): void;
  advance(bytes: number): void;
  stop(): void;
}

export interface DownloadOptions {
  attempts?: number;
  baseDelayMs?: number;
  /** Abort a transfer that sends nothing for this long. */
  idleTimeoutMs?: number;
  progress?: DownloadProgress;
  log?: (line: string) => void;
}

/** DNS failures and refused connections mean "offline": retrying only delays the advice. */
function isOffline(e: unknown): boolean {
  const code = (e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code;
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNREFUSED' || code === 'ENETUNREACH';
}

function manualAdvice(spec: ModelSpec, destDir: string): string {
  return `Download ${spec.url ?? '(no URL known)'} by hand and save it as ${path.join(destDir, spec.file)} (or in a folder listed in MODEL_PATH)${spec.sha256 ? `; its sha256 must be ${spec.sha256}` : ''}.`;
}

/**
 * Downloads a model file over HTTP(S) into destDir: verified sha256, temp file + rename, retries
 * with backoff for interrupted transfers, and a fast, explicit failure when offline.
 */
export async function downloadModel(
  spec: ModelSpec,
  destDir: string,
  opts: DownloadOptions = {},
): Promise<string> {
  const url = spec.url;
  if (!url) throw new DownloadError(`Model '${spec.id}' has no download URL. ${manualAdvice(spec, destDir)}`);
  const dest = path.join(destDir, spec.file);
  const attempts = opts.attempts ?? 4;
  try {
    await withRetries(
      attempts,
      opts.baseDelayMs ?? 500,
      async () => {
        const controller = new AbortController();
        let idle: NodeJS.Timeout | undefined;
        const kick = () => {
          clearTimeout(idle);
          idle = setTimeout(() => {
            controller.abort(new Error('transfer stalled'));
          }, opts.idleTimeoutMs ?? 30_000);
        };
        kick();
        try {
          // identity: the byte count must match Content-Length, and models do not compress anyway.
          const res = await fetch(url, {
            signal: controller.signal,
            redirect: 'follow',
            headers: { 'Accept-Encoding': 'identity' },
          });
          if (!res.ok || !res.body)
            throw new DownloadError(`HTTP ${res.status} ${res.statusText} from ${url}`);
          const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
          const total = encoded ? null : Number(res.headers.get('content-length')) || null;
          opts.progress?.start(total);
          const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
          await writeVerified(
            body,
            dest,
            spec.sha256,
            (n) => {
              kick();
              opts.progress?.advance(n);
            },
            total,
          );
        } finally {
          clearTimeout(idle);
          opts.progress?.stop();
        }
      },
      (e) =>
        isOffline(e) ||
        e instanceof ChecksumMismatchError ||
        (e instanceof DownloadError && /HTTP 4\d\d/.test(e.message)),
      (e, attempt, delay) => {
        opts.log?.(`  attempt ${attempt} failed (${(e as Error).message}); retrying in ${delay} ms`);
      },
    );
  } catch (e) {
    const reason = isOffline(e)
      ? `cannot reach ${new URL(url).host} (offline?)`
      : e instanceof ChecksumMismatchError
        ? `checksum mismatch: got ${e.actual}, expected ${e.expected}`
        : (e as Error).message;
    throw new DownloadError(
      `Could not download model '${spec.id}' from ${url}: ${reason}. ${manualAdvice(spec, destDir)}`,
      {
        cause: e,
      },
    );
  }
  return dest;
}
