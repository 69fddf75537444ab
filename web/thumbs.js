// @ts-check
// The small pictures of the chosen images, in the list of chosen images and next to each image's
// result. One object URL per image, shared by both, released when a new choice replaces them.

import { make } from './dom.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */

/** @type {Map<PreparedImage, string>} */
const urls = new Map();

/**
 * The image as sent (oriented and downscaled), or, for a file the browser cannot show, a tile
 * with its type. Decorative: the file's name is always written next to it.
 *
 * @param {PreparedImage} prepared
 * @returns {HTMLElement}
 */
export function thumbnail(prepared) {
  if (!prepared.decoded) {
    const extension = /\.(\w{1,5})$/.exec(prepared.name)?.[1] ?? '?';
    const tile = make('span', 'thumb thumb-none', extension.toUpperCase());
    tile.setAttribute('aria-hidden', 'true');
    return tile;
  }
  let url = urls.get(prepared);
  if (!url) {
    url = URL.createObjectURL(prepared.blob);
    urls.set(prepared, url);
  }
  const img = make('img', 'thumb');
  img.alt = '';
  img.src = url;
  return img;
}

/** Frees the thumbnails of the previous choice. */
export function releaseThumbnails() {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
}
