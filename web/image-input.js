// @ts-check
// The ways a user hands the page images: the file chooser (click, Enter or Space on the drop
// zone; several files may be chosen), the camera button, drag and drop, and paste. All end in one
// callback with the chosen files, in their order.

import { el } from './dom.js';

/**
 * @param {(files: File[]) => void} onFiles called once per choice, with one file or several
 */
export function listenForImages(onFiles) {
  /** @param {ArrayLike<File> | null | undefined} files */
  const choose = (files) => {
    const list = Array.from(files ?? []);
    if (list.length > 0) onFiles(list);
  };

  // The inputs are visually hidden (the drop zone is the control); clearing the value lets the
  // same file be chosen twice in a row.
  const openChooser = () => {
    el.file.value = '';
    el.file.click();
  };
  el.dropzone.addEventListener('click', openChooser);
  el.dropzone.addEventListener('keydown', (e) => {
    // The drop zone is a div with role="button": it needs the keys a real button has.
    if (e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar') {
      e.preventDefault();
      openChooser();
    }
  });
  el.file.addEventListener('change', () => {
    choose(el.file.files);
  });
  el.cameraButton.addEventListener('click', () => {
    el.camera.value = '';
    el.camera.click();
  });
  el.camera.addEventListener('change', () => {
    choose(el.camera.files);
  });

  // dragenter/dragleave also fire for the drop zone's children: count them so the highlight does
  // not flicker off while the pointer crosses the icon.
  let dragDepth = 0;
  el.dropzone.addEventListener('dragenter', (e) => {
    e.preventDefault();
    dragDepth++;
    el.dropzone.classList.add('is-dragover');
  });
  el.dropzone.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  el.dropzone.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropzone.classList.remove('is-dragover');
  });
  el.dropzone.addEventListener('drop', (e) => {
    e.preventDefault();
    dragDepth = 0;
    el.dropzone.classList.remove('is-dragover');
    choose(e.dataTransfer?.files);
  });
  // A file dropped next to the drop zone must not make the browser navigate away from the page;
  // it is taken as if dropped on the zone. A drop on the zone itself bubbles here with its default
  // already prevented: it was handled above.
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
  });
  window.addEventListener('drop', (e) => {
    if (e.defaultPrevented) return;
    e.preventDefault();
    choose(e.dataTransfer?.files);
  });

  document.addEventListener('paste', (e) => {
    const data = e.clipboardData;
    if (!data) return;
    // Copied files arrive in `files`; a copied image (e.g. "Copy image" in a browser) only as an item.
    const files = Array.from(data.files);
    if (files.length === 0) {
      for (const item of Array.from(data.items)) {
        const file = item.kind === 'file' ? item.getAsFile() : null;
        if (file) files.push(file);
      }
    }
    if (files.length > 0) {
      e.preventDefault();
      choose(files);
    }
  });
}
