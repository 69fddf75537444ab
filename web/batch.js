// @ts-check
// Several images at once: packed into as few multipart requests as the API's limits allow (16
// files, 4.5 MB together; usually one request), photos too large for any request uploaded one by
// one, and every image's own answer or own error collected in the order they were chosen.

import { ApiError, errorFromItem } from './api-errors.js';
import { recogniseMany } from './api-client.js';
import { MAX_BATCH_IMAGES, MAX_BODY_BYTES } from './limits.js';
import { recogniseLarge } from './upload.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */
/** @typedef {import('./api-client.js').RecognitionRequest} RecognitionRequest */
/** @typedef {import('./api-types').components['schemas']['ClassificationItem']} ClassificationItem */
/** @typedef {import('./api-types').components['schemas']['DetectionItem']} DetectionItem */
/**
 * One image's outcome: its answer, or why it has none.
 * @typedef {{ ok: true, result: ClassificationItem | DetectionItem } | { ok: false, error: ApiError }} Outcome
 */

/**
 * Which images go together. In order, each image joins the current request while that stays within
 * MAX_BATCH_IMAGES files and MAX_BODY_BYTES; an image over MAX_BODY_BYTES on its own is uploaded.
 *
 * @param {readonly number[]} sizes the bytes of each image to send
 * @returns {{ groups: number[][], large: number[] }} indexes into `sizes`
 */
export function planBatch(sizes) {
  /** @type {number[][]} */
  const groups = [];
  /** @type {number[]} */
  const large = [];
  /** @type {number[]} */
  let group = [];
  let bytes = 0;
  sizes.forEach((size, i) => {
    if (size > MAX_BODY_BYTES) {
      large.push(i);
      return;
    }
    if (group.length === MAX_BATCH_IMAGES || bytes + size > MAX_BODY_BYTES) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(i);
    bytes += size;
  });
  if (group.length > 0) groups.push(group);
  return { groups, large };
}

/** @param {unknown} e */
function asApiError(e) {
  if (e instanceof ApiError) return e;
  return new ApiError('Something went wrong', e instanceof Error ? e.message : String(e));
}

/**
 * Sends the images and collects one outcome per image. A failed request (network, 413, the server
 * busy) is every image's outcome in it; a failed image is only its own.
 *
 * @param {readonly PreparedImage[]} images
 * @param {RecognitionRequest} request
 * @param {(status: string) => void} onStatus progress text for the line under Send
 * @returns {Promise<{ outcomes: Outcome[], requests: number, requestIds: string[] }>}
 */
export async function runBatch(images, request, onStatus) {
  const { groups, large } = planBatch(images.map((image) => image.blob.size));
  /** @type {Outcome[]} */
  const outcomes = images.map(() => ({
    ok: false,
    error: new ApiError('No answer', 'The server’s answer had no result for this image.'),
  }));
  /** @type {string[]} */
  const requestIds = [];
  let requests = 0;

  for (const group of groups) {
    const first = (group[0] ?? 0) + 1;
    const last = (group[group.length - 1] ?? 0) + 1;
    onStatus(
      groups.length === 1 && large.length === 0
        ? `Sending ${group.length} images…`
        : `Sending ${group.length === 1 ? `image ${first}` : `images ${first}–${last}`} of ${images.length}…`,
    );
    requests++;
    try {
      const answer = await recogniseMany(
        group.map((i) => ({
          blob: /** @type {PreparedImage} */ (images[i]).blob,
          name: images[i]?.name ?? '',
        })),
        request,
      );
      if (answer.requestId) requestIds.push(answer.requestId);
      group.forEach((index, k) => {
        const item = answer.results[k];
        if (!item) return;
        outcomes[index] =
          'error' in item
            ? { ok: false, error: errorFromItem(item, answer.requestId) }
            : { ok: true, result: item };
      });
    } catch (e) {
      const error = asApiError(e);
      if (error.requestId) requestIds.push(error.requestId);
      for (const index of group) outcomes[index] = { ok: false, error };
    }
  }

  /** @type {ApiError | null} once the server says it has no upload storage, it is not asked again */
  let noUploads = null;
  for (const index of large) {
    if (noUploads) {
      outcomes[index] = { ok: false, error: noUploads };
      continue;
    }
    const image = /** @type {PreparedImage} */ (images[index]);
    requests++;
    try {
      const {
        coldStart: _,
        requestId,
        ...result
      } = await recogniseLarge(image.blob, request, (status) => {
        onStatus(`Image ${index + 1} of ${images.length}: ${status}`);
      });
      requestIds.push(requestId);
      outcomes[index] = { ok: true, result };
    } catch (e) {
      const error = asApiError(e);
      if (error.code === 'UPLOADS_UNAVAILABLE') noUploads = error;
      if (error.requestId) requestIds.push(error.requestId);
      outcomes[index] = { ok: false, error };
    }
  }
  return { outcomes, requests, requestIds };
}
