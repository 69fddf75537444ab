/**
 * Every failure a client can cause or see has a stable `code`. The transports map codes to HTTP
 * statuses in one table (see transports/http/error-status.ts); nothing else decides a status.
 */
export type ErrorCode =
  | 'INVALID_REQUEST'
  | 'INVALID_PARAMETER'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'RESPONSE_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNPROCESSABLE_IMAGE'
  | 'MODEL_UNAVAILABLE'
  | 'OVERLOADED'
  | 'TIMEOUT'
  | 'INTERNAL'
  // An image given by reference (an upload's S3 key, a URL) rather than in the body.
  | 'SOURCE_NOT_ALLOWED'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_UNREADABLE'
  | 'SOURCE_TIMEOUT'
  | 'UPLOADS_UNAVAILABLE'
  // Answered by API Gateway itself (lib/inference-api.ts GATEWAY_ERRORS), never by the function.
  | 'THROTTLED'
  | 'FORBIDDEN';

export abstract class RecognitionError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra, safe-to-show fields for the error body (never paths or stacks). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

export class InvalidRequestError extends RecognitionError {
  readonly code = 'INVALID_REQUEST';
}

export class InvalidParameterError extends RecognitionError {
  readonly code = 'INVALID_PARAMETER';
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message, { parameter });
  }
}

export class NotFoundError extends RecognitionError {
  readonly code = 'NOT_FOUND';
}

export class ModelNotFoundError extends NotFoundError {
  constructor(
    readonly modelId: string,
    known: readonly string[],
  ) {
    super(`Unknown model '${modelId}'. Known models: ${known.join(', ')}.`, { model: modelId });
  }
}

export class MethodNotAllowedError extends RecognitionError {
  readonly code = 'METHOD_NOT_ALLOWED';
  constructor(
    method: string,
    readonly allowed: readonly string[],
  ) {
    super(`Method ${method} is not allowed here; use ${allowed.join(' or ')}.`, { allowed });
  }
}

export class PayloadTooLargeError extends RecognitionError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** The answer would not fit the transport (Lambda's synchronous response is 6 MB after base64). */
export class ResponseTooLargeError extends RecognitionError {
  readonly code = 'RESPONSE_TOO_LARGE';
}

export class UnsupportedMediaTypeError extends RecognitionError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}

export class UnprocessableImageError extends RecognitionError {
  readonly code = 'UNPROCESSABLE_IMAGE';
}

/**
 * `text` without the places it names: a file path becomes its file name, an S3 location its
 * object's name. Answers never show a folder or a bucket; the log keeps the full reason.
 */
export function withoutLocations(text: string): string {
  return text
    .replace(/s3:\/\/[^\s'"]*\/([^\s/'"]+)/g, '$1')
    .replace(/s3:\/\/[^\s/'"]+/g, 'the S3 bucket')
    .replace(/(?<![\w:/.])(?:\/[\w.@+-]+)*\/([\w.@+-]+)/g, '$1');
}

export class ModelUnavailableError extends RecognitionError {
  readonly code = 'MODEL_UNAVAILABLE';
  constructor(
    readonly modelId: string,
    /** The full reason, for the log; the message shows it without paths or buckets. */
    readonly reason: string,
    /** retryAfterSeconds: the model is on its way (still loading), so asking again will help. */
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(
      `Model '${modelId}' is unavailable: ${withoutLocations(reason)}`,
      {
        model: modelId,
        ...(options?.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
      },
      options,
    );
  }
}

export class OverloadedError extends RecognitionError {
  readonly code = 'OVERLOADED';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { retryAfterSeconds });
  }
}

export class TimeoutError extends RecognitionError {
  readonly code = 'TIMEOUT';
}

/** A bug or an unexpected runtime failure; clients only ever see its request id. */
export class InternalError extends RecognitionError {
  readonly code = 'INTERNAL';
}

export function isRecognitionError(e: unknown): e is RecognitionError {
  return e instanceof RecognitionError;
}

/**
 * An image reference the API will not follow: an S3 bucket or key outside the upload area, a URL
 * whose host is not allowed, whose scheme or userinfo is refused, or that resolves or redirects to a
 * forbidden address. Nothing is fetched. `details.reason` says which rule refused it.
 */
export class SourceNotAllowedError extends RecognitionError {
  readonly code = 'SOURCE_NOT_ALLOWED';
  constructor(message: string, reason: string) {
    super(message, { reason });
  }
}

/** The referenced image does not exist (no such upload key, a URL answering 404). */
export class SourceNotFoundError extends RecognitionError {
  readonly code = 'SOURCE_NOT_FOUND';
}

/**
 * The referenced image could not be read whole: the object or response ended before its announced
 * length, the server answered an error, the connection failed, or too many redirects.
 */
export class SourceUnreadableError extends RecognitionError {
  readonly code = 'SOURCE_UNREADABLE';
}

/** The referenced image's server stopped sending (connect, first byte or idle timeout). */
export class SourceTimeoutError extends RecognitionError {
  readonly code = 'SOURCE_TIMEOUT';
}

/** POST /uploads, or an {"s3": …} image, on a deployment without an upload bucket configured. */
export class UploadsUnavailableError extends RecognitionError {
  readonly code = 'UPLOADS_UNAVAILABLE';
}
