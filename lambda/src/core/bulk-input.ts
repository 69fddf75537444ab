import { SourceNotAllowedError, SourceUnreadableError } from './errors';
import type { ObjectReference } from './ports';

/** The longest key S3 allows, in UTF-8 bytes. */
export const MAX_S3_KEY_BYTES = 1024;

/** Where a bulk batch may read: one bucket, and the keys under one prefix ('' for all). */
export interface BulkInputArea {
  bucket: string;
  /** Ends in '/', or is empty (the whole bucket). */
  prefix: string;
}

/**
 * The key of an object a bulk batch may read, or that item's error, decided without a request to
 * S3:
 * - another bucket, or a key outside the prefix: SOURCE_NOT_ALLOWED (`details.reason` 'bucket' or
 *   'key');
 * - a key that some layer between here and S3 could read as another ('.' or '..' segments), with
 *   control characters or lone surrogates, or longer than S3 allows: SOURCE_NOT_ALLOWED 'key';
 * - a folder marker (a key ending in '/', the prefix itself included): SOURCE_UNREADABLE 'folder'.
 *
 * Messages name neither the bucket nor the prefix, nor echo the key (the answer carries it).
 */
export function bulkObjectKey(ref: ObjectReference, area: BulkInputArea): string {
  const { bucket, key } = ref;
  if (bucket !== area.bucket) {
    throw new SourceNotAllowedError(
      'Only objects of the bulk input bucket (BULK_BUCKET) can be read; this batch names another bucket.',
      'bucket',
    );
  }
  if (
    key === '' ||
    !key.startsWith(area.prefix) ||
    Buffer.byteLength(key) > MAX_S3_KEY_BYTES ||
    key.split('/').some((segment) => segment === '.' || segment === '..') ||
    /[\p{Cc}\p{Cs}]/u.test(key)
  ) {
    throw new SourceNotAllowedError(
      'Only keys under the bulk input prefix (BULK_INPUT_PREFIX) can be read: this one is outside it, or not a plain key.',
      'key',
    );
  }
  if (key.endsWith('/')) {
    throw new SourceUnreadableError('This key is a folder marker, not a photo.', { reason: 'folder' });
  }
  return key;
}
