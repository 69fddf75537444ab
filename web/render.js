// @ts-check
// The results panel: classification (labels with probability bars, and the summary line of
// summary.js), detection (boxes over the preview and a list, filtered by the score slider in the
// browser), the timings line, and the alert.
// The results of several images at once are batch-view.js's; clearResults clears them too.

import { clear, el, make } from './dom.js';
import { formatMs, formatPercent, nbsp } from './format.js';
import { showSummary, summaryOf } from './summary.js';

/** @typedef {import('./api-client.js').ClassificationResponse} ClassificationResponse */
/** @typedef {import('./api-client.js').DetectionResponse} DetectionResponse */
/** @typedef {DetectionResponse['detections'][number]} Detection */
/** @typedef {import('./api-types').components['schemas']['Timings']} Timings */

/**
 * @typedef {object} Alert
 * @property {string} headline
 * @property {string} [detail]
 * @property {string | null} [requestId] shown as "Reference: …" for support
 */

/** The last detection answer, best score first: the slider re-filters it without a new request. */
let detections = /** @type {Detection[]} */ ([]);
/** Colour class per label (c0…c7, style.css). */
let colours = /** @type {Map<string, string>} */ (new Map());

export function clearResults() {
  el.classification.hidden = true;
  el.detection.hidden = true;
  el.batch.hidden = true;
  el.timings.hidden = true;
  el.resultsEmpty.hidden = false;
  clear(el.predictions);
  clear(el.detections);
  clear(el.overlay);
  clear(el.batchList);
  showSummary(el.topSummary, null);
  detections = [];
}

/**
 * @param {ClassificationResponse} json
 * @param {number} topK how many labels to list
 */
export function showClassification(json, topK) {
  clearResults();
  const predictions = json.predictions.slice(0, topK);
  const top = predictions[0];
  el.topLabel.textContent = top ? top.label : (json.label ?? 'Nothing above the threshold');
  el.topProbability.textContent = top ? formatPercent(top.probability) : '';
  showSummary(el.topSummary, summaryOf(json));
  predictions.forEach((p, i) => {
    const item = make('li', `prediction${i === 0 ? ' is-top' : ''}`);
    const row = make('div', 'prediction-row');
    const name = make('span', 'prediction-label', p.label);
    if (p.synset) name.title = p.synset; // the WordNet id, for those who want it
    row.appendChild(name);
    row.appendChild(make('span', 'prediction-value', formatPercent(p.probability)));
    item.appendChild(row);
    const bar = make('div', 'bar');
    bar.setAttribute('aria-hidden', 'true'); // the percentage is already read out
    const fill = make('div', 'bar-fill');
    // Through the CSSOM: the CSP (style-src 'self') forbids style attributes, not this.
    fill.style.width = `${Math.max(0, Math.min(100, p.probability * 100)).toFixed(1)}%`;
    bar.appendChild(fill);
    item.appendChild(bar);
    el.predictions.appendChild(item);
  });
  el.resultsEmpty.hidden = true;
  el.classification.hidden = false;
}

/** @param {DetectionResponse} json */
export function showDetections(json) {
  clearResults();
  detections = json.detections.slice().sort((a, b) => b.score - a.score);
  // One colour per label, in order of the best score, so the main objects never share a colour.
  colours = new Map();
  for (const d of detections) {
    if (!colours.has(d.label)) colours.set(d.label, `c${colours.size % 8}`);
  }
  el.resultsEmpty.hidden = true;
  el.detection.hidden = false;
  renderDetections();
}

/** The slider's value; 0.3 (the initial value in classifier.html) if it cannot be read. */
function threshold() {
  const v = parseFloat(el.threshold.value);
  return isNaN(v) ? 0.3 : v;
}

/** Draws the boxes and the list for the detections at or above the slider's score. */
export function renderDetections() {
  const min = threshold();
  el.thresholdValue.textContent = min.toFixed(2);
  clear(el.overlay);
  clear(el.detections);
  const shown = detections.filter((d) => d.score >= min);
  for (const d of shown) {
    const colour = colours.get(d.label) ?? 'c0';
    // boxNormalized is in [0, 1] of the image the server saw, which is the preview (same
    // orientation and aspect), so percentages place the box at any displayed size.
    const n = d.boxNormalized;
    const x1 = clamp01(n.x1);
    const y1 = clamp01(n.y1);
    const x2 = clamp01(n.x2);
    const y2 = clamp01(n.y2);
    const box = make('div', `box ${colour}`);
    box.style.left = `${(x1 * 100).toFixed(3)}%`;
    box.style.top = `${(y1 * 100).toFixed(3)}%`;
    box.style.width = `${(Math.max(0, x2 - x1) * 100).toFixed(3)}%`;
    box.style.height = `${(Math.max(0, y2 - y1) * 100).toFixed(3)}%`;
    // The tag sits above the box unless that would leave the image, and left-aligned unless the
    // box starts far right.
    let place = y1 < 0.06 ? ' is-inside' : '';
    if (x1 > 0.6) place += ' is-right';
    box.appendChild(make('span', `box-label${place}`, `${d.label} ${formatPercent(d.score)}`));
    el.overlay.appendChild(box);

    const item = make('li', 'detection-item');
    item.appendChild(make('span', `swatch ${colour}`));
    item.appendChild(make('span', 'detection-label', d.label));
    item.appendChild(make('span', 'detection-score', formatPercent(d.score)));
    el.detections.appendChild(item);
  }
  const total = detections.length;
  if (total === 0) {
    el.detectionSummary.textContent = 'No objects found.';
  } else if (shown.length === 0) {
    el.detectionSummary.textContent = `No objects with a score of at least ${min.toFixed(2)} (${total} below it). Lower the minimum score to see them.`;
  } else {
    el.detectionSummary.textContent = `Showing ${shown.length} of ${total} object${total === 1 ? '' : 's'} with a score of at least ${min.toFixed(2)}.`;
  }
}

/** @param {number} v */
function clamp01(v) {
  if (!isFinite(v)) return 0;
  return Math.max(0, Math.min(1, v));
}

/** @type {ReadonlyArray<[keyof Timings, string]>} the server's stages, in the order they run */
const STAGES = [
  ['decodeMs', 'decode'],
  ['preprocessMs', 'preprocess'],
  ['inferenceMs', 'inference'],
  ['postprocessMs', 'postprocess'],
  ['totalMs', 'server total'],
];

/**
 * Small print under the results: the server's stage timings and the round trip, then what the
 * server saw (model, decoded size and format, cold start, request id).
 *
 * @param {ClassificationResponse | DetectionResponse} json
 * @param {number} roundTripMs measured by the page, upload included
 */
export function showTimings(json, roundTripMs) {
  const parts = STAGES.map(([key, name]) => nbsp(`${name} ${formatMs(json.timings[key])}`));
  parts.push(nbsp(`round trip ${formatMs(roundTripMs)}`));
  const lines = [parts.join(' · ')];
  const about = [];
  if (json.model) about.push(nbsp(`model ${json.model}`));
  about.push(nbsp(`server saw ${json.image.width}×${json.image.height} ${json.image.format}`));
  if (json.coldStart) about.push(nbsp('cold start (model loaded for this request)'));
  if (json.requestId) about.push(`request ${json.requestId}`);
  lines.push(about.join(' · '));
  el.timings.textContent = lines.join('\n');
  el.timings.hidden = false;
}

/** @param {Alert} alert */
export function showError(alert) {
  clear(el.error);
  el.error.appendChild(make('strong', 'alert-headline', alert.headline));
  if (alert.detail) el.error.appendChild(make('span', 'alert-message', alert.detail));
  if (alert.requestId) el.error.appendChild(make('span', 'alert-reference', `Reference: ${alert.requestId}`));
  el.error.hidden = false;
  el.resultsEmpty.hidden = true;
}

export function hideError() {
  el.error.hidden = true;
  clear(el.error);
}
