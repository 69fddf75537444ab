// @ts-check
// What the page uploads for a chosen file. Phone photos are often 12 MP and several MB, over what
// the API takes (4.5 MB) and far more than the models look at, so they are downscaled here, in the
// browser, before anything leaves the device.

import { MAX_BODY_BYTES } from './limits.js';

/** Longest side, in pixels, of the image the page uploads. */
const MAX_SIDE = 1600;
const JPEG_QUALITY = 0.9;
/** Re-encode with lower quality while the JPEG is larger than this (the server takes 4.5 MB). */
const SOFT_MAX_BYTES = 1400 * 1000;
const FALLBACK_QUALITIES = [0.8, 0.7, 0.6];
/** Types the server accepts and the page may send unchanged when they are small enough (pixels and bytes). */
const PASS_THROUGH_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

/**
 * @typedef {object} SizeInfo
 * @property {number} bytes
 * @property {string} type MIME type, '' when the browser does not know it
 * @property {number} width 0 when the browser could not decode the file
 * @property {number} height
 */

/**
 * @typedef {object} PreparedImage
 * @property {Blob} blob what is sent
 * @property {string} name the file's name, for the preview caption
 * @property {SizeInfo} original
 * @property {SizeInfo} sent
 * @property {boolean} decoded the browser could read it as an image (so there is a preview)
 * @property {boolean} resized
 * @property {boolean} converted re-encoded as JPEG
 */

/**
 * @typedef {object} DecodedImage
 * @property {CanvasImageSource} source
 * @property {number} width
 * @property {number} height
 * @property {() => void} close frees the decoded pixels (phones have little memory)
 */

/**
 * Decodes with EXIF orientation applied, so a portrait phone photo is not sent lying on its side.
 * createImageBitmap where there is one; an <img> otherwise (older Safari).
 *
 * @param {Blob} file
 * @returns {Promise<DecodedImage>}
 */
async function decode(file) {
  if (typeof createImageBitmap === 'function') {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    return {
      source: bitmap,
      width: bitmap.width,
      height: bitmap.height,
      close: () => {
        bitmap.close();
      },
    };
  }
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      resolve({
        source: img,
        width: img.naturalWidth,
        height: img.naturalHeight,
        close: () => {
          URL.revokeObjectURL(url);
        },
      });
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error('not an image'));
    };
    img.src = url;
  });
}

/**
 * @param {DecodedImage} image
 * @param {number} width
 * @param {number} height
 * @returns {Promise<Blob | null>} null when the browser cannot encode (no 2D canvas, out of memory)
 */
async function toJpeg(image, width, height) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  ctx.fillStyle = '#ffffff'; // transparent areas become white, not black
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image.source, 0, 0, width, height);
  /** @param {number} quality */
  const encode = (quality) =>
    /** @type {Promise<Blob | null>} */ (
      new Promise((resolve) => {
        canvas.toBlob(resolve, 'image/jpeg', quality);
      })
    );
  // Very detailed (noisy) photos can stay large at 0.9; step the quality down until it fits.
  let blob = null;
  for (const quality of [JPEG_QUALITY, ...FALLBACK_QUALITIES]) {
    blob = await encode(quality);
    if (!blob || blob.size <= SOFT_MAX_BYTES) break;
  }
  canvas.width = 0; // release the bitmap memory early (phones)
  canvas.height = 0;
  return blob;
}

/**
 * Decides what to upload: small JPEG/PNG/WebP files unchanged (longest side at most MAX_SIDE and
 * within one request's bytes), everything else the browser can decode as an EXIF-oriented JPEG
 * whose longest side is at most MAX_SIDE, and files the browser cannot decode unchanged (the server
 * then says what is wrong with them; one over MAX_BODY_BYTES goes through the upload storage).
 *
 * @param {File} file
 * @returns {Promise<PreparedImage>}
 */
export async function prepare(file) {
  const name = file.name || 'pasted image';
  /** @type {SizeInfo} */
  const original = { bytes: file.size, type: file.type, width: 0, height: 0 };
  /** @param {boolean} decoded @returns {PreparedImage} */
  const asIs = (decoded) => ({
    blob: file,
    name,
    original,
    sent: { bytes: file.size, type: file.type, width: original.width, height: original.height },
    decoded,
    resized: false,
    converted: false,
  });
  /** @type {DecodedImage} */
  let image;
  try {
    image = await decode(file);
  } catch {
    return asIs(false);
  }
  original.width = image.width;
  original.height = image.height;
  const longest = Math.max(image.width, image.height);
  if (longest <= MAX_SIDE && PASS_THROUGH_TYPES.includes(file.type) && file.size <= MAX_BODY_BYTES) {
    image.close();
    return asIs(true);
  }
  const scale = Math.min(1, MAX_SIDE / longest);
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  /** @type {Blob | null} */
  let blob = null;
  try {
    blob = await toJpeg(image, width, height);
  } catch {
    // e.g. a canvas too large for the device: blob stays null and the file goes as it is
  } finally {
    image.close();
  }
  if (!blob) return asIs(true);
  return {
    blob,
    name,
    original,
    sent: { bytes: blob.size, type: blob.type, width, height },
    decoded: true,
    resized: scale < 1,
    converted: true,
  };
}
