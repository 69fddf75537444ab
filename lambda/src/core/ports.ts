import type { ResizePlan, Size } from './geometry';
import type { ModelSpec } from './manifest';
import type { Detection, Labels } from './results';
import type { OutputMap } from './tensor-types';

/** Decoded, oriented and resized pixels, ready for packTensor. */
export interface PreparedImage {
  /** Interleaved RGB bytes at the model's input size. */
  rgb: Uint8Array;
  width: number;
  height: number;
  original: Size;
  format: string;
  plan: ResizePlan;
}

export interface ImageDecoder {
  prepare(bytes: Uint8Array, model: Pick<ModelSpec, 'input' | 'preprocess'>): Promise<PreparedImage>;
  /** Draws detections on the photo and returns a JPEG. */
  annotate(bytes: Uint8Array, detections: readonly Detection[]): Promise<Uint8Array>;
}

export interface LoadedModel {
  run(input: Float32Array, dims: readonly number[]): Promise<OutputMap>;
  dispose(): Promise<void>;
}

export interface ModelRuntime {
  /** Creates a session and checks its real input/output names and shapes against the spec. */
  load(spec: ModelSpec, file: string): Promise<LoadedModel>;
}

export interface ModelFiles {
  /** Finds the model file, verifying its checksum; throws ModelUnavailableError otherwise. */
  locate(spec: ModelSpec): Promise<string>;
  /** True when the file is present (no checksum work). */
  isPresent(spec: ModelSpec): boolean;
  labels(spec: ModelSpec): Promise<Labels>;
}

/** Bounds every read of a referenced image: bytes, and a signal that aborts it. */
export interface SourceReadOptions {
  /** Refuse (PAYLOAD_TOO_LARGE) before reading when the announced size is larger, and cut the stream past it. */
  maxBytes: number;
  signal?: AbortSignal;
}

/** An image uploaded through POST /uploads: a key in the configured upload bucket. */
export interface UploadReference {
  /** Optional; when given it must be the upload bucket. */
  bucket?: string;
  key: string;
}

/** What POST /uploads answers: where to PUT the photo, and the reference to send afterwards. */
export interface UploadTicket {
  /** Presigned S3 PUT URL; Content-Type and Content-Length are bound into its signature. */
  url: string;
  method: 'PUT';
  /** Headers the PUT must carry exactly as given. */
  headers: Record<string, string>;
  expiresAt: string;
  s3: { bucket: string; key: string };
  maxBytes: number;
}

/**
 * The upload area: presigns PUTs into the configured bucket and prefix, and reads back only keys
 * there (SOURCE_NOT_ALLOWED otherwise, never fetched), bounded like a body.
 */
export interface UploadStore {
  createUpload(request: { contentType: string; size: number }): Promise<UploadTicket>;
  read(ref: UploadReference, options: SourceReadOptions): Promise<Buffer>;
}

/** An object of the bulk input bucket, as a Step Functions Distributed Map batch names it. */
export interface ObjectReference {
  bucket: string;
  key: string;
}

/**
 * The bulk input area: reads only objects of the configured bucket under its prefix
 * (SOURCE_NOT_ALLOWED otherwise, nothing sent to S3), each bounded like an upload.
 */
export interface BulkObjectStore {
  read(ref: ObjectReference, options: SourceReadOptions): Promise<Buffer>;
}

/**
 * Fetches an image by URL under the allow-list and address rules (SOURCE_NOT_ALLOWED otherwise),
 * bounded in size, time and redirects.
 */
export interface ImageUrlFetcher {
  fetch(url: string, options: SourceReadOptions): Promise<Buffer>;
}
