/**
 * A request that timed out gives its capacity back: its model run, if still waiting in the queue,
 * never happens, so the next request is not served after the dead ones. And the local server holds
 * at most MAX_IN_FLIGHT requests at once, refusing more with 503 OVERLOADED before reading them.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { photo, smallModelEnv } from '../support/fixtures';
import { deadline } from '../support/fuzz-transport';
import { burstFromAnotherProcess } from '../support/http-burst';

jest.setTimeout(60_000);

const dog = photo('dog.jpg');
const DETECT = '/detector?model=yolox-nano';

async function post(url: string, body: Buffer) {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { 'Content-Type': 'image/jpeg' },
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await res.json()) as Record<string, any>;
  return {
    status: res.status,
    json,
    ms: performance.now() - started,
    retryAfter: res.headers.get('retry-after'),
  };
}

describe('REQUEST_TIMEOUT_MS=300: a burst that times out leaves no work behind', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer({
      port: 0,
      env: smallModelEnv({
        REQUEST_TIMEOUT_MS: '300',
        MAX_QUEUE_PER_MODEL: '100',
        MAX_IN_FLIGHT: '100',
        PRELOAD_MODELS: 'yolox-nano',
        // One thread: the model, not decoding, is the narrow part, so a burst queues up behind it.
        ORT_INTRA_OP_THREADS: '1',
      }),
    });
    await server.preload;
    expect((await post(`${server.url}${DETECT}`, dog)).status).toBe(200);
  });
  afterAll(() => server.close());

  it('60 requests at once: most answer 504 TIMEOUT; right after, no run is queued and the next request is served at once', async () => {
    const replies = await burstFromAnotherProcess(`${server.url}${DETECT}`, dog, 60);
    for (const r of replies) {
      expect(r.type).toMatch(/^application\/json/);
      expect([200, 504]).toContain(r.status);
      if (r.status === 504) expect(r.error).toBe('TIMEOUT');
    }
    expect(replies.filter((r) => r.status === 504).length).toBeGreaterThan(30);

    // Every burst request has its answer: none of their runs may still be waiting for the model.
    expect(server.service.queueSizes()['yolox-nano']).toBeLessThanOrEqual(1);

    const next = await post(`${server.url}${DETECT}`, dog);
    expect(next.status).toBe(200);
    expect(next.json.model).toBe('yolox-nano');
    const t = next.json.timings as Record<string, number>;
    const queueWaitMs = t.totalMs! - t.decodeMs! - t.preprocessMs! - t.inferenceMs! - t.postprocessMs!;
    expect(queueWaitMs).toBeLessThan(150);
    expect(next.ms).toBeLessThan(1000);
  });
});

const held: ClientRequest[] = [];

describe("the Lambda's remaining time bounds a request", () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, env: smallModelEnv({ PRELOAD_MODELS: 'yolox-nano' }) });
    await server.preload;
  });
  afterAll(() => server.close());

  const event = {
    httpMethod: 'POST',
    path: '/detector',
    headers: { 'Content-Type': 'image/jpeg' },
    body: dog.toString('base64'),
    isBase64Encoded: true,
  } as never;

  it('with less left than the answer needs to get back, 504 TIMEOUT at once; with enough, 200', async () => {
    const handler = createLambdaHandler(server.service, server.config);
    const started = performance.now();
    const late = (await handler(event, {
      awsRequestId: 'req-no-time-left',
      getRemainingTimeInMillis: () => 1000,
    })) as { statusCode: number; body: string };
    expect(performance.now() - started).toBeLessThan(500);
    expect(late.statusCode).toBe(504);
    expect(JSON.parse(late.body)).toMatchObject({
      statusCode: 504,
      error: 'TIMEOUT',
      requestId: 'req-no-time-left',
    });

    const inTime = (await handler(event, {
      awsRequestId: 'req-time-left',
      getRemainingTimeInMillis: () => 28_000,
    })) as { statusCode: number; body: string };
    expect(inTime.statusCode).toBe(200);
    expect(JSON.parse(inTime.body)).toMatchObject({ model: 'yolox-nano', requestId: 'req-time-left' });
  });
});

/** A POST whose headers are sent and whose body is held back until `finish` (or never). */
function heldRequest(url: string, body: Buffer, sendFirst: number) {
  const u = new URL(url);
  const req: ClientRequest = request({
    host: u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    method: 'POST',
    headers: { 'Content-Type': 'image/jpeg', 'Content-Length': String(body.length) },
  });
  held.push(req);
  const answer = new Promise<{ status: number; json: Record<string, any>; retryAfter?: string }>(
    (resolve, reject) => {
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>,
            retryAfter: res.headers['retry-after'],
          });
        });
      });
      req.on('error', reject);
    },
  );
  answer.catch(() => undefined);
  if (sendFirst > 0) req.write(body.subarray(0, sendFirst));
  else req.flushHeaders();
  return {
    answer,
    finish: () => req.end(body.subarray(sendFirst)),
    abandon: () => req.destroy(),
  };
}

describe('MAX_IN_FLIGHT=2', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, env: smallModelEnv({ MAX_IN_FLIGHT: '2' }) });
  });
  // Whatever a failed assertion left open must not keep the server from closing.
  afterEach(() => {
    for (const req of held.splice(0)) req.destroy();
  });
  afterAll(() => server.close());

  it('a third request while two are being read gets 503 OVERLOADED with Retry-After before its body is sent; then all are served', async () => {
    const url = `${server.url}/classifier`;
    const first = heldRequest(url, dog, 100);
    const second = heldRequest(url, dog, 100);
    // Both are accepted and reading their bodies before the third arrives.
    await new Promise((r) => setTimeout(r, 200));

    // Headers only: an answer that needed the body would never come.
    const third = heldRequest(url, dog, 0);
    const refused = await deadline(third.answer, 5000, 'the 503 past MAX_IN_FLIGHT');
    third.abandon();
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.json).toMatchObject({
      statusCode: 503,
      error: 'OVERLOADED',
      details: { retryAfterSeconds: 1 },
    });
    expect(typeof refused.json.message).toBe('string');
    expect(typeof refused.json.requestId).toBe('string');

    // GETs carry no body to hold: /health still answers.
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);

    first.finish();
    second.finish();
    const [a, b] = await deadline(Promise.all([first.answer, second.answer]), 20_000, 'the held requests');
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);

    // The slots came back: the server serves again, also two at once.
    const again = await Promise.all([post(url, dog), post(url, dog)]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
  });

  it('a client that goes away mid-body gives its slot back', async () => {
    const url = `${server.url}/classifier`;
    const gone = [heldRequest(url, dog, 100), heldRequest(url, dog, 100)];
    await new Promise((r) => setTimeout(r, 200));
    for (const g of gone) g.abandon();
    await new Promise((r) => setTimeout(r, 200));
    const r = await post(url, dog);
    expect(r.status).toBe(200);
  });
});
