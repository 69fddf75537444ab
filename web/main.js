// @ts-check
// Image recognition page: plain JavaScript modules, no build step, no dependencies. Works under the CSP
// `default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'`
// (plus, in connect-src, the upload storage's origin where large photos are PUT): no inline scripts,
// handlers or style attributes (styles set through the CSSOM are allowed).
// This file wires the parts together and holds the page's state: the chosen images and the request.
// One image has the single view (labels with bars, or boxes over the preview); several have a list
// with each one's result (batch.js, batch-view.js).

import { ApiError, fetchModels, loadConfig, recognise } from './api-client.js';
import { runBatch } from './batch.js';
import { showBatch } from './batch-view.js';
import { el, resultsPanel } from './dom.js';
import { listenForImages } from './image-input.js';
import { prepare } from './image-prep.js';
import { MAX_BODY_BYTES, MAX_CHOSEN_FILES } from './limits.js';
import { currentTask, fillModels, setModels, updateModelDescription } from './models.js';
import { showPreview, showSelection, showSizes } from './preview.js';
import {
  clearResults,
  hideError,
  renderDetections,
  showClassification,
  showDetections,
  showError,
  showTimings,
} from './render.js';
import { releaseThumbnails } from './thumbs.js';
import { recogniseLarge } from './upload.js';

/** @typedef {import('./image-prep.js').PreparedImage} PreparedImage */
/** @typedef {import('./api-client.js').RecognitionRequest} RecognitionRequest */

const TOP_K = 5;
/** The detector is asked for everything above this so that the slider can filter client-side. */
const DETECTOR_MIN_CONFIDENCE = 0.05;

const state = {
  /** @type {PreparedImage[]} the chosen images, ready to send; empty until they are */
  images: [],
  busy: false,
  /** Bumped for every choice: answers for an earlier one are dropped. */
  selectionId: 0,
};

/** @param {File[]} files */
async function chooseFiles(files) {
  const selectionId = ++state.selectionId;
  hideError();
  clearResults();
  state.images = [];
  el.sizes.hidden = true;
  el.dropzone.classList.add('is-busy');
  const chosen = files.slice(0, MAX_CHOSEN_FILES);
  /** @type {PreparedImage[]} */
  const images = [];
  // One after another: each decode holds a full-size bitmap, and phones have little memory.
  for (const [i, file] of chosen.entries()) {
    updateSendState(
      chosen.length === 1 ? 'Preparing the image…' : `Preparing image ${i + 1} of ${chosen.length}…`,
    );
    images.push(await prepare(file));
    if (selectionId !== state.selectionId) return; // a newer choice was made meanwhile
  }
  el.dropzone.classList.remove('is-busy');
  releaseThumbnails();
  state.images = images;
  const [only] = images;
  if (only && images.length === 1) {
    showPreview(only);
    showSizes(only);
  } else {
    showSelection(images, files.length - chosen.length);
  }
  updateSendState();
}

/** @param {string} [hint] replaces the line under Send (e.g. while the image is prepared) */
function updateSendState(hint) {
  // While a request runs the button stays focusable (a disabled button would drop the keyboard
  // focus to the top of the page); aria-disabled tells assistive technology, send() ignores it.
  const count = state.images.length;
  el.send.disabled = count === 0;
  if (state.busy) el.send.setAttribute('aria-disabled', 'true');
  else el.send.removeAttribute('aria-disabled');
  el.send.textContent = state.busy ? 'Sending…' : count > 1 ? `Send ${count} images` : 'Send';
  const detect = currentTask() === 'detection';
  if (hint) el.sendHint.textContent = hint;
  else if (state.busy) el.sendHint.textContent = 'Waiting for the server…';
  else if (count > 1)
    el.sendHint.textContent = detect
      ? `Ready: finds the objects in each of the ${count} images.`
      : `Ready: names what is in each of the ${count} images.`;
  else if (count === 1)
    el.sendHint.textContent = detect
      ? 'Ready: finds the objects in the image.'
      : 'Ready: names what is in the image.';
  else el.sendHint.textContent = 'Choose an image first.';
}

async function send() {
  if (state.images.length === 0 || state.busy) return;
  const images = state.images;
  const selectionId = state.selectionId;
  const model = el.model.value;
  /** @type {RecognitionRequest} */
  const request =
    currentTask() === 'detection'
      ? { task: 'detection', model, minConfidence: DETECTOR_MIN_CONFIDENCE }
      : { task: 'classification', model, topK: TOP_K };
  /** Progress under Send, while this choice is still the one on show. */
  const onStatus = (/** @type {string} */ text) => {
    if (selectionId === state.selectionId) updateSendState(text);
  };
  hideError();
  state.busy = true;
  el.results.setAttribute('aria-busy', 'true');
  updateSendState();
  const started = performance.now();
  try {
    const [only] = images;
    if (only && images.length === 1) {
      // Still over a request's limit after the in-browser downscale (e.g. a TIFF the browser cannot
      // read): through the upload storage.
      const json =
        only.blob.size > MAX_BODY_BYTES
          ? await recogniseLarge(only.blob, request, onStatus)
          : await recognise(only.blob, request);
      if (selectionId !== state.selectionId) return;
      const roundTrip = performance.now() - started;
      if ('detections' in json) showDetections(json);
      else showClassification(json, TOP_K);
      showTimings(json, roundTrip);
      // Detection boxes are drawn over the preview; everything else is in the results panel.
      reveal(!el.detection.hidden && !el.preview.hidden ? el.preview : resultsPanel);
    } else {
      const run = await runBatch(images, request, onStatus);
      if (selectionId !== state.selectionId) return;
      clearResults();
      showBatch(images, run.outcomes, { ...run, roundTripMs: performance.now() - started });
      reveal(resultsPanel);
    }
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

listenForImages((files) => {
  void chooseFiles(files);
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
