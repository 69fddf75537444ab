// @ts-check
// The ways a user hands the page an image: the file chooser (click, Enter or Space on the drop
// zone), the camera button, drag and drop, and paste. All end in one callback with a File.

import { el } from './dom.js';

/**
 * @param {(file: File) => void} onFile called once per chosen image
 */
export function listenForImages(onFile) {
  /** @param {File | null | undefined} file */
  const choose = (file) => {
    if (file) onFile(file);
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
    choose(el.file.files?.[0]);
  });
  el.cameraButton.addEventListener('click', () => {
    el.camera.value = '';
    el.camera.click();
  });
  el.camera.addEventListener('change', () => {
    choose(el.camera.files?.[0]);
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
    choose(e.dataTransfer?.files[0]);
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
    choose(e.dataTransfer?.files[0]);
  });

  document.addEventListener('paste', (e) => {
    const data = e.clipboardData;
    if (!data) return;
    // Copied files arrive in `files`; a copied image (e.g. "Copy image" in a browser) only as an item.
    let file = data.files[0] ?? null;
    for (let i = 0; i < data.items.length && !file; i++) {
      const item = data.items[i];
      if (item?.kind === 'file') file = item.getAsFile();
    }
    if (file) {
      e.preventDefault();
      choose(file);
    }
  });
}
