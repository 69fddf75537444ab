import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ModelSpec } from '../core/manifest';
import {
  ChecksumMismatchError,
  DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS,
  StalledTransferError,
  withRetries,
  writeVerified,
} from './verified-write';

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
  /** Abort a transfer that sends nothing (headers or body) for this long. */
  idleTimeoutMs?: number;
  progress?: DownloadProgress;
  log?: (line: string) => void;
}

/** DNS failures and refused connections mean "offline": retrying only delays the advice. */
function isOffline(e: unknown): boolean {
  const code = (e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code;
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNREFUSED' || code === 'ENETUNREACH';
}

/** What a download needs to know of a manifest entry. */
export type DownloadableModel = Pick<ModelSpec, 'id' | 'file' | 'sha256' | 'urls'>;

function manualAdvice(spec: DownloadableModel, destDir: string): string {
  return `Download ${spec.urls[0] ?? '(no URL known)'} by hand and save it as ${path.join(destDir, spec.file)} (or in a folder listed in MODEL_PATH)${spec.sha256 ? `; its sha256 must be ${spec.sha256}` : ''}.`;
}

function reasonOf(url: string, e: unknown): string {
  if (isOffline(e)) return `${url}: cannot reach ${new URL(url).host} (offline?)`;
  if (e instanceof ChecksumMismatchError)
    return `${url}: checksum mismatch: got ${e.actual}, expected ${e.expected}`;
  const message = (e as Error).message;
  return message.includes(url) ? message : `${url}: ${message}`;
}

/** One URL: retries with backoff for interrupted transfers; a 4xx, a wrong checksum or no network ends it at once. */
async function downloadFrom(
  url: string,
  dest: string,
  sha256: string | null,
  opts: DownloadOptions,
): Promise<void> {
  await withRetries(
    opts.attempts ?? 4,
    opts.baseDelayMs ?? 500,
    async () => {
      const controller = new AbortController();
      const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS;
      let idle: NodeJS.Timeout | undefined;
      // One timer from the request on, so a server that never sends its headers is caught too.
      const kick = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          controller.abort(new StalledTransferError(idleTimeoutMs));
        }, idleTimeoutMs);
      };
      kick();
      try {
        // identity: the byte count must match Content-Length, and models do not compress anyway.
        const res = await fetch(url, {
          signal: controller.signal,
          redirect: 'follow',
          headers: { 'Accept-Encoding': 'identity' },
        });
        if (!res.ok || !res.body) throw new DownloadError(`HTTP ${res.status} ${res.statusText} from ${url}`);
        const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
        const total = encoded ? null : Number(res.headers.get('content-length')) || null;
        opts.progress?.start(total);
        const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
        await writeVerified(body, dest, sha256, {
          onBytes: (n) => {
            kick();
            opts.progress?.advance(n);
          },
          expectedBytes: total,
        });
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
}

/**
 * Downloads a model file over HTTP(S) into destDir from the first of its URLs that serves the
 * right bytes: each URL in order, each checked against the one sha256, written to a temp file and
 * renamed only when complete. The one downloader: `npm run models:fetch`, `npm start`'s background
 * fetch and the image build all call it.
 */
export async function downloadModel(
  spec: DownloadableModel,
  destDir: string,
  opts: DownloadOptions = {},
): Promise<string> {
  if (spec.urls.length === 0)
    throw new DownloadError(`Model '${spec.id}' has no download URL. ${manualAdvice(spec, destDir)}`);
  const dest = path.join(destDir, spec.file);
  const failures: string[] = [];
  for (const [i, url] of spec.urls.entries()) {
    try {
      await downloadFrom(url, dest, spec.sha256, opts);
      return dest;
    } catch (e) {
      failures.push(reasonOf(url, e));
      if (i + 1 < spec.urls.length) opts.log?.(`  ${reasonOf(url, e)}; trying ${spec.urls[i + 1] ?? ''}`);
    }
  }
  throw new DownloadError(
    `Could not download model '${spec.id}': ${failures.join('; ')}. ${manualAdvice(spec, destDir)}`,
  );
}
