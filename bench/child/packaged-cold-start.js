/**
 * Child process for the packaged cold start (bench/sections/packaged-cold-start.ts): plain
 * JavaScript, started by `node` in the folder `npm run package` builds (the image's /var/task), so
 * nothing but that folder is loaded. Like Lambda: require index.js (the init phase starts the
 * preload), then hand one API Gateway event to the handler. Prints one JSON line.
 */
'use strict';
const { readFileSync } = require('node:fs');
const path = require('node:path');

const peakRssMb = () => {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return kb ? Math.round(Number(kb[1]) / 102.4) / 10 : null;
};

async function main() {
  const started = performance.now(); // since this process started
  const { handler } = require(path.join(process.cwd(), 'index.js'));
  const required = performance.now();
  const image = readFileSync(process.env.BENCH_IMAGE);
  const event = (i) => ({
    httpMethod: 'POST',
    path: process.env.BENCH_ROUTE,
    resource: process.env.BENCH_ROUTE,
    queryStringParameters: { model: process.env.BENCH_MODEL },
    headers: { 'Content-Type': 'image/jpeg' },
    body: image.toString('base64'),
    isBase64Encoded: true,
    requestContext: { requestId: `bench-${i}` },
  });
  const res = await handler(event('cold'), {});
  const answered = performance.now();
  const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
  emit({
    event: 'first',
    status: res.statusCode,
    nodeStartMs: Math.round(started),
    requireMs: Math.round(required - started),
    firstAnswerMs: Math.round(answered - required),
    peakRssMb: peakRssMb(),
  });
  const more = Number(process.env.BENCH_REQUESTS || 0);
  for (let i = 0; i < more; i++) await handler(event(i), {});
  emit({ event: 'after', requests: more, peakRssMb: peakRssMb() });
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ event: 'error', message: String(e && e.message) })}\n`);
  process.exitCode = 1;
});
