import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lambda/src/adapters/config';
import { prepareMissing } from './prepare-on-load';
import { createService } from '../lambda/src/service/create-service';
import { createApiHandler } from '../lambda/src/transports/api-handler';
import { bodyBytes } from '../lambda/src/transports/http/api-types';

const USAGE = `usage: npm run classify -- <image> [<image> ...] [--task classify|detect] [--model <id>] [--top-k N]
                         [--min-confidence X] [--summary-threshold X] [--iou X] [--max-detections N] [--manifest <file>]`;

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
 * (`{"images": [...]}`) and print the batch answer, `{"results": [...]}`.
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
        manifest: { type: 'string' },
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
  const env: NodeJS.ProcessEnv = { ...process.env, PRELOAD_MODELS: '' };
  if (values.manifest) env.MODEL_MANIFEST = values.manifest;
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const config = loadConfig(env);
  const service = createService(config, { prepareMissing });
  const api = createApiHandler(service, config);
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
  const [single] = images;
  const body =
    images.length === 1 && single
      ? single
      : Buffer.from(JSON.stringify({ images: images.map((b) => ({ image: b.toString('base64') })) }));
  const response = await api({
    method: 'POST',
    path: values.task === 'detect' ? '/detector' : '/classifier',
    query,
    headers: { 'content-type': images.length === 1 ? 'application/octet-stream' : 'application/json' },
    body,
    requestId: randomUUID(),
  });
  await service.close();
  const fallback = service.defaultsStatus()[values.task === 'detect' ? 'detection' : 'classification'];
  if (!values.model && fallback.state !== 'preferred')
    process.stderr.write(`Note: ${fallback.detail ?? ''}\n`);
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
