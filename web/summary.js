// @ts-check
// The classifier's summary under a top label: "A kind of: sled dog (80%)", the most specific WordNet
// ancestor whose summed probability reaches the server's summaryThreshold, with its path from the
// root as a small breadcrumb ("animal › … › dog › working dog › sled dog"). ImageNet models only:
// the answer's `summary` is null when no ancestor reaches the threshold and absent for models
// without a hierarchy; there is then no line at all.

import { clear, make } from './dom.js';
import { formatPercent } from './format.js';

/** @typedef {import('./api-client.js').ClassificationResponse} ClassificationResponse */
/** @typedef {import('./api-types').components['schemas']['ClassificationItem']} ClassificationItem */
/**
 * The answer's `summary`, typed here until web/api-types.d.ts has it (the intersection below stays
 * valid once the generated type gains the field).
 *
 * @typedef {object} Summary
 * @property {string} label the ancestor's name, e.g. "sled dog"
 * @property {string} wnid its WordNet id, e.g. "n02109811"
 * @property {number} probability the summed probability of the classes under it
 * @property {string[]} path from the root to the ancestor, the ancestor last
 */

/**
 * @param {ClassificationResponse | ClassificationItem} answer
 * @returns {Summary | null} null when the answer has none (null or absent)
 */
export function summaryOf(answer) {
  const withSummary = /** @type {typeof answer & { summary?: Summary | null }} */ (answer);
  return withSummary.summary ?? null;
}

/**
 * Fills `container` with the summary line and its path, or empties and hides it when there is none.
 *
 * @param {HTMLElement} container
 * @param {Summary | null} summary
 */
export function showSummary(container, summary) {
  clear(container);
  container.hidden = !summary;
  if (!summary) return;
  const line = make('p', 'kind-line', 'A kind of: ');
  const label = make('b', 'kind-label', summary.label);
  label.title = summary.wnid; // the WordNet id, as on the predictions' labels
  line.appendChild(label);
  line.appendChild(document.createTextNode(' '));
  line.appendChild(make('span', 'kind-probability', `(${formatPercent(summary.probability)})`));
  container.appendChild(line);
  if (summary.path.length > 1) {
    // A list, so assistive technology reads the steps (the › between them is CSS with empty alt text).
    const path = make('ol', 'kind-path');
    path.setAttribute('aria-label', 'Where it sits in WordNet');
    for (const step of summary.path) path.appendChild(make('li', null, step));
    container.appendChild(path);
  }
}
