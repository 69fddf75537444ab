// @ts-check
// The page's elements, looked up once and typed, plus two helpers to build DOM nodes. Text always
// goes through textContent: nothing from the server or a file name is ever parsed as HTML.

/**
 * The element with this id, checked to be of the expected kind: a renamed id in classifier.html
 * fails at load time with a clear message instead of a `null` somewhere later.
 *
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function byId(id, type) {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`classifier.html has no #${id} of type ${type.name}`);
  return node;
}

// Module scripts run after the document is parsed, so every element exists here.
export const el = {
  dropzone: byId('dropzone', HTMLDivElement),
  dropzoneTitle: byId('dropzone-title', HTMLSpanElement),
  file: byId('file', HTMLInputElement),
  cameraButton: byId('camera-button', HTMLButtonElement),
  camera: byId('camera', HTMLInputElement),
  preview: byId('preview', HTMLElement), // <figure>: no interface of its own
  previewImage: byId('preview-image', HTMLImageElement),
  previewCaption: byId('preview-caption', HTMLElement),
  overlay: byId('overlay', HTMLDivElement),
  noPreview: byId('no-preview', HTMLParagraphElement),
  selection: byId('selection', HTMLUListElement),
  sizes: byId('sizes', HTMLDListElement),
  sizeOriginal: byId('size-original', HTMLElement),
  sizeSent: byId('size-sent', HTMLElement),
  form: byId('options', HTMLFormElement),
  model: byId('model', HTMLSelectElement),
  modelDescription: byId('model-description', HTMLParagraphElement),
  send: byId('send', HTMLButtonElement),
  sendHint: byId('send-hint', HTMLParagraphElement),
  error: byId('error', HTMLDivElement),
  results: byId('results', HTMLDivElement),
  resultsEmpty: byId('results-empty', HTMLParagraphElement),
  classification: byId('classification', HTMLDivElement),
  topLabel: byId('top-label', HTMLSpanElement),
  topProbability: byId('top-probability', HTMLSpanElement),
  topSummary: byId('top-summary', HTMLDivElement),
  predictions: byId('predictions', HTMLOListElement),
  detection: byId('detection', HTMLDivElement),
  threshold: byId('threshold', HTMLInputElement),
  thresholdValue: byId('threshold-value', HTMLOutputElement),
  detectionSummary: byId('detection-summary', HTMLParagraphElement),
  detections: byId('detections', HTMLUListElement),
  batch: byId('batch', HTMLDivElement),
  batchSummary: byId('batch-summary', HTMLParagraphElement),
  batchList: byId('batch-list', HTMLOListElement),
  timings: byId('timings', HTMLParagraphElement),
};

/** The results panel (the <section> around #results): what is scrolled into view after a request. */
export const resultsPanel = el.results.parentElement ?? el.results;

/** @param {Node} node */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string | null} [className]
 * @param {string | null} [text] set as textContent, never as HTML
 * @returns {HTMLElementTagNameMap[K]}
 */
export function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}
