// @ts-check
// The results of several images: one row per image, in the order they were chosen, with its
// thumbnail and name, and its top label (and summary line), the objects found in it, or its own error.

import { clear, el, make } from './dom.js';
import { formatMs, formatPercent, nbsp } from './format.js';
import { showSummary, summaryOf } from './summary.js';
import { thumbnail } from './thumbs.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */
/** @typedef {import('./batch.js').Outcome} Outcome */
/** @typedef {import('./batch.js').DetectionItem} DetectionItem */

/** Objects are counted from this score, the score slider's initial value in the single view. */
const MIN_SCORE = 0.3;

/** @param {DetectionItem} result "2 objects: person (2)" / "No objects with a score of at least 0.30." */
function describeObjects(result) {
  const shown = result.detections.filter((d) => d.score >= MIN_SCORE).sort((a, b) => b.score - a.score);
  if (shown.length === 0) return `No objects with a score of at least ${MIN_SCORE.toFixed(2)}.`;
  /** @type {Map<string, number>} labels in order of their best score */
  const counts = new Map();
  for (const d of shown) counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
  const labels = [...counts].map(([label, n]) => (n > 1 ? `${label} (${n})` : label));
  return `${shown.length} object${shown.length === 1 ? '' : 's'}: ${labels.join(', ')}`;
}

/**
 * @param {PreparedImage} image
 * @param {Outcome} outcome
 */
function row(image, outcome) {
  const item = make('li', `batch-item${outcome.ok ? '' : ' is-error'}`);
  item.appendChild(thumbnail(image));
  const body = make('div', 'batch-body');
  const name = make('span', 'batch-name', image.name);
  name.title = image.name; // a long name is cut short on screen
  body.appendChild(name);
  if (!outcome.ok) {
    body.appendChild(make('strong', 'batch-error-headline', outcome.error.headline));
    if (outcome.error.message) body.appendChild(make('span', 'batch-error-message', outcome.error.message));
  } else if (outcome.result.task === 'detection') {
    body.appendChild(make('span', 'batch-answer', describeObjects(outcome.result)));
  } else {
    const top = outcome.result.predictions[0];
    const answer = make(
      'span',
      'batch-answer',
      top ? top.label : (outcome.result.label ?? 'Nothing above the threshold'),
    );
    if (top) {
      answer.appendChild(document.createTextNode(' '));
      answer.appendChild(make('span', 'batch-score', formatPercent(top.probability)));
    }
    body.appendChild(answer);
    const summary = summaryOf(outcome.result);
    if (summary) {
      const kind = make('div', 'kind');
      showSummary(kind, summary);
      body.appendChild(kind);
    }
  }
  item.appendChild(body);
  return item;
}

/**
 * @param {readonly PreparedImage[]} images
 * @param {readonly Outcome[]} outcomes one per image, same order
 * @param {{ roundTripMs: number, requests: number, requestIds: readonly string[] }} run
 */
export function showBatch(images, outcomes, run) {
  clear(el.batchList);
  images.forEach((image, i) => {
    const outcome = outcomes[i];
    if (outcome) el.batchList.appendChild(row(image, outcome));
  });
  const failed = outcomes.filter((o) => !o.ok).length;
  el.batchSummary.textContent =
    `${images.length} images: ${images.length - failed} answered` +
    (failed > 0 ? `, ${failed} not (the reason is under each one).` : '.');
  el.resultsEmpty.hidden = true;
  el.batch.hidden = false;

  const answered = outcomes.flatMap((o) => (o.ok ? [o.result] : []));
  const parts = [
    nbsp(`round trip ${formatMs(run.roundTripMs)}`),
    nbsp(`${run.requests} request${run.requests === 1 ? '' : 's'}`),
  ];
  const models = [...new Set(answered.map((r) => r.model))];
  if (models.length > 0) parts.push(nbsp(`model ${models.join(', ')}`));
  const inference = answered.reduce((sum, r) => sum + r.timings.inferenceMs, 0);
  if (answered.length > 0) parts.push(nbsp(`inference ${formatMs(inference)} in all`));
  const lines = [parts.join(' · ')];
  if (run.requestIds.length > 0) lines.push(`request ${run.requestIds.join(', ')}`);
  el.timings.textContent = lines.join('\n');
  el.timings.hidden = false;
}
