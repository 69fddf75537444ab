/**
 * Soak test: mixed good and bad requests at a fixed concurrency for a fixed time; every answer's
 * status is checked against the one its request kind must get, and the server's RSS is sampled
 * every second.
 *
 *   npm run soak [-- --duration 600 --concurrency 8]
 *   tsx scripts/soak.ts --duration 60
 *   tsx scripts/soak.ts --url http://127.0.0.1:3000 [--pid 1234]   # an already running server
 *
 * Without --url it starts the local server in this process on the small models
 * (MODEL_PATH=models/embedded, mobilenetv2-12-int8, yolox-nano), so RSS is this process's.
 * With --url, RSS is read from /proc/<pid> if --pid is given, otherwise it is not checked.
 *
 * Exits 1 on any unexpected status (including timeouts and connection errors) or when RSS grows
 * more than 5 % after warm-up (--warmup seconds, default the first 20 % of the run): the end of the
 * run (a median over a short window) is compared with the high-water mark of the warm-up's second
 * half. Native allocators breathe by ±10 % under load; a leak keeps setting new highs. Writes the full
 * report to test-artifacts/soak.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { startLocalServer, type LocalServer } from '../local/server';
import { startLocalS3, useS3rverEnv } from '../test/support/s3-local';

const UPLOAD_BUCKET = 'soak-uploads';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '8' },
    url: { type: 'string' },
    pid: { type: 'string' },
    'request-timeout': { type: 'string', default: '30000' },
    out: { type: 'string', default: 'test-artifacts/soak.json' },
    // Seconds of the run before the RSS baseline is taken (default: the first 20 %).
    warmup: { type: 'string' },
  },
  strict: true,
});

const durationS = Number(args.duration);
const concurrency = Number(args.concurrency);
const requestTimeoutMs = Number(args['request-timeout']);
if (!(durationS > 0) || !Number.isInteger(concurrency) || concurrency < 1 || !(requestTimeoutMs > 0)) {
  console.error('usage: soak.ts [--duration seconds] [--concurrency n] [--url http://host:port] [--pid n]');
  process.exit(2);
}

const ROOT = path.resolve(__dirname, '..');
const EMBEDDED_MODELS = path.join(ROOT, 'models', 'embedded');
const photo = (name: string) => readFileSync(path.join(ROOT, 'test', 'fixtures', 'images', name));

interface Kind {
  name: string;
  expect: number;
  weight: number;
  request: () => { path: string; init: RequestInit };
}

const dog = photo('dog.jpg');
const cat = photo('cat_chelsea.png');
const cup = photo('coffee_cup.webp');
const kite = photo('kite.jpg');
const person = photo('person.jpg');
const eagle = photo('eagle.jpg');

const bytes = (path: string, body: Buffer, type: string) => () => ({
  path,
  init: { method: 'POST', body: new Uint8Array(body), headers: { 'Content-Type': type } },
});

const KINDS: Kind[] = [
  { name: 'classify dog.jpg', expect: 200, weight: 3, request: bytes('/classifier', dog, 'image/jpeg') },
  { name: 'classify cat.png', expect: 200, weight: 2, request: bytes('/classifier', cat, 'image/png') },
  { name: 'classify cup.webp', expect: 200, weight: 2, request: bytes('/classifier', cup, 'image/webp') },
  {
    name: 'classify eagle JSON',
    expect: 200,
    weight: 1,
    request: () => ({
      path: '/classifier?topK=3',
      init: {
        method: 'POST',
        body: JSON.stringify({ image: eagle.toString('base64') }),
        headers: { 'Content-Type': 'application/json' },
      },
    }),
  },
  {
    name: 'classify multipart',
    expect: 200,
    weight: 1,
    request: () => {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(dog)], { type: 'image/jpeg' }), 'dog.jpg');
      form.append('topK', '2');
      return { path: '/classifier', init: { method: 'POST', body: form } };
    },
  },
  { name: 'detect kite.jpg', expect: 200, weight: 2, request: bytes('/detector', kite, 'image/jpeg') },
  { name: 'detect person.jpg', expect: 200, weight: 2, request: bytes('/detector', person, 'image/jpeg') },
  {
    name: 'bad: text',
    expect: 415,
    weight: 1,
    request: bytes('/classifier', Buffer.from('hello'), 'text/plain'),
  },
  {
    name: 'bad: truncated JPEG',
    expect: 422,
    weight: 1,
    request: bytes('/classifier', dog.subarray(0, Math.floor(dog.length * 0.6)), 'image/jpeg'),
  },
  {
    name: 'bad: broken JSON',
    expect: 400,
    weight: 1,
    request: bytes('/classifier', Buffer.from('{"image": '), 'application/json'),
  },
  { name: 'bad: unknown route', expect: 404, weight: 1, request: bytes('/nope', dog, 'image/jpeg') },
  { name: 'bad: topK=0', expect: 400, weight: 1, request: bytes('/classifier?topK=0', dog, 'image/jpeg') },
  {
    name: 'classify batch of 4 (form)',
    expect: 200,
    weight: 1,
    request: () => {
      const form = new FormData();
      for (const [i, b] of [dog, cat, cup, dog.subarray(0, 2000)].entries())
        form.append(`f${i}`, new Blob([new Uint8Array(b)], { type: 'image/jpeg' }), `p${i}`);
      return { path: '/classifier', init: { method: 'POST', body: form } };
    },
  },
];

/** Kinds that need the in-process setup (a local S3-compatible server, an allowed URL host). */
function referenceKinds(uploadKey: string, imageUrl: string): Kind[] {
  const json = (path: string, body: unknown) => () => ({
    path,
    init: { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } },
  });
  return [
    {
      name: 'create upload',
      expect: 200,
      weight: 1,
      request: json('/uploads', { contentType: 'image/jpeg', size: dog.length }),
    },
    {
      name: 'classify upload (s3 key)',
      expect: 200,
      weight: 1,
      request: json('/classifier', { s3: { key: uploadKey } }),
    },
    { name: 'classify by URL', expect: 200, weight: 1, request: json('/classifier', { url: imageUrl }) },
    {
      name: 'detect batch: upload, URL, bytes',
      expect: 200,
      weight: 1,
      request: json('/detector', {
        images: [{ s3: { key: uploadKey } }, { url: imageUrl }, { image: kite.toString('base64') }],
      }),
    },
    {
      name: 'bad: key outside uploads',
      expect: 403,
      weight: 1,
      request: json('/classifier', { s3: { key: 'models/x.onnx' } }),
    },
  ];
}

/** A static server for `dog.jpg` on 127.0.0.1 (the URL kinds' allowed host). */
async function startImageHost(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': dog.length });
    res.end(dog);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/dog.jpg`,
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  };
}

/** Deterministic mix: a weighted round-robin schedule, each worker starting at its own offset. */
const scheduleOf = (kinds: Kind[]) => kinds.flatMap((k) => Array.from({ length: k.weight }, () => k));

interface Stats {
  count: number;
  unexpected: number;
  statuses: Record<string, number>;
  latencies: number[];
}

const stats = new Map<string, Stats>();
const surprises: { atS: number; kind: string; expected: number; got: string; body: string }[] = [];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

function readRss(pid: number | null): number | null {
  if (pid === null) return process.memoryUsage().rss;
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * 4096;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  let local: LocalServer | null = null;
  let base = args.url;
  let kinds = KINDS;
  const cleanups: (() => Promise<void>)[] = [];
  if (!base) {
    // Uploads against a local S3-compatible server, URLs from a local image host.
    useS3rverEnv();
    const s3 = await startLocalS3(mkdtempSync(path.join(tmpdir(), 'soak-s3-')), UPLOAD_BUCKET);
    const host = await startImageHost();
    cleanups.push(
      () => s3.close(),
      () => host.close(),
    );
    await s3.put(`uploads/soak/dog.jpg`, dog);
    // The handler's telemetry reads process.env (not the server's env): keep it quiet here.
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
    local = await startLocalServer({
      port: 0,
      env: {
        ...process.env,
        MODEL_PATH: EMBEDDED_MODELS,
        DEFAULT_CLASSIFIER: 'mobilenetv2-12-int8',
        DEFAULT_DETECTOR: 'yolox-nano',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        UPLOAD_BUCKET,
        UPLOAD_S3_ENDPOINT: s3.endpoint,
        // The S3 server shares this process (and its event loop) with the load and the server: on
        // a busy machine one read once waited 5 s, the default. The soak is about memory and
        // answers, not S3's latency; the time limit itself is tested in upload-store.test.ts.
        SOURCE_TIMEOUT_MS: '15000',
        IMAGE_URL_ALLOWED_HOSTS: new URL(host.url).origin,
        IMAGE_URL_ALLOWED_ADDRESSES: '127.0.0.1',
      },
    });
    kinds = [...KINDS, ...referenceKinds('uploads/soak/dog.jpg', host.url)];
    const loaded = await local.preload;
    for (const m of loaded) if (!m.ok) console.error(`preload ${m.id} failed: ${m.error ?? ''}`);
    base = local.url;
  }
  for (const k of kinds) stats.set(k.name, { count: 0, unexpected: 0, statuses: {}, latencies: [] });
  const schedule = scheduleOf(kinds);
  const rssPid = local ? null : args.pid ? Number(args.pid) : undefined;
  const sampleRss = rssPid === undefined ? () => null : () => readRss(rssPid);

  const started = performance.now();
  const endAt = started + durationS * 1000;
  const elapsedS = () => (performance.now() - started) / 1000;
  const rss: { t: number; rss: number; heapUsed?: number; external?: number }[] = [];
  const sample = () => {
    const v = sampleRss();
    if (v === null) return;
    const t = Math.round(elapsedS() * 10) / 10;
    // In-process: the JS heap and external (Buffers) too, to tell a JS leak from native growth.
    if (local) {
      const m = process.memoryUsage();
      rss.push({ t, rss: v, heapUsed: m.heapUsed, external: m.external });
    } else rss.push({ t, rss: v });
  };
  sample();
  const sampler = setInterval(sample, 1000);
  let lastProgress = 0;
  const progress = setInterval(() => {
    const total = [...stats.values()].reduce((n, s) => n + s.count, 0);
    const bad = [...stats.values()].reduce((n, s) => n + s.unexpected, 0);
    const last = rss.at(-1);
    console.log(
      `  ${Math.round(elapsedS())} s: ${total} requests (${Math.round((total - lastProgress) / 10)}/s), ` +
        `${bad} unexpected${last ? `, rss ${(last.rss / 2 ** 20).toFixed(0)} MiB` : ''}`,
    );
    lastProgress = total;
  }, 10_000);

  let stopping = false;
  process.once('SIGINT', () => {
    console.log('SIGINT: finishing the requests in flight');
    stopping = true;
  });

  async function worker(id: number) {
    for (let i = id * 5; performance.now() < endAt && !stopping; i++) {
      const kind = schedule[i % schedule.length]!;
      const s = stats.get(kind.name)!;
      const { path: p, init } = kind.request();
      const t0 = performance.now();
      let got: string;
      let body = '';
      try {
        const res = await fetch(`${base}${p}`, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) });
        body = await res.text();
        got = String(res.status);
        const json = (res.headers.get('content-type') ?? '').startsWith('application/json');
        if (!json) got += ' (not JSON)';
        else JSON.parse(body);
      } catch (e) {
        got = (e as Error).name === 'TimeoutError' ? 'timeout' : `error: ${(e as Error).message}`;
      }
      s.latencies.push(performance.now() - t0);
      s.count++;
      s.statuses[got] = (s.statuses[got] ?? 0) + 1;
      if (got !== String(kind.expect)) {
        s.unexpected++;
        if (surprises.length < 50) {
          surprises.push({
            atS: Math.round(elapsedS() * 10) / 10,
            kind: kind.name,
            expected: kind.expect,
            got,
            body: body.slice(0, 300),
          });
        }
      }
    }
  }

  console.log(
    `soak: ${durationS} s at concurrency ${concurrency} against ${base}${local ? ' (in-process)' : ''}`,
  );
  await Promise.all(Array.from({ length: concurrency }, (_, id) => worker(id)));
  const actualS = elapsedS();
  sample();
  clearInterval(sampler);
  clearInterval(progress);
  if (local) await local.close();
  for (const cleanup of cleanups) await cleanup();

  // Report
  const all = [...stats.values()].flatMap((s) => s.latencies).sort((a, b) => a - b);
  const total = all.length;
  const unexpected = [...stats.values()].reduce((n, s) => n + s.unexpected, 0);
  const warmupEndS = args.warmup !== undefined ? Math.min(Number(args.warmup), actualS * 0.9) : actualS * 0.2;
  const near = (from: number, to: number) => rss.filter((r) => r.t >= from && r.t <= to).map((r) => r.rss);
  // Medians over a window (5 % of the run, at least 3 s) damp the allocator's ups and downs.
  const window = Math.max(3, actualS * 0.05);
  const warmupWindow = near(warmupEndS / 2, warmupEndS);
  const endWindow = near(actualS - window, actualS + 1);
  const warmupRss = warmupWindow.length > 0 ? Math.max(...warmupWindow) : null;
  const endRss = endWindow.length > 0 ? median(endWindow) : null;
  const growthPct = warmupRss && endRss ? ((endRss - warmupRss) / warmupRss) * 100 : null;
  const rssOk = growthPct === null || growthPct <= 5;
  const ok = unexpected === 0 && rssOk;

  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0).padStart(6) : '     -');
  const rows = kinds.map((k) => {
    const s = stats.get(k.name)!;
    const sorted = [...s.latencies].sort((a, b) => a - b);
    return { k, s, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  });
  console.log('');
  console.log(`${'kind'.padEnd(22)} expect  count  unexpected  p50 ms  p99 ms`);
  for (const { k, s, p50, p99 } of rows) {
    console.log(
      `${k.name.padEnd(22)} ${String(k.expect).padStart(6)} ${String(s.count).padStart(6)} ${String(s.unexpected).padStart(11)}  ${ms(p50)}  ${ms(p99)}`,
    );
  }
  console.log(
    `${'all'.padEnd(22)} ${''.padStart(6)} ${String(total).padStart(6)} ${String(unexpected).padStart(11)}  ${ms(percentile(all, 50))}  ${ms(percentile(all, 99))}`,
  );
  console.log(`throughput: ${(total / actualS).toFixed(1)} requests/s over ${actualS.toFixed(1)} s`);
  const mib = (v: number | null) => (v === null ? 'n/a' : `${(v / 2 ** 20).toFixed(1)} MiB`);
  const maxRss = rss.length > 0 ? Math.max(...rss.map((r) => r.rss)) : null;
  console.log(
    `rss: start ${mib(rss[0]?.rss ?? null)}, warm-up peak (${(warmupEndS / 2).toFixed(0)}–${warmupEndS.toFixed(0)} s) ${mib(warmupRss)}, ` +
      `end ${mib(endRss)}, max ${mib(maxRss)}, growth ${growthPct === null ? 'n/a (no RSS source)' : `${growthPct.toFixed(2)} %`} (limit 5 %)`,
  );
  for (const s of surprises.slice(0, 10)) {
    console.log(
      `unexpected: ${s.kind} → ${s.got} (expected ${s.expected}) at ${s.atS} s ${s.body.slice(0, 120)}`,
    );
  }
  console.log(
    ok
      ? 'PASS'
      : `FAIL${unexpected > 0 ? ` (${unexpected} unexpected statuses)` : ''}${rssOk ? '' : ' (RSS growth)'}`,
  );

  const out = path.resolve(ROOT, args.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        ok,
        url: base,
        inProcessServer: local !== null,
        durationS: Math.round(actualS * 10) / 10,
        concurrency,
        requests: total,
        throughputPerS: Math.round((total / actualS) * 10) / 10,
        unexpected,
        latencyMs: { p50: percentile(all, 50), p99: percentile(all, 99) },
        kinds: rows.map(({ k, s, p50, p99 }) => ({
          name: k.name,
          expect: k.expect,
          count: s.count,
          unexpected: s.unexpected,
          statuses: s.statuses,
          p50Ms: p50,
          p99Ms: p99,
        })),
        surprises,
        rss: {
          warmupEndS,
          warmupEndBytes: warmupRss,
          endBytes: endRss,
          maxBytes: maxRss,
          growthPct,
          limitPct: 5,
          samples: rss,
        },
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`report: ${path.relative(process.cwd(), out)}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
