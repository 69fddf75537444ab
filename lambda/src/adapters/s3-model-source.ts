import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ModelSpec } from '../core/manifest';
import {
  ChecksumMismatchError,
  DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS,
  withRetries,
  writeVerified,
} from './verified-write';

export interface S3Location {
  bucket: string;
  prefix: string;
}

export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m?.[1]) throw new Error(`MODEL_S3_URI must look like s3://bucket/prefix, got '${uri}'`);
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  return { bucket: m[1], prefix };
}

export interface S3Timeouts {
  /** How long a TCP (and TLS) connect may take. */
  connectTimeoutMs: number;
  /** How long the answer's headers may take; the body has S3ModelSource's idle timer. */
  idleTimeoutMs: number;
}

/**
 * A client whose every request ends: without these, a connect or an answer that never comes
 * holds a cold start until Lambda's own timeout. One attempt per call: S3ModelSource retries
 * (with its checksum-aware rules), and SDK retries inside those would multiply the wait.
 */
export function createS3Client(
  endpoint: string | null,
  timeouts: S3Timeouts = { connectTimeoutMs: 3000, idleTimeoutMs: DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS },
): S3Client {
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: timeouts.connectTimeoutMs,
      requestTimeout: timeouts.idleTimeoutMs,
      // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
  });
}

/**
 * Copies model files from s3://bucket/prefix/<file> into a local folder (Lambda: /tmp/models) at
 * init. Files already there are kept (warm starts and re-used sandboxes skip the download); the
 * checksum is verified by the model store when the file is opened.
 */
export class S3ModelSource {
  constructor(
    private readonly client: S3Client,
    private readonly location: S3Location,
    private readonly destDir: string,
    private readonly retry = { attempts: 4, baseDelayMs: 300 },
    /** An attempt whose body sends nothing for this long is abandoned (and retried). */
    private readonly idleTimeoutMs = DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS,
  ) {}

  key(spec: Pick<ModelSpec, 'file'>): string {
    return this.location.prefix ? `${this.location.prefix}/${spec.file}` : spec.file;
  }

  /** Returns the local path, downloading first when the file is not there yet. */
  async ensure(spec: ModelSpec): Promise<string> {
    const dest = path.join(this.destDir, spec.file);
    if (existsSync(dest)) return dest;
    await withRetries(
      this.retry.attempts,
      this.retry.baseDelayMs,
      async () => {
        // Aborted when the attempt fails, so a stalled connection is closed, not left to linger.
        const attempt = new AbortController();
        try {
          const res = await this.client.send(
            new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(spec) }),
            { abortSignal: attempt.signal },
          );
          if (!res.Body) throw new Error(`empty body for s3://${this.location.bucket}/${this.key(spec)}`);
          await writeVerified(res.Body as Readable, dest, spec.sha256, { idleTimeoutMs: this.idleTimeoutMs });
        } catch (e) {
          attempt.abort();
          throw e;
        }
      },
      (e) => e instanceof ChecksumMismatchError || (e as { name?: string }).name === 'NoSuchKey',
    );
    return dest;
  }
}
