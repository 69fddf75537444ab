// @ts-check
// How a failure reads on the page: one ApiError with a plain headline and a message (the server's
// message plus what the user can do about it), for a whole request or for one image of a batch.

/** @typedef {import('./api-types').components['schemas']['Error']} ErrorBody */
/** @typedef {import('./api-types').components['schemas']['ItemError']} ItemError */
/** @typedef {ErrorBody['error']} ErrorCode */

/** @type {Readonly<Record<ErrorCode, string>>} every code the API can send has a headline */
const HEADLINES = {
  INVALID_REQUEST: 'The request was not accepted',
  INVALID_PARAMETER: 'A setting was not accepted',
  NOT_FOUND: 'Not found',
  METHOD_NOT_ALLOWED: 'The server refused this kind of request',
  PAYLOAD_TOO_LARGE: 'The image is too large',
  RESPONSE_TOO_LARGE: 'The answer is too large to send',
  UNSUPPORTED_MEDIA_TYPE: 'That file is not a supported image',
  UNPROCESSABLE_IMAGE: 'The image could not be read',
  MODEL_UNAVAILABLE: 'The model is not available right now',
  OVERLOADED: 'The server is busy',
  TIMEOUT: 'The server took too long',
  INTERNAL: 'Something went wrong on the server',
  FORBIDDEN: 'Access denied',
  THROTTLED: 'Too many requests',
  SOURCE_NOT_ALLOWED: 'That image address is not allowed',
  SOURCE_NOT_FOUND: 'The image was not found',
  SOURCE_UNREADABLE: 'The image could not be fetched',
  SOURCE_TIMEOUT: 'Fetching the image took too long',
  UPLOADS_UNAVAILABLE: 'Large photos cannot be uploaded here',
};

/** @type {Readonly<Partial<Record<ErrorCode, string>>>} what the user can do about it, where there is something */
const HINTS = {
  PAYLOAD_TOO_LARGE: 'Try a smaller photo or a screenshot of it.',
  UPLOADS_UNAVAILABLE: 'This server has no upload storage: try a smaller photo.',
  RESPONSE_TOO_LARGE: 'Ask for the detections as JSON, or try a smaller photo.',
  UNSUPPORTED_MEDIA_TYPE: 'Choose a JPEG, PNG, WebP, GIF, AVIF or TIFF image.',
  UNPROCESSABLE_IMAGE: 'The file may be damaged or truncated. Try another photo.',
  MODEL_UNAVAILABLE: 'Choose another model or try again in a minute.',
  OVERLOADED: 'Wait a few seconds and press Send again.',
  TIMEOUT: 'Wait a few seconds and press Send again.',
  INTERNAL: 'Try again. If it keeps happening, report the reference below.',
};

/** A failed request (or image), ready for the alert: `message` is the text under the headline. */
export class ApiError extends Error {
  /**
   * @param {string} headline
   * @param {string} message
   * @param {{ code?: string | null, status?: number | null, requestId?: string | null }} [extra]
   *   code: the API's `error` field (null when the answer did not come from the API, e.g. a proxy's 502)
   */
  constructor(headline, message, extra = {}) {
    super(message);
    this.name = 'ApiError';
    this.headline = headline;
    this.code = extra.code ?? null;
    this.status = extra.status ?? null;
    this.requestId = extra.requestId ?? null;
  }
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isObject(value) {
  return typeof value === 'object' && value !== null;
}

/**
 * @param {string | null} code
 * @returns {code is ErrorCode}
 */
function isErrorCode(code) {
  return code !== null && Object.hasOwn(HEADLINES, code);
}

/**
 * The API's error body is `{statusCode, error, message, requestId}` (openapi.json, Error), with a
 * Retry-After header when it is OVERLOADED. Answers that do not come from the function (API Gateway's
 * own 403 / 429 / 502 / 504, `{"message": …}` or HTML) have no `error` code: the status decides, and
 * API Gateway's x-amzn-RequestId header (the same id the function reports) is the reference.
 *
 * @param {Response} res
 * @param {unknown} json
 */
export function errorFromResponse(res, json) {
  return describeError(res.status, isObject(json) ? json : {}, {
    requestId: res.headers.get('x-amzn-requestid'),
    retryAfter: res.headers.get('retry-after'),
  });
}

/**
 * One image of a batch that could not be answered (`ItemError`): the same wording as a whole
 * request with that code; the batch's request id is the reference.
 *
 * @param {ItemError} item
 * @param {string | null} requestId
 */
export function errorFromItem(item, requestId) {
  const retry = item.details?.retryAfterSeconds;
  return describeError(item.statusCode, item, {
    requestId,
    retryAfter: typeof retry === 'number' ? String(retry) : null,
  });
}

/**
 * @param {number} status
 * @param {Record<string, unknown>} body
 * @param {{ requestId: string | null, retryAfter: string | null }} fallback
 */
function describeError(status, body, fallback) {
  const requestId = (typeof body.requestId === 'string' && body.requestId) || fallback.requestId || null;
  const code = typeof body.error === 'string' ? body.error : null;
  const known = isErrorCode(code) ? code : null;
  const serverMessage = typeof body.message === 'string' ? body.message : null;
  const headline = known ? HEADLINES[known] : headlineForStatus(status);
  let message = serverMessage || messageForStatus(status);
  let hint = known ? HINTS[known] : undefined;
  if (!code && (status === 401 || status === 403)) hint = 'Check the API key in config.json.';
  if (known === 'OVERLOADED') {
    // The API sends whole seconds; an HTTP-date (allowed by HTTP, not sent here) would read badly.
    const retry = fallback.retryAfter;
    if (retry && /^\d+$/.test(retry.trim())) hint = `Try again in ${retry.trim()} seconds.`;
  }
  if (hint && !message.includes(hint)) message += ` ${hint}`;
  return new ApiError(headline, message, { code, status, requestId });
}

/** @param {number} status */
function headlineForStatus(status) {
  if (status === 400) return 'The request was not accepted';
  if (status === 401 || status === 403) return 'Access denied';
  if (status === 404) return 'Not found';
  if (status === 413) return 'The image is too large';
  if (status === 415) return 'That file is not a supported image';
  if (status === 422) return 'The image could not be read';
  if (status === 429) return 'Too many requests';
  if (status === 502 || status === 503) return 'The service is unavailable';
  if (status === 504) return 'The server took too long';
  if (status >= 500) return 'Something went wrong on the server';
  if (status >= 200 && status < 300) return 'Unexpected answer from the server';
  return 'The request failed';
}

/** @param {number} status */
function messageForStatus(status) {
  const prefix = `The server answered with HTTP ${status}. `;
  if (status === 401 || status === 403) return `${prefix}Check the API key in config.json.`;
  if (status === 413) return `${prefix}Try a smaller photo.`;
  if (status === 429) return `${prefix}Wait a little and try again.`;
  if (status === 502 || status === 503 || status === 504)
    return `${prefix}The service may be starting up or overloaded. Try again in a moment.`;
  if (status >= 200 && status < 300) return `${prefix}The answer could not be understood.`;
  return `${prefix}Try again in a moment.`;
}
