/**
 * The images under a folder, for the folder run: every file with an image extension, and every
 * other file whose first bytes are an image's (a photo saved without or under the wrong extension),
 * in a fixed order so two runs (and --resume) see the same list.
 */
import type { Dirent } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { sniffImageFormat } from '../../lambda/src/core/image-format';

/** Taken without reading them; the service still checks their bytes (a `.jpg` of text fails there). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.avif',
  '.tif',
  '.tiff',
  '.heic',
  '.heif',
]);

/** How many first bytes the sniff reads: the magic numbers, and an ftyp box's first brands. */
const SNIFF_BYTES = 64;

export const hasImageExtension = (name: string): boolean =>
  IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());

/** Dot-files and dot-folders (.git, .DS_Store, editors' and sync tools' state) are never photos. */
export const isHidden = (name: string): boolean => name.startsWith('.');

/** Code-unit order, as `sort()` gives: the same on every machine, unlike a locale's collation. */
const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export interface FolderImages {
  /** Paths relative to the folder, `/`-separated, in walk order (depth first, names sorted). */
  files: string[];
  /** Files passed over: not hidden, but no image by name or by their first bytes. */
  others: number;
  /** Folders that could not be listed (permissions), relative; the walk goes on without them. */
  unreadable: string[];
}

/** A file without an image extension is taken when its first bytes are an accepted image's. */
async function looksLikeImage(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0);
    return sniffImageFormat(buffer.subarray(0, bytesRead)) !== null;
  } catch {
    // Unreadable: not listed as an image (a file with an image extension would show its error).
    return false;
  } finally {
    await handle?.close();
  }
}

/**
 * Walks `root` recursively, skipping hidden entries. Symbolic links are followed, to files and to
 * folders, but a folder reached twice (a link cycle) is walked once. `signal` stops a long walk.
 */
export async function findImages(root: string, signal?: AbortSignal): Promise<FolderImages> {
  const files: string[] = [];
  const unreadable: string[] = [];
  let others = 0;
  const visited = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    signal?.throwIfAborted();
    const real = await realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      unreadable.push(rel === '' ? '.' : rel);
      return;
    }
    for (const entry of entries.sort(byName)) {
      if (isHidden(entry.name)) continue;
      const full = path.join(dir, entry.name);
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let kind: 'file' | 'dir' | 'other' = entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : 'other';
      if (entry.isSymbolicLink()) {
        const target = await stat(full).catch(() => null);
        kind = target?.isFile() ? 'file' : target?.isDirectory() ? 'dir' : 'other';
      }
      if (kind === 'dir') await walk(full, relPath);
      else if (kind !== 'file') continue;
      else if (hasImageExtension(entry.name) || (await looksLikeImage(full))) files.push(relPath);
      else others++;
    }
  };
  await walk(root, '');
  return { files, others, unreadable };
}
