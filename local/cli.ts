import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createApiHandler } from '../lambda/src/transports/api-handler';
import { bodyBytes } from '../lambda/src/transports/http/api-types';
import { runFolder } from './bulk/run-folder';
import { createCliService, fallbackNote } from './cli-service';

const USAGE = `usage: npm run classify -- <image> [<image> ...] [options]
       npm run classify -- <folder> [--out <file>] [--format jsonl|csv] [--resume | --force] [options]
options: [--task classify|detect] [--model <id>] [--top-k N] [--min-confidence X] [--summary-threshold X]
         [--iou X] [--max-detections N] [--classes a,b] [--manifest <file>]
Images: one prints the API's answer; several, its batch answer ({"results": [...]}).
Folder: walked recursively (hidden entries skipped), files with an image extension and others whose
  first bytes are an image's; one line per image (its path, then its batch item: the answer or the
  error) to --out or stdout, progress and a summary on stderr. --format: csv for an --out ending in
  .csv, else jsonl. An existing --out needs --resume (skip the paths it holds, append the rest) or
  --force (overwrite). Ctrl+C stops with every line written whole.
  Exit: 0 some image answered, 1 none could be (none found, all failed), 2 usage, 130 interrupted.`;

/** Options only a folder run takes. */
const FOLDER_ONLY = ['out', 'format', 'resume', 'force'] as const;

const isFolder = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

/** Exit codes: 0 answer, 2 usage, 3 model unavailable, 4 bad image, 1 anything else. */
function exitCodeFor(status: number, code: string | undefined): number {
  if (status === 200) return 0;
  if (code === 'MODEL_UNAVAILABLE' || code === 'NOT_FOUND') return 3;
  if (status >= 400 && status < 500) return 4;
  return 1;
}

/**
 * `npm run classify -- photo.jpg`: runs the photo through the same API function the HTTP routes
 * use, as a neutral request, and prints the same JSON body. Several photos go as one batch request
 * (`{"images": [...]}`) and print the batch answer, `{"results": [...]}`. A folder is a folder run
 * (local/bulk/run-folder.ts): every image under it, one output line each.
 */
async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        task: { type: 'string', default: 'classify' },
        model: { type: 'string' },
        'top-k': { type: 'string' },
        'min-confidence': { type: 'string' },
        'summary-threshold': { type: 'string' },
        iou: { type: 'string' },
        'max-detections': { type: 'string' },
        classes: { type: 'string' },
        manifest: { type: 'string' },
        out: { type: 'string', short: 'o' },
        format: { type: 'string' },
        resume: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals: files } = parsed;
  if (values.help || files.length === 0 || !['classify', 'detect'].includes(values.task)) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const task = values.task === 'detect' ? 'detect' : 'classify';
  const query: Record<string, string> = {};
  const put = (k: string, v: string | undefined) => {
    if (v !== undefined) query[k] = v;
  };
  put('model', values.model);
  put('topK', values['top-k']);
  put('minConfidence', values['min-confidence']);
  put('summaryThreshold', values['summary-threshold']);
  put('iou', values.iou);
  put('maxDetections', values['max-detections']);
  put('classes', values.classes);

  const [first] = files;
  if (first !== undefined && files.some(isFolder)) {
    const usage = (why: string) => {
      process.stderr.write(`${why}\n${USAGE}\n`);
      return 2;
    };
    if (files.length > 1) return usage('A folder run takes one folder (and no other files).');
    const format = values.format;
    if (format !== undefined && format !== 'jsonl' && format !== 'csv')
      return usage(`--format must be jsonl or csv; got ${format}.`);
    if (values.resume && values.force) return usage('--resume and --force exclude each other.');
    if ((values.resume || values.force) && values.out === undefined)
      return usage('--resume and --force need --out <file>.');
    return runFolder({
      folder: first,
      task,
      out: values.out,
      format,
      resume: values.resume,
      force: values.force,
      query,
      manifest: values.manifest,
    });
  }
  const folderOnly = FOLDER_ONLY.filter((o) => values[o] !== undefined && values[o] !== false);
  if (folderOnly.length > 0) {
    process.stderr.write(`--${folderOnly.join(', --')}: only with a folder.\n${USAGE}\n`);
    return 2;
  }
  const images: Buffer[] = [];
  for (const file of files) {
    try {
      images.push(await readFile(file));
    } catch (e) {
      process.stderr.write(
        `Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`,
      );
      return 2;
    }
  }
  const { config, service } = createCliService(values.manifest);
  const api = createApiHandler(service, config);
  const [single] = images;
  const body =
    images.length === 1 && single
      ? single
      : Buffer.from(JSON.stringify({ images: images.map((b) => ({ image: b.toString('base64') })) }));
  const response = await api({
    method: 'POST',
    path: task === 'detect' ? '/detector' : '/classifier',
    query,
    headers: { 'content-type': images.length === 1 ? 'application/octet-stream' : 'application/json' },
    body,
    requestId: randomUUID(),
  });
  await service.close();
  const note = values.model
    ? undefined
    : fallbackNote(service, task === 'detect' ? 'detection' : 'classification');
  if (note) process.stderr.write(`${note}\n`);
  process.stdout.write(`${bodyBytes(response).toString()}\n`);
  const error = Buffer.isBuffer(response.body) ? undefined : (response.body.error as string | undefined);
  if (response.statusCode !== 200) process.stderr.write(`Failed (${response.statusCode} ${error ?? ''})\n`);
  return exitCodeFor(response.statusCode, error);
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`classify failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
