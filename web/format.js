// @ts-check
// How numbers read on the page: pure functions, no DOM.

/** @typedef {import('./image-prep.js').SizeInfo} SizeInfo */

/** @param {number} n a byte count; kB and MB are decimal, as file managers show them */
export function formatBytes(n) {
  if (n < 1000) return `${n}${n === 1 ? ' byte' : ' bytes'}`;
  if (n < 1000 * 1000) return `${(n / 1000).toFixed(n < 10000 ? 1 : 0)} kB`;
  return `${(n / 1000 / 1000).toFixed(n < 10 * 1000 * 1000 ? 2 : 1)} MB`;
}

/** @param {number} n shown with thousands separators (fixed locale, so the page reads the same everywhere) */
export function formatInt(n) {
  return Math.round(n).toLocaleString('en-US');
}

/** @param {number} p a probability or score in [0, 1]; one decimal below 10 % so small values are not "0%" */
export function formatPercent(p) {
  const v = p * 100;
  return `${v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1)}%`;
}

/** @type {Readonly<Record<string, string>>} */
const SHORT_TYPES = { 'image/jpeg': 'JPEG', 'image/png': 'PNG', 'image/webp': 'WebP', 'image/gif': 'GIF' };

/** @param {string} type a MIME type, '' when the browser does not know it */
export function formatType(type) {
  if (!type) return 'unknown type';
  return SHORT_TYPES[type] ?? type;
}

/**
 * "768 × 576 px, 54.2 kB (54,213 bytes), JPEG": pixels only when known (a file the browser could not
 * decode has none), exact bytes so the user can compare with the file on disk.
 *
 * @param {SizeInfo} info
 */
export function describeSize(info) {
  const parts = [];
  if (info.width && info.height) parts.push(`${formatInt(info.width)} × ${formatInt(info.height)} px`);
  parts.push(formatBytes(info.bytes) + (info.bytes >= 1000 ? ` (${formatInt(info.bytes)} bytes)` : ''));
  parts.push(formatType(info.type));
  return parts.join(', ');
}

/** @param {number} ms */
export function formatMs(ms) {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** Keeps a short phrase on one line when the timings wrap ("inference 12 ms", not "inference / 12 ms"). */
export function nbsp(/** @type {string} */ text) {
  return text.replace(/ /g, '\u00a0');
}
