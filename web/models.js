// @ts-check
// The model <select>: the server's models for the chosen task, its default preselected, and a line
// about the selected one. Without a list (GET models failed) the server's default is used.

import { clear, el, make } from './dom.js';

/** @typedef {import('./api-client.js').ModelInfo} ModelInfo */
/** @typedef {ModelInfo['task']} Task */

/** @type {ModelInfo[] | null} null: not loaded (or failed); otherwise the server's list */
let models = null;

/** @param {ModelInfo[] | null} list */
export function setModels(list) {
  models = list;
}

/** @returns {Task} the task radio button that is checked */
export function currentTask() {
  const checked = el.form.querySelector('input[name="task"]:checked');
  return checked instanceof HTMLInputElement && checked.value === 'detection'
    ? 'detection'
    : 'classification';
}

/** Refills the select for the current task, keeping the user's choice when it is still there. */
export function fillModels() {
  const task = currentTask();
  const previous = el.model.value;
  clear(el.model);
  const forTask = (models ?? [])
    .filter((m) => m.task === task)
    // Usable models first; the server's order otherwise (Array.prototype.sort is stable).
    .sort((a, b) => (a.available ? 0 : 1) - (b.available ? 0 : 1));
  const first = forTask[0];
  if (!first) {
    const fallback = make('option', null, 'Server default');
    fallback.value = '';
    el.model.appendChild(fallback);
    el.model.value = '';
    updateModelDescription();
    return;
  }
  for (const m of forTask) {
    // Unavailable models are listed (the user sees they exist) but cannot be chosen.
    const option = make(
      'option',
      null,
      m.id + (m.default ? ' (default)' : '') + (m.available ? '' : ' — unavailable'),
    );
    option.value = m.id;
    option.disabled = !m.available;
    el.model.appendChild(option);
  }
  const selectable = forTask.filter((m) => m.available);
  const chosen =
    selectable.find((m) => m.id === previous) ?? selectable.find((m) => m.default) ?? selectable[0] ?? first;
  el.model.value = chosen.id;
  updateModelDescription();
}

/** "description · input 224×224 · 1000 classes · licence MIT" for the selected model. */
export function updateModelDescription() {
  const id = el.model.value;
  const model = (models ?? []).find((m) => m.id === id);
  if (!model) {
    el.modelDescription.textContent = id ? '' : 'The server picks its default model for this task.';
    return;
  }
  const parts = [];
  if (model.description) parts.push(model.description);
  if (model.input.width) parts.push(`input ${model.input.width}×${model.input.height}`);
  parts.push(`${model.labels} classes`);
  if (model.license) parts.push(`licence ${model.license}`);
  el.modelDescription.textContent = parts.join(' · ');
}
