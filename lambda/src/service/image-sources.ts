import { SourceNotAllowedError, UploadsUnavailableError } from '../core/errors';
import type { ImageSource } from '../core/image-source';
import type {
  BulkObjectStore,
  ImageUrlFetcher,
  ObjectReference,
  UploadStore,
  UploadTicket,
} from '../core/ports';

/** What a request's referenced images (uploads and URLs) may still take, in bytes, together. */
export interface ByteBudget {
  left: number;
}

export interface ImageSourcesDeps {
  /** The upload area; null when no upload bucket is configured. */
  uploads: UploadStore | null;
  /** The URL fetcher; null when no host is allowed (images by URL are off). */
  urls: ImageUrlFetcher | null;
  /** The bytes one request's referenced images may take together (MAX_UPLOAD_BYTES). */
  maxReferencedBytes: number;
  /**
   * The bulk input area a Step Functions batch reads (BULK_BUCKET); each object may be up to
   * `maxReferencedBytes`. Default: none.
   */
  bulk?: BulkObjectStore | null;
}

/**
 * Turns a request's image sources into bytes: body bytes as they are, upload keys through the
 * upload store, URLs through the fetcher, each bounded by what the request may still take.
 */
export class ImageSources {
  constructor(private readonly deps: ImageSourcesDeps) {}

  /** A new budget for one request's references. */
  budget(): ByteBudget {
    return { left: this.deps.maxReferencedBytes };
  }

  get uploadsEnabled(): boolean {
    return this.deps.uploads !== null;
  }

  createUpload(request: { contentType: string; size: number }): Promise<UploadTicket> {
    return this.uploads().createUpload(request);
  }

  async read(source: ImageSource, budget: ByteBudget, signal?: AbortSignal): Promise<Buffer> {
    if (source.kind === 'bytes') return source.bytes;
    const options = { maxBytes: budget.left, signal };
    let bytes: Buffer;
    if (source.kind === 's3') {
      bytes = await this.uploads().read(source.ref, options);
    } else {
      if (!this.deps.urls) {
        throw new SourceNotAllowedError(
          'Images by URL are off on this server: IMAGE_URL_ALLOWED_HOSTS lists no host. Send the photo itself.',
          'disabled',
        );
      }
      bytes = await this.deps.urls.fetch(source.url, options);
    }
    budget.left -= bytes.length;
    return bytes;
  }

  get bulkEnabled(): boolean {
    return (this.deps.bulk ?? null) !== null;
  }

  /**
   * One object of a bulk batch, at most `maxReferencedBytes` (each object on its own: the items of
   * a batch are separate photos, not one request's parts).
   */
  readObject(ref: ObjectReference, signal?: AbortSignal): Promise<Buffer> {
    const { bulk } = this.deps;
    if (!bulk) return Promise.reject(new Error('no bulk input bucket is configured (BULK_BUCKET)'));
    return bulk.read(ref, { maxBytes: this.deps.maxReferencedBytes, signal });
  }

  private uploads(): UploadStore {
    if (!this.deps.uploads) {
      throw new UploadsUnavailableError(
        'This server has no upload bucket (UPLOAD_BUCKET; locally with UPLOAD_S3_ENDPOINT for an S3-compatible server). Send the photo in the body.',
      );
    }
    return this.deps.uploads;
  }
}
