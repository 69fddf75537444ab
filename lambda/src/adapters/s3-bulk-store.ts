import type { S3Client } from '@aws-sdk/client-s3';
import { bulkObjectKey } from '../core/bulk-input';
import type { BulkObjectStore, ObjectReference, SourceReadOptions } from '../core/ports';
import type { BulkConfig } from './config';
import { createObjectReaderS3Client, S3ObjectReader } from './s3-object-reader';

export interface S3BulkStoreOptions {
  /** Connect excluded: how long S3 may take to answer a request's headers, and the body's idle timeout (SOURCE_TIMEOUT_MS). */
  timeoutMs: number;
  /** How long a TCP (and TLS) connect may take (S3_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
  /** Default: createObjectReaderS3Client(config.endpoint, …). */
  client?: S3Client;
}

/**
 * The bulk input area in S3 (BULK_BUCKET, BULK_INPUT_PREFIX): the objects a Step Functions
 * Distributed Map batch names. Another bucket, a key outside the prefix or a folder marker is that
 * item's error before any request to S3 (core/bulk-input.ts); the others are read by the one
 * bounded object read (HEAD, then a GET of at most `maxBytes`, with timeouts).
 *
 * IAM: s3:GetObject on `bucket/prefix*` (HeadObject needs no other action).
 */
export class S3BulkStore implements BulkObjectStore {
  private readonly reader: S3ObjectReader;

  constructor(
    private readonly config: BulkConfig,
    options: S3BulkStoreOptions,
  ) {
    this.reader = new S3ObjectReader(options.client ?? createObjectReaderS3Client(config.endpoint, options), {
      timeoutMs: options.timeoutMs,
      noun: 'object',
      notFound: 'No object has this key: it was deleted or renamed after the run listed it.',
    });
  }

  async read(ref: ObjectReference, options: SourceReadOptions): Promise<Buffer> {
    const key = bulkObjectKey(ref, this.config);
    const limit = Math.min(options.maxBytes, this.config.maxBytes);
    return await this.reader.read(this.config.bucket, key, limit, options.signal);
  }
}
