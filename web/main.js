// @ts-check
// Image recognition page: plain JavaScript modules, no build step, no dependencies. Works under the CSP
// `default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'`:
// no inline scripts, handlers or style attributes (styles set through the CSSOM are allowed).
// This file wires the parts together and holds the page's state: the chosen image and the request.

import { ApiError, fetchModels, loadConfig, recognise } from './api-client.js';
import { el, resultsPanel } from './dom.js';
import { listenForImages } from './image-input.js';
import { prepare } from './image-prep.js';
import { currentTask, fillModels, setModels, updateModelDescription } from './models.js';
import { showPreview, showSizes } from './preview.js';
import {
  clearResults,
  hideError,
  renderDetections,
  showClassification,
  showDetections,
  showError,
  showTimings,
} from './render.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */

const TOP_K = 5;
/** The detector is asked for everything above this so that the slider can filter client-side. */
const DETECTOR_MIN_CONFIDENCE = 0.05;

const state = {
  /** @type {PreparedImage | null} */
  prepared: null,
  busy: false,
  /** Bumped for every chosen file: answers for an earlier one are dropped. */
  selectionId: 0,
};

/** @param {File} file */
async function chooseFile(file) {
  const selectionId = ++state.selectionId;
  hideError();
  clearResults();
  state.prepared = null;
  el.sizes.hidden = true;
  updateSendState('Preparing the image…');
  el.dropzone.classList.add('is-busy');
  const prepared = await prepare(file);
  if (selectionId !== state.selectionId) return; // a newer file was chosen meanwhile
  el.dropzone.classList.remove('is-busy');
  state.prepared = prepared;
  showPreview(prepared);
  showSizes(prepared);
  updateSendState();
}

/** @param {string} [hint] replaces the line under Send (e.g. while the image is prepared) */
function updateSendState(hint) {
  // While a request runs the button stays focusable (a disabled button would drop the keyboard
  // focus to the top of the page); aria-disabled tells assistive technology, send() ignores it.
  el.send.disabled = !state.prepared;
  if (state.busy) el.send.setAttribute('aria-disabled', 'true');
  else el.send.removeAttribute('aria-disabled');
  el.send.textContent = state.busy ? 'Sending…' : 'Send';
  if (hint) el.sendHint.textContent = hint;
  else if (state.busy) el.sendHint.textContent = 'Waiting for the server…';
  else if (state.prepared)
    el.sendHint.textContent =
      currentTask() === 'detection'
        ? 'Ready: finds the objects in the image.'
        : 'Ready: names what is in the image.';
  else el.sendHint.textContent = 'Choose an image first.';
}

async function send() {
  if (!state.prepared || state.busy) return;
  const prepared = state.prepared;
  const selectionId = state.selectionId;
  const model = el.model.value;
  const request =
    currentTask() === 'detection'
      ? /** @type {const} */ ({ task: 'detection', model, minConfidence: DETECTOR_MIN_CONFIDENCE })
      : /** @type {const} */ ({ task: 'classification', model, topK: TOP_K });
  hideError();
  state.busy = true;
  el.results.setAttribute('aria-busy', 'true');
  updateSendState();
  const started = performance.now();
  try {
    const json = await recognise(prepared.blob, request);
    if (selectionId !== state.selectionId) return;
    const roundTrip = performance.now() - started;
    if ('detections' in json) showDetections(json);
    else showClassification(json, TOP_K);
    showTimings(json, roundTrip);
    // Detection boxes are drawn over the preview; everything else is in the results panel.
    reveal(!el.detection.hidden && !el.preview.hidden ? el.preview : resultsPanel);
  } catch (e) {
    if (selectionId !== state.selectionId) return;
    clearResults();
    showError(
      e instanceof ApiError
        ? { headline: e.headline, detail: e.message, requestId: e.requestId }
        : { headline: 'Something went wrong', detail: e instanceof Error ? e.message : String(e) },
    );
    reveal(resultsPanel);
  } finally {
    state.busy = false;
    el.results.removeAttribute('aria-busy');
    updateSendState();
  }
}

/** On phones the answer can be below the fold: bring it (or the boxes) into view. */
function reveal(/** @type {Element} */ node) {
  const rect = node.getBoundingClientRect();
  if (rect.top >= 0 && rect.top < window.innerHeight - 80) return;
  const reduce = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  node.scrollIntoView({ block: 'start', behavior: reduce ? 'auto' : 'smooth' });
}

async function loadModels() {
  try {
    setModels(await fetchModels());
  } catch (e) {
    setModels(null);
    const error = e instanceof ApiError ? e : null;
    showError({
      headline: 'Could not load the list of models',
      detail: `${error?.message ?? ''} The server’s default model will be used.`,
      requestId: error?.requestId,
    });
  }
  fillModels();
}

listenForImages((file) => {
  void chooseFile(file);
});
el.form.addEventListener('submit', (e) => {
  e.preventDefault();
  void send();
});
el.form.addEventListener('change', (e) => {
  if (e.target instanceof HTMLInputElement && e.target.name === 'task') {
    fillModels();
    updateSendState();
  }
});
el.model.addEventListener('change', updateModelDescription);
el.threshold.addEventListener('input', renderDetections);

void loadConfig().then(loadModels);
