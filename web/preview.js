// @ts-check
// The chosen image as the page shows it: the preview (the detection boxes are drawn over it) and
// the original and sent sizes, so the user sees what the in-browser downscale did.

import { clear, el } from './dom.js';
import { describeSize } from './format.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */

/** The object URL of the image on show; revoked when the next one replaces it. */
let previewUrl = /** @type {string | null} */ (null);

/** @param {PreparedImage} prepared */
export function showPreview(prepared) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  clear(el.overlay);
  if (prepared.decoded) {
    // The preview shows what is sent (oriented and downscaled), so boxes line up with it.
    previewUrl = URL.createObjectURL(prepared.blob);
    el.previewImage.src = previewUrl;
    el.previewImage.alt = `Preview of ${prepared.name}`;
    el.previewCaption.textContent = prepared.name;
    el.preview.hidden = false;
    el.noPreview.hidden = true;
  } else {
    el.previewImage.removeAttribute('src');
    el.preview.hidden = true;
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
  el.sizeSent.textContent = sent;
  el.sizes.hidden = false;
}
