/**
 * Back-pressure over real HTTP: a full per-model queue answers 503 OVERLOADED with Retry-After
 * (nothing else), a request over REQUEST_TIMEOUT_MS answers 504 TIMEOUT, and a body over the limit
 * is refused while it is still streaming in — and after each, the server serves again.
 */
import { request } from 'node:http';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { MALAMUTE_FAMILY, photo, smallModelEnv } from '../support/fixtures';
import { deadline } from '../support/fuzz-transport';

process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
jest.setTimeout(60_000);

const dog = photo('dog.jpg');
const kite = photo('kite.jpg');

interface Reply {
  status: number;
  retryAfter: string | null;
  type: string;
  body: Record<string, any> | null;
}

async function post(url: string, body: Buffer, timeoutMs = 30_000): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'Content-Type': 'image/jpeg' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  let json: Record<string, any> | null = null;
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    // judged below: every answer must be JSON
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), type, body: json };
}

async function expectGoodClassification(server: LocalServer) {
  const r = await post(`${server.url}/classifier`, dog);
  expect(r.status).toBe(200);
  expect(MALAMUTE_FAMILY).toContain(r.body?.label);
}

describe('MAX_QUEUE_PER_MODEL=2 under 30 concurrent detections', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, env: smallModelEnv({ MAX_QUEUE_PER_MODEL: '2' }) });
  });
  afterAll(() => server.close());

  const burst = async () => {
    const replies = await Promise.all(
      Array.from({ length: 30 }, () => post(`${server.url}/detector?model=yolox-nano`, kite)),
    );
    for (const r of replies) {
      expect(r.type).toMatch(/^application\/json/);
      expect([200, 503]).toContain(r.status);
      if (r.status === 503) {
        expect(r.body).toMatchObject({ statusCode: 503, error: 'OVERLOADED' });
        expect(r.retryAfter).toMatch(/^[1-9]\d*$/);
        expect(r.body!.details).toEqual({ retryAfterSeconds: Number(r.retryAfter) });
      } else {
        expect(r.body).toMatchObject({ statusCode: 200, task: 'detection', model: 'yolox-nano' });
        expect(Array.isArray(r.body!.detections)).toBe(true);
        expect(r.retryAfter).toBeNull();
      }
    }
    const overloaded = replies.filter((r) => r.status === 503).length;
    return { ok: replies.length - overloaded, overloaded };
  };

  it('cold (the burst waits on the model load): some 503 OVERLOADED with Retry-After, the rest 200', async () => {
    const { ok, overloaded } = await burst();
    expect(overloaded).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(0);
  });

  it('warm (model loaded): again only 200 or 503 OVERLOADED, some of each', async () => {
    const { ok, overloaded } = await burst();
    expect(overloaded).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(0);
  });

  it('afterwards a request succeeds', async () => {
    const r = await post(`${server.url}/detector?model=yolox-nano`, kite);
    expect(r.status).toBe(200);
    await expectGoodClassification(server);
  });
});

describe('REQUEST_TIMEOUT_MS=1', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, env: smallModelEnv({ REQUEST_TIMEOUT_MS: '1' }) });
  });
  afterAll(async () => {
    // The timed-out work still finishes in the background; let it, before the sessions go.
    await new Promise((r) => setTimeout(r, 1500));
    await server.close();
  });

  it.each(['/classifier', '/detector'])('POST %s → 504 TIMEOUT JSON over HTTP', async (path) => {
    const r = await post(`${server.url}${path}`, dog);
    expect(r.status).toBe(504);
    expect(r.type).toMatch(/^application\/json/);
    expect(r.body).toMatchObject({ statusCode: 504, error: 'TIMEOUT' });
    expect(typeof r.body!.message).toBe('string');
    expect(typeof r.body!.requestId).toBe('string');
  });

  it('→ 504 TIMEOUT through the Lambda handler too', async () => {
    const handler = createLambdaHandler(server.service, server.config);
    const r = (await handler({
      httpMethod: 'POST',
      path: '/classifier',
      headers: { 'Content-Type': 'image/jpeg' },
      body: dog.toString('base64'),
      isBase64Encoded: true,
    } as never)) as { statusCode: number; body: string };
    expect(r.statusCode).toBe(504);
    expect(JSON.parse(r.body)).toMatchObject({ statusCode: 504, error: 'TIMEOUT' });
  });
});

describe('the body limit is enforced while the body streams in', () => {
  let server: LocalServer;
  const TOTAL = 50 * 1024 * 1024;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, env: smallModelEnv() });
  });
  afterAll(() => server.close());

  /**
   * Streams `TOTAL` bytes in 64 KiB chunks (respecting back-pressure) and stops writing when the
   * answer arrives. Returns the answer and how much had been written by then.
   */
  function stream(headers: Record<string, string>) {
    const url = new URL(server.url);
    const req = request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: '/classifier',
      headers: { 'Content-Type': 'image/jpeg', ...headers },
    });
    let written = 0;
    const state = { answered: false };
    const errors: Error[] = [];
    const answer = new Promise<{ status: number; body: Record<string, any>; writtenAtAnswer: number }>(
      (resolve, reject) => {
        req.on('response', (res) => {
          state.answered = true;
          const writtenAtAnswer = written;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
              resolve({ status: res.statusCode ?? 0, body, writtenAtAnswer });
            } catch {
              reject(new Error(`non-JSON ${res.statusCode ?? 0} answer`));
            }
          });
        });
        req.on('error', (e) => {
          errors.push(e); // EPIPE / ECONNRESET once the server hangs up on the rest is expected
          if (!state.answered) reject(e);
        });
      },
    );
    answer.catch(() => undefined);
    const pump = (async () => {
      const chunk = Buffer.alloc(64 * 1024, 0xab);
      while (written < TOTAL && !state.answered && !req.destroyed) {
        const ok = req.write(chunk);
        written += chunk.length;
        if (!ok) {
          await Promise.race([
            new Promise((r) => req.once('drain', r)),
            answer.catch(() => undefined),
            new Promise((r) => setTimeout(r, 2000).unref()),
          ]);
        }
      }
      const finished = written >= TOTAL && !state.answered;
      if (finished) req.end();
      return finished;
    })();
    return { req, answer, pump, errors };
  }

  const bodies: { name: string; headers: Record<string, string> }[] = [
    { name: 'a 50 MB chunked body (no Content-Length)', headers: {} },
    { name: 'a declared 50 MB Content-Length', headers: { 'Content-Length': String(TOTAL) } },
  ];
  it.each(bodies)('$name gets 413 before the client has sent it all (5 tries)', async ({ headers }) => {
    const limit = Math.ceil((server.config.maxImageBytes * 4) / 3) + 64 * 1024;
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { req, answer, pump } = stream(headers);
      // (not `instanceof Error`: socket errors come from the host realm, not Jest's)
      const r = await deadline(answer, 30_000, 'the 413 while streaming').catch((e: unknown) => ({
        failure: String(e),
      }));
      const finishedSending = await pump;
      req.destroy();
      if ('failure' in r) {
        outcomes.push(`try ${i}: no answer, ${r.failure}`);
        continue;
      }
      expect(r.status).toBe(413);
      expect(r.body).toMatchObject({ statusCode: 413, error: 'PAYLOAD_TOO_LARGE' });
      expect(finishedSending).toBe(false);
      // The server decides after just over its limit (~6.1 MB for 4.5 MB images) — or at once
      // for a declared size; socket buffers add a few MB. Far from all 50 MB.
      if (!headers['Content-Length']) expect(r.writtenAtAnswer).toBeGreaterThan(limit);
      expect(r.writtenAtAnswer).toBeLessThan(TOTAL / 2);
      outcomes.push(`try ${i}: 413 after ${(r.writtenAtAnswer / 1e6).toFixed(1)} MB written`);
    }
    expect(outcomes.filter((o) => o.includes('no answer'))).toEqual([]);
  });

  it('afterwards the server serves again', async () => {
    await expectGoodClassification(server);
  });
});
