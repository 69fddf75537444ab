// @ts-check
// What one request may carry, as the API's defaults set it (README: MAX_IMAGE_BYTES 4.5 MB,
// MAX_BATCH_IMAGES 16), and how many files the page takes at once.

/**
 * The bytes of image data one request may carry: one image, or all the files of a form together.
 * The API takes 4.5 MB (Lambda's 6 MB payload after base64); the rest is room for the form's framing.
 */
export const MAX_BODY_BYTES = 4_400_000;

/** The most images one request may carry. */
export const MAX_BATCH_IMAGES = 16;

/**
 * The most files the page prepares from one choice; more are left out with a note. Each is
 * decoded in the browser one after another, and a phone holds their prepared copies in memory.
 */
export const MAX_CHOSEN_FILES = 64;
