import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where prepared model copies live and how they are named. A prepared copy is the same model made
 * faster to load and run (tools/model-prep: Mish chains rewritten, weights in an external file
 * onnxruntime maps); the function only looks copies up, it never makes them. The name carries
 * the source's identity and what the copy was prepared with, so a stale copy is never used.
 */

/** Bumped whenever preparation changes what it writes. */
export const PREPARED_VERSION = 2;
/** The Mish replacement the function's copies use (docs/performance.md compares the others). */
export const PREPARED_MISH_FORM = 'exp-div';

/** `<dir>/prepared/<sha256 prefix, or size-mtime>-v<version>-<form>-<file name>`. */
export function preparedCopyPath(
  dir: string,
  sourceFile: string,
  source: { sha256: string | null; size: number; mtimeMs: number },
  form: string = PREPARED_MISH_FORM,
): string {
  const key = source.sha256 ? source.sha256.slice(0, 16) : `${source.size}-${Math.round(source.mtimeMs)}`;
  return path.join(dir, 'prepared', `${key}-v${PREPARED_VERSION}-${form}-${path.basename(sourceFile)}`);
}

/** What the tool writes beside a prepared copy (`<copy>.json`): the copy's and its weights' sha256. */
export interface PreparedRecord {
  sha256?: { model: string; data?: string };
}

/**
 * The prepared copy of `sourceFile` in `dir`, or null when none was made, none is needed, or it
 * does not match the checksums recorded when it was made (`verify` returns a file's sha256; the
 * checksum ledger makes that free for files verified at image build). A copy that fails is
 * never loaded: the source is.
 */
export async function findPreparedCopy(
  dir: string,
  sourceFile: string,
  sha256: string | null,
  verify: (file: string) => Promise<string>,
): Promise<string | null> {
  try {
    const { size, mtimeMs } = await stat(sourceFile);
    const copy = preparedCopyPath(dir, sourceFile, { sha256, size, mtimeMs });
    await access(copy);
    const record = JSON.parse(await readFile(`${copy}.json`, 'utf8')) as PreparedRecord;
    const expected = record.sha256;
    if (!expected?.model || (await verify(copy)) !== expected.model) return null;
    if (expected.data && (await verify(`${copy}.data`)) !== expected.data) return null;
    return copy;
  } catch {
    return null;
  }
}
