/**
 * Child process for the cold-start and memory measurements: loads the runtime like Lambda's init
 * phase (config, service, preload with its warm-up run unless WARM_UP=0, handler), answers one
 * request, then `REQUESTS` more, and prints one JSON line per milestone on stdout. Started by
 * bench/sections/cold-start.ts.
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
type Timings = Record<string, number>;

/** The service's own stage timings from a Lambda proxy result's JSON body (base64 aware). */
function timingsOf(result: { body?: string; isBase64Encoded?: boolean }): Timings | null {
  if (typeof result.body !== 'string') return null;
  try {
    const text = result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString('utf8') : result.body;
    const t = (JSON.parse(text) as { timings?: unknown }).timings;
    return t && typeof t === 'object' ? (t as Timings) : null;
  } catch {
    return null;
  }
}

function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = (s.length - 1) / 2;
  return (s[Math.floor(mid)]! + s[Math.ceil(mid)]!) / 2;
}
const r2 = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);

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
  type Result = { statusCode: number; body?: string; isBase64Encoded?: boolean };
  const first = (await handler(event(0) as never)) as Result;
  const answered = performance.now();
  emit('first', {
    status: first.statusCode,
    preload: outcome,
    warmUp: config.warmUp,
    // performance.now() counts from process start: node, tsx and the runtime's modules loaded.
    modulesLoadedMs: Math.round(imported),
    initMs: Math.round(initialised - imported),
    firstRequestMs: Math.round(answered - initialised),
    // Unrounded; and the service's own timings of that request (null without a JSON body).
    firstRequestExactMs: r2(answered - initialised),
    firstInferenceMs: timingsOf(first)?.inferenceMs ?? null,
    firstTimings: timingsOf(first),
    uptimeMs: Math.round(process.uptime() * 1000),
    rssMb: mb(process.memoryUsage().rss),
    maxRssMb: peakRssMb(),
  });
  let failures = 0;
  const wall: number[] = [];
  const stages: Record<string, number[]> = {};
  const t = performance.now();
  for (let i = 1; i <= requests; i++) {
    const s = performance.now();
    const r = (await handler(event(i) as never)) as Result;
    wall.push(performance.now() - s);
    if (r.statusCode !== 200) failures++;
    for (const [k, v] of Object.entries(timingsOf(r) ?? {})) (stages[k] ??= []).push(v);
  }
  const mem = process.memoryUsage();
  emit('after', {
    requests,
    failures,
    meanMs: requests ? Math.round(((performance.now() - t) / requests) * 10) / 10 : null,
    medianMs: r2(median(wall)),
    inferenceMedianMs: r2(median(stages.inferenceMs ?? [])),
    // Each stage's median over those requests (the service's own timings).
    stageMediansMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, r2(median(v))])),
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
