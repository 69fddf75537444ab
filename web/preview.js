// @ts-check
// The chosen image as the page shows it: the preview (the detection boxes are drawn over it) and
// the original and sent sizes, so the user sees what the in-browser downscale did. Several chosen
// images are listed instead, each with its thumbnail and sent size, and the sizes are totals.

import { clear, el, make } from './dom.js';
import { describeSize, formatBytes } from './format.js';
import { MAX_BODY_BYTES } from './limits.js';
import { thumbnail } from './thumbs.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */

/** The object URL of the image on show; revoked when the next one replaces it. */
let previewUrl = /** @type {string | null} */ (null);

function hidePreview() {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  clear(el.overlay);
  el.previewImage.removeAttribute('src');
  el.preview.hidden = true;
  el.noPreview.hidden = true;
}

/** @param {PreparedImage} prepared */
export function showPreview(prepared) {
  hidePreview();
  el.selection.hidden = true;
  clear(el.selection);
  if (prepared.decoded) {
    // The preview shows what is sent (oriented and downscaled), so boxes line up with it.
    previewUrl = URL.createObjectURL(prepared.blob);
    el.previewImage.src = previewUrl;
    el.previewImage.alt = `Preview of ${prepared.name}`;
    el.previewCaption.textContent = prepared.name;
    el.preview.hidden = false;
  } else {
    el.noPreview.textContent = `No preview: your browser cannot show “${prepared.name}” as an image. You can still send it; the server will say whether it can read it.`;
    el.noPreview.hidden = false;
  }
  el.dropzone.classList.add('has-image');
  el.dropzoneTitle.textContent = 'Choose another photo';
}

/** @param {PreparedImage} prepared */
export function showSizes(prepared) {
  el.sizeOriginal.textContent = describeSize(prepared.original);
  let sent = describeSize(prepared.sent);
  if (prepared.resized) sent += ' — downscaled in your browser';
  else if (prepared.converted) sent += ' — converted to JPEG in your browser';
  else if (!prepared.decoded) sent += ' — unchanged (not readable as an image here)';
  else sent += ' — unchanged';
  if (prepared.sent.bytes > MAX_BODY_BYTES) sent += '; too large for one request, so it is uploaded first';
  el.sizeSent.textContent = sent;
  el.sizes.hidden = false;
}

/**
 * Several images: a list with each one's thumbnail, name and sent size, and the totals.
 *
 * @param {readonly PreparedImage[]} images
 * @param {number} leftOut files chosen beyond the page's limit, not prepared
 */
export function showSelection(images, leftOut) {
  hidePreview();
  clear(el.selection);
  for (const image of images) {
    const item = make('li', 'selection-item');
    item.appendChild(thumbnail(image));
    const text = make('span', 'selection-text');
    const name = make('span', 'selection-name', image.name);
    name.title = image.name; // a long name is cut short on screen
    text.appendChild(name);
    text.appendChild(make('span', 'selection-size', describeSize(image.sent)));
    item.appendChild(text);
    el.selection.appendChild(item);
  }
  el.selection.hidden = false;

  const total = (/** @type {(image: PreparedImage) => number} */ bytes) =>
    formatBytes(images.reduce((sum, image) => sum + bytes(image), 0));
  el.sizeOriginal.textContent =
    `${images.length} files, ${total((i) => i.original.bytes)}` +
    (leftOut > 0 ? ` (${leftOut} more left out: at most ${images.length} at once)` : '');
  const changed = images.filter((i) => i.converted).length;
  const uploaded = images.filter((i) => i.sent.bytes > MAX_BODY_BYTES).length;
  let sent = `${images.length} files, ${total((i) => i.sent.bytes)}`;
  if (changed > 0) sent += ` — ${changed} downscaled or converted in your browser`;
  if (uploaded > 0) sent += `; ${uploaded} too large for a request, uploaded first`;
  el.sizeSent.textContent = sent;
  el.sizes.hidden = false;
  el.dropzone.classList.add('has-image');
  el.dropzoneTitle.textContent = 'Choose other photos';
}
