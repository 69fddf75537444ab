import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The image files a folder walk picks up (what the service may decode; HEIC needs more, see README). */
export const PHOTO_FILE = /\.(jpe?g|png|webp|gif|avif|tiff?)$/i;

export interface PhotoFile {
  /** Where to read it. */
  file: string;
  /** How reports name it: its path inside the folder given, or the file as given. */
  name: string;
}

export interface PhotoWalk {
  photos: PhotoFile[];
  /** Folders that could not be listed: reported, not fatal. */
  problems: { name: string; error: string }[];
}

const errorText = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * The photos under each path: a folder is walked (sub-folders too, hidden entries skipped, names
 * sorted) for files named like {@link PHOTO_FILE}; a file is taken as it is, whatever its name.
 * A path that does not exist throws (the caller's usage error); a sub-folder that cannot be
 * listed is a problem of its own, and the walk goes on.
 */
export function findPhotos(paths: readonly string[]): PhotoWalk {
  const photos: PhotoFile[] = [];
  const problems: PhotoWalk['problems'] = [];
  const walk = (root: string, dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      problems.push({ name: path.relative(root, dir) || dir, error: errorText(e) });
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(root, full);
      else if (PHOTO_FILE.test(entry.name) && (entry.isFile() || entry.isSymbolicLink())) {
        photos.push({ file: full, name: path.relative(root, full) });
      }
    }
  };
  for (const p of paths) {
    if (statSync(p).isDirectory()) walk(p, p);
    else photos.push({ file: p, name: p });
  }
  return { photos, problems };
}
