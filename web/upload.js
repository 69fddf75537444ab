// @ts-check
// A photo too large for a request body (one the browser could not re-encode smaller, e.g. a TIFF)
// goes through the upload storage: POST uploads answers a presigned PUT, the photo is PUT there (S3,
// another origin: the page's CSP lists it in connect-src), and classifier / detector are then asked
// about it by its key. XMLHttpRequest, not fetch, for the PUT: it reports upload progress.

import { ApiError } from './api-errors.js';
import { createUpload, recogniseUploaded } from './api-client.js';
import { formatBytes } from './format.js';

/** @typedef {import('./api-client.js').RecognitionRequest} RecognitionRequest */
/** @typedef {import('./api-client.js').UploadTicket} UploadTicket */

/** The types POST uploads takes (openapi.json, createUpload). */
const UPLOAD_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff'];
/** Headers the browser sets itself from the body and the URL; setting them is refused. */
const BROWSER_HEADERS = new Set(['content-length', 'host']);
/** An upload that sends nothing more for this long is given up. */
const IDLE_TIMEOUT_MS = 60000;

/**
 * The type to announce for the upload: the file's own when the API takes it, else the one its first
 * bytes show (a file without an extension, or `image/jpg`). Neither: the file's own, and POST
 * uploads says which types it takes.
 *
 * @param {Blob} blob
 */
async function uploadType(blob) {
  if (UPLOAD_TYPES.includes(blob.type)) return blob.type;
  const b = new Uint8Array(await blob.slice(0, 16).arrayBuffer());
  const ascii = (/** @type {number} */ from, /** @type {number} */ to) =>
    String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return 'image/png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (ascii(0, 4) === 'GIF8') return 'image/gif';
  if (ascii(4, 8) === 'ftyp' && /^avi[fs]$/.test(ascii(8, 12))) return 'image/avif';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'image/tiff';
  return blob.type || 'application/octet-stream';
}

/** @param {XMLHttpRequest} xhr the storage's refusal, e.g. S3's `<Error><Code>…</Code><Message>…` */
function storageError(xhr) {
  const text = typeof xhr.responseText === 'string' ? xhr.responseText : '';
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]{1,300})<\/Message>/.exec(text)?.[1];
  const said = [code, message].filter(Boolean).join(': ');
  return new ApiError(
    'The upload failed',
    `The upload storage answered HTTP ${xhr.status}${said ? ` (${said})` : ''}. Try again in a moment.`,
    { status: xhr.status },
  );
}

/**
 * PUTs the photo to the ticket's presigned URL with exactly the ticket's headers (Content-Type and
 * Content-Length are part of the signature; the browser writes Content-Length from the body).
 *
 * @param {UploadTicket} ticket
 * @param {Blob} blob
 * @param {(fraction: number) => void} onProgress
 * @returns {Promise<void>}
 */
function putToStorage(ticket, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let stalled = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let idle;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stalled = true;
        xhr.abort();
      }, IDLE_TIMEOUT_MS);
    };
    xhr.open(ticket.method, ticket.url);
    for (const [name, value] of Object.entries(ticket.headers)) {
      if (!BROWSER_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener('progress', (e) => {
      arm();
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('loadend', () => {
      clearTimeout(idle);
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else if (xhr.status !== 0) reject(storageError(xhr));
      else if (stalled)
        reject(
          new ApiError(
            'The upload stalled',
            `Nothing was sent for ${IDLE_TIMEOUT_MS / 1000} seconds. Check your connection and try again.`,
          ),
        );
      // Status 0: no answer the page may read (network down, or the storage's CORS refused this origin).
      else
        reject(
          new ApiError(
            'The upload failed',
            'The photo could not be sent to the upload storage. Check your connection and try again.',
          ),
        );
    });
    arm();
    xhr.send(blob);
  });
}

/**
 * Uploads the photo and asks classifier or detector about it: the same answer as for a body.
 *
 * @param {Blob} blob
 * @param {RecognitionRequest} request
 * @param {(status: string) => void} onStatus progress text for the line under Send
 */
export async function recogniseLarge(blob, request, onStatus) {
  const size = formatBytes(blob.size);
  onStatus(`Uploading… (${size}: too large to send directly)`);
  const ticket = await createUpload(await uploadType(blob), blob.size);
  let shown = -1;
  await putToStorage(ticket, blob, (fraction) => {
    // Whole tens of percent: a screen reader reading the line is not flooded.
    const percent = Math.floor(fraction * 10) * 10;
    if (percent === shown) return;
    shown = percent;
    onStatus(`Uploading… ${percent}% of ${size}`);
  });
  onStatus('Uploaded; waiting for the server…');
  return recogniseUploaded(ticket.s3.key, request);
}
