import type { ErrorCode } from '../../core/errors';

/** The one place an error code becomes an HTTP status. */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  INVALID_REQUEST: 400,
  INVALID_PARAMETER: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  RESPONSE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_IMAGE: 422,
  INTERNAL: 500,
  FORBIDDEN: 403,
  THROTTLED: 429,
  MODEL_UNAVAILABLE: 503,
  OVERLOADED: 503,
  TIMEOUT: 504,
};
