// @ts-check
// Every request the page makes to the API: config.json, GET models, POST classifier / detector (one
// image as the body, several as one form, or an upload's key), POST uploads. Failures of any kind
// (network, timeout, the API's error body, a proxy's HTML page) become one ApiError (api-errors.js).
// Response types are generated from the API's openapi.json (web/api-types.d.ts, `npm run web:types`),
// so a renamed field fails `npm run typecheck`.

import { ApiError, errorFromResponse, isObject } from './api-errors.js';

export { ApiError };

/** @typedef {import('./api-types').components['schemas']} Schemas */
/** @typedef {Schemas['ClassificationResponse']} ClassificationResponse */
/** @typedef {Schemas['DetectionResponse']} DetectionResponse */
/** @typedef {Schemas['BatchResponse']} BatchResponse */
/** @typedef {BatchResponse['results'][number]} BatchItem */
/** @typedef {Schemas['UploadTicket']} UploadTicket */
/** @typedef {Schemas['ModelList']} ModelList */
/** @typedef {ModelList['models'][number]} ModelInfo */
/**
 * What to ask for; model '' is the server's default.
 * @typedef {{ task: 'classification', model: string, topK: number }
 *   | { task: 'detection', model: string, minConfidence: number }} RecognitionRequest
 */

const REQUEST_TIMEOUT_MS = 60000;

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
 * The route and query string of a recognition request: the options go in the query, so the same
 * path serves a raw body, a form or JSON.
 *
 * @param {RecognitionRequest} request
 */
function recognitionPath(request) {
  const params = [];
  if (request.model) params.push(`model=${encodeURIComponent(request.model)}`);
  if (request.task === 'detection') {
    params.push(`minConfidence=${request.minConfidence}`);
    return `detector?${params.join('&')}`;
  }
  params.push(`topK=${request.topK}`);
  return `classifier?${params.join('&')}`;
}

/**
 * One image's answer. Checked only for the array the page draws; the rest of its shape is the
 * API's contract (openapi.json).
 *
 * @param {unknown} json
 * @returns {ClassificationResponse | DetectionResponse}
 */
function singleAnswer(json) {
  if (isObject(json)) {
    if (Array.isArray(json.detections)) return /** @type {DetectionResponse} */ (json);
    if (Array.isArray(json.predictions)) return /** @type {ClassificationResponse} */ (json);
  }
  throw new ApiError('Unexpected answer from the server', 'The answer had no results in it.');
}

/**
 * POST one image to classifier or detector.
 *
 * @param {Blob} image sent as the raw body with its own type, as curl --data-binary would
 * @param {RecognitionRequest} request
 * @returns {Promise<ClassificationResponse | DetectionResponse>}
 */
export async function recognise(image, request) {
  const type = image.type || 'application/octet-stream';
  const json = await apiFetch(recognitionPath(request), {
    method: 'POST',
    headers: apiHeaders({ 'Content-Type': type }),
    body: image,
  });
  return singleAnswer(json);
}

/**
 * POST a photo that was uploaded (uploadPhoto) by its key: `{"s3": {"key"}}`.
 *
 * @param {string} key the upload ticket's s3.key
 * @param {RecognitionRequest} request
 * @returns {Promise<ClassificationResponse | DetectionResponse>}
 */
export async function recogniseUploaded(key, request) {
  const json = await apiFetch(recognitionPath(request), {
    method: 'POST',
    headers: apiHeaders({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ s3: { key } }),
  });
  return singleAnswer(json);
}

/**
 * POST several images as one multipart form (one file field per image). The answer has one result
 * per image, in order: the image's answer or its own error. A form with one file is answered like a
 * single image; that answer is returned as a one-item batch.
 *
 * @param {ReadonlyArray<{ blob: Blob, name: string }>} images together within the body limit
 * @param {RecognitionRequest} request
 * @returns {Promise<{ results: BatchItem[], requestId: string | null }>}
 */
export async function recogniseMany(images, request) {
  const form = new FormData();
  for (const image of images) form.append('image', image.blob, image.name);
  // No Content-Type header: the browser writes it with the form's boundary.
  const json = await apiFetch(recognitionPath(request), {
    method: 'POST',
    headers: apiHeaders({}),
    body: form,
  });
  if (isObject(json) && Array.isArray(json.results)) {
    const batch = /** @type {BatchResponse} */ (json);
    return { results: batch.results, requestId: batch.requestId };
  }
  const { coldStart: _, requestId, ...item } = singleAnswer(json);
  return { results: [item], requestId };
}

/**
 * POST uploads: where to PUT a photo too large for a request body. 501 UPLOADS_UNAVAILABLE where
 * the server has no upload storage.
 *
 * @param {string} contentType one of the image types the API reads
 * @param {number} size the photo's bytes
 * @returns {Promise<UploadTicket>}
 */
export async function createUpload(contentType, size) {
  const json = await apiFetch('uploads', {
    method: 'POST',
    headers: apiHeaders({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ contentType, size }),
  });
  if (
    isObject(json) &&
    typeof json.url === 'string' &&
    isObject(json.headers) &&
    isObject(json.s3) &&
    typeof json.s3.key === 'string'
  )
    return /** @type {UploadTicket} */ (json);
  throw new ApiError('Unexpected answer from the server', 'The upload ticket had no address in it.');
}
