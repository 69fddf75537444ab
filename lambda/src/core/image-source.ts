import type { UploadReference } from './ports';

/**
 * Where one image of a request comes from: its bytes in the body, an upload's key in the upload
 * bucket (POST /uploads), or a URL. The transports parse requests into these; the service reads the
 * references under their own rules and limits.
 */
export type ImageSource =
  | { readonly kind: 'bytes'; readonly bytes: Buffer }
  | { readonly kind: 's3'; readonly ref: UploadReference }
  | { readonly kind: 'url'; readonly url: string };
