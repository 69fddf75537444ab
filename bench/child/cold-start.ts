/**
 * Child process for the cold-start and memory measurements: loads the runtime like Lambda's init
 * phase (config, service, preload, handler), answers one request, then `REQUESTS` more, and prints
 * one JSON line per milestone on stdout. Started by bench/sections/cold-start.ts.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../lambda/src/adapters/config';
import { prepareMissing } from '../../local/prepare-on-load';
import { createService } from '../../lambda/src/service/create-service';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * Peak RSS of this process. getrusage's maxRSS is inherited from the parent across fork/exec on
 * Linux (it would report the benchmark's own 1 GB), so read VmHWM, which starts afresh at exec.
 */
function peakRssMb(): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return mb(Number(kb) * 1024);
  } catch {
    // not Linux
  }
  return mb(process.resourceUsage().maxRSS * 1024);
}
const emit = (event: string, data: Record<string, unknown>) => {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
};

async function main() {
  const imported = performance.now();
  const model = process.env.BENCH_MODEL ?? '';
  const route = process.env.BENCH_ROUTE ?? '/classifier';
  const requests = Number(process.env.BENCH_REQUESTS ?? 0);
  const image = readFileSync(process.env.BENCH_IMAGE ?? '');
  const config = loadConfig();
  // As on a laptop: a prepared copy missing from MODEL_PREPARED_DIR is made on first load.
  const service = createService(config, { prepareMissing });
  const ready = service.preload(config.preload);
  const handler = createLambdaHandler(service, config, { ready });
  const outcome = await ready;
  const initialised = performance.now();
  const event = (i: number) =>
    model
      ? {
          httpMethod: 'POST',
          path: route,
          queryStringParameters: { model },
          headers: { 'Content-Type': 'image/jpeg' },
          body: image.toString('base64'),
          isBase64Encoded: true,
          requestContext: { requestId: `bench-${i}` },
        }
      : { httpMethod: 'GET', path: '/health', headers: {}, body: null, isBase64Encoded: false };
  const first = (await handler(event(0) as never)) as { statusCode: number };
  const answered = performance.now();
  emit('first', {
    status: first.statusCode,
    preload: outcome,
    // performance.now() counts from process start: node, tsx and the runtime's modules loaded.
    modulesLoadedMs: Math.round(imported),
    initMs: Math.round(initialised - imported),
    firstRequestMs: Math.round(answered - initialised),
    uptimeMs: Math.round(process.uptime() * 1000),
    rssMb: mb(process.memoryUsage().rss),
    maxRssMb: peakRssMb(),
  });
  let failures = 0;
  const t = performance.now();
  for (let i = 1; i <= requests; i++) {
    const r = (await handler(event(i) as never)) as { statusCode: number };
    if (r.statusCode !== 200) failures++;
  }
  const mem = process.memoryUsage();
  emit('after', {
    requests,
    failures,
    meanMs: requests ? Math.round(((performance.now() - t) / requests) * 10) / 10 : null,
    rssMb: mb(mem.rss),
    heapUsedMb: mb(mem.heapUsed),
    externalMb: mb(mem.external),
    maxRssMb: peakRssMb(),
  });
  await service.close();
}

main().catch((e: unknown) => {
  emit('error', { message: (e as Error).message });
  process.exitCode = 1;
});
