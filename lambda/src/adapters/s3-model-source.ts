import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ModelSpec } from '../core/manifest';
import { ChecksumMismatchError, withRetries, writeVerified } from './verified-write';

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

export function createS3Client(endpoint: string | null): S3Client {
  return endpoint ? new S3Client({ endpoint, forcePathStyle: true }) : new S3Client({});
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
        const res = await this.client.send(
          new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(spec) }),
        );
        if (!res.Body) throw new Error(`empty body for s3://${this.location.bucket}/${this.key(spec)}`);
        await writeVerified(res.Body as Readable, dest, spec.sha256);
      },
      (e) => e instanceof ChecksumMismatchError || (e as { name?: string }).name === 'NoSuchKey',
    );
    return dest;
  }
}
