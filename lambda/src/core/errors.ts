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
