// @ts-check
// Every request the page makes: config.json, GET models, POST classifier / detector. Failures of any
// kind (network, timeout, the API's error body, a proxy's HTML page) become one ApiError with a
// plain headline and message for the alert. Response types are generated from the API's
// openapi.json (web/api-types.d.ts, `npm run web:types`), so a renamed field fails `npm run typecheck`.

/** @typedef {import('./api-types').components['schemas']['ClassificationResponse']} ClassificationResponse */
/** @typedef {import('./api-types').components['schemas']['DetectionResponse']} DetectionResponse */
/** @typedef {import('./api-types').components['schemas']['ModelList']} ModelList */
/** @typedef {ModelList['models'][number]} ModelInfo */
/** @typedef {import('./api-types').components['schemas']['Error']} ErrorBody */
/** @typedef {ErrorBody['error']} ErrorCode */

const REQUEST_TIMEOUT_MS = 60000;

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

/** A failed request, ready for the alert: `message` is the text under the headline. */
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
 * Where the API is: same origin (relative paths) unless config.json says otherwise. Relative paths
 * work both at / (local server) and at /classifier.html (CloudFront).
 */
const config = { apiBaseUrl: '', apiKey: '' };

/**
 * Reads the optional config.json next to the page. Missing (404), unreadable or malformed: the
 * defaults stay, silently; the page works on its own origin without one.
 */
export async function loadConfig() {
  /** @type {unknown} */
  let json = null;
  try {
    const res = await fetch('config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (res.ok) json = await res.json().catch(() => null);
  } catch {
    json = null;
  }
  if (!isObject(json)) return;
  if (typeof json.apiBaseUrl === 'string') config.apiBaseUrl = json.apiBaseUrl.trim();
  if (typeof json.apiKey === 'string') config.apiKey = json.apiKey;
}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
function isObject(value) {
  return typeof value === 'object' && value !== null;
}

/** @param {string} path relative API path with its query, e.g. `classifier?topK=5` */
function apiUrl(path) {
  const base = config.apiBaseUrl;
  if (!base) return path;
  return `${base.replace(/\/+$/, '')}/${path}`;
}

/** @param {Record<string, string>} extra */
function apiHeaders(extra) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (config.apiKey) headers['x-api-key'] = config.apiKey;
  return { ...headers, ...extra };
}

/**
 * A fetch that resolves with the parsed JSON of a 2xx answer and rejects with an ApiError for
 * everything else. The caller checks the JSON's shape.
 *
 * @param {string} path
 * @param {RequestInit} init
 * @returns {Promise<unknown>}
 */
async function apiFetch(path, init) {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
  }, REQUEST_TIMEOUT_MS);
  try {
    /** @type {Response} */
    let res;
    try {
      res = await fetch(apiUrl(path), { ...init, signal: controller.signal });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') {
        throw new ApiError(
          'The server took too long',
          `No answer after ${REQUEST_TIMEOUT_MS / 1000} seconds. Try again in a moment.`,
        );
      }
      throw new ApiError(
        'Could not reach the server',
        'Check your internet connection and try again.' +
          (config.apiBaseUrl ? ` (API: ${config.apiBaseUrl})` : ''),
      );
    }
    // The connection can break while the body is read: the status alone then decides.
    const text = await res.text().catch(() => '');
    /** @type {unknown} */
    let json = null;
    const contentType = res.headers.get('content-type') ?? '';
    // Some proxies send JSON as text/plain; HTML error pages (502/504) are not parsed.
    if (contentType.includes('json') || /^\s*[{[]/.test(text)) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (res.ok && json) return json;
    throw errorFromResponse(res, json);
  } finally {
    clearTimeout(timer);
  }
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
function errorFromResponse(res, json) {
  const body = isObject(json) ? json : {};
  const status = res.status;
  const requestId =
    (typeof body.requestId === 'string' && body.requestId) || res.headers.get('x-amzn-requestid') || null;
  const code = typeof body.error === 'string' ? body.error : null;
  const known = isErrorCode(code) ? code : null;
  const serverMessage = typeof body.message === 'string' ? body.message : null;
  const headline = known ? HEADLINES[known] : headlineForStatus(status);
  let message = serverMessage || messageForStatus(status);
  let hint = known ? HINTS[known] : undefined;
  if (!code && (status === 401 || status === 403)) hint = 'Check the API key in config.json.';
  if (known === 'OVERLOADED') {
    // The API sends whole seconds; an HTTP-date (allowed by HTTP, not sent here) would read badly.
    const retry = res.headers.get('retry-after');
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

/** GET models: every model the server knows, available or not. */
export async function fetchModels() {
  const json = await apiFetch('models', {
    method: 'GET',
    headers: apiHeaders({ Accept: 'application/json' }),
  });
  if (!isObject(json) || !Array.isArray(json.models))
    throw new ApiError('Unexpected answer from the server', '');
  return /** @type {ModelList} */ (json).models;
}

/**
 * POST the image to classifier or detector. The answer is checked only for the array the page
 * draws; the rest of its shape is the API's contract (openapi.json).
 *
 * @param {Blob} image sent as the raw body with its own type, as curl --data-binary would
 * @param {{ task: 'classification', model: string, topK: number }
 *   | { task: 'detection', model: string, minConfidence: number }} request model '' is the server's default
 * @returns {Promise<ClassificationResponse | DetectionResponse>}
 */
export async function recognise(image, request) {
  const params = [];
  if (request.model) params.push(`model=${encodeURIComponent(request.model)}`);
  let path;
  if (request.task === 'detection') {
    params.push(`minConfidence=${request.minConfidence}`);
    path = 'detector';
  } else {
    params.push(`topK=${request.topK}`);
    path = 'classifier';
  }
  const type = image.type || 'application/octet-stream';
  const json = await apiFetch(`${path}?${params.join('&')}`, {
    method: 'POST',
    headers: apiHeaders({ 'Content-Type': type }),
    body: image,
  });
  if (isObject(json)) {
    if (Array.isArray(json.detections)) return /** @type {DetectionResponse} */ (json);
    if (Array.isArray(json.predictions)) return /** @type {ClassificationResponse} */ (json);
  }
  throw new ApiError('Unexpected answer from the server', 'The answer had no results in it.');
}
