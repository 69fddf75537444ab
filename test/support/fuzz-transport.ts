/**
 * Sends one fuzz request three ways — raw HTTP to the local server, an API Gateway REST proxy event
 * and a mapping-template event straight into the Lambda handler — each with its own deadline, and
 * judges the answer: JSON with a stable error code and the status that code maps to, never 5xx.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { request, type IncomingHttpHeaders } from 'node:http';
import { STATUS_BY_CODE } from '../../lambda/src/transports/http/error-status';
import type { LambdaHandler } from '../../lambda/src/transports/lambda-handler';

export interface FuzzRequest {
  method: string;
  /** Path as sent on the wire (may hold odd percent-encodings). */
  path: string;
  /** Query pairs in order; duplicates allowed (?topK=1&topK=2). */
  query: [string, string][];
  headers: Record<string, string>;
  body: Buffer;
}

export interface Answer {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** Set for mapping-template events: the handler returns the parsed body itself. */
  parsed?: Record<string, unknown>;
}

export type Transport = (req: FuzzRequest) => Promise<Answer>;

export const ERROR_CODES = Object.keys(STATUS_BY_CODE) as (keyof typeof STATUS_BY_CODE)[];

export function deadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`HANG: no answer within ${ms} ms for ${what}`));
    }, ms);
  });
  return Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
  });
}

export function queryString(query: readonly [string, string][]): string {
  if (query.length === 0) return '';
  return '?' + query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Raw node:http (no URL normalisation, no retries); a request that gets no answer in time fails. */
export function httpTransport(baseUrl: string, timeoutMs = 10_000): Transport {
  const base = new URL(baseUrl);
  return (req) =>
    deadline(
      new Promise<Answer>((resolve, reject) => {
        const r = request(
          {
            host: base.hostname,
            port: base.port,
            method: req.method,
            // A fresh connection each time: a pooled keep-alive socket can be closed by the
            // server's keepAliveTimeout just as it is reused, an ECONNRESET that is no answer.
            agent: false,
            path: req.path + queryString(req.query),
            headers: { ...req.headers, 'content-length': String(req.body.length) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              resolve({
                status: res.statusCode ?? 0,
                headers: flatHeaders(res.headers),
                body: Buffer.concat(chunks),
              });
            });
            res.on('error', reject);
          },
        );
        r.on('error', reject);
        r.end(req.body);
      }),
      timeoutMs,
      `${req.method} ${req.path} over HTTP`,
    );
}

function lower(h: Record<string, string | number | boolean> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

/** The event API Gateway's REST proxy integration sends (binary media types on: base64 body). */
export function proxyEvent(req: FuzzRequest): APIGatewayProxyEvent {
  // Maps, then fromEntries: keys like '__proto__' become own properties, as in a parsed event.
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  for (const [k, v] of req.query) {
    single.set(k, v); // API Gateway keeps the last value in queryStringParameters
    multi.set(k, [...(multi.get(k) ?? []), v]);
  }
  return {
    httpMethod: req.method,
    path: req.path,
    resource: '/{proxy+}',
    headers: req.headers,
    multiValueHeaders: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: req.query.length > 0 ? Object.fromEntries(single) : null,
    multiValueQueryStringParameters: req.query.length > 0 ? Object.fromEntries(multi) : null,
    pathParameters: null,
    stageVariables: null,
    body: req.body.length > 0 ? req.body.toString('base64') : null,
    isBase64Encoded: req.body.length > 0,
    requestContext: { requestId: `fuzz-${Math.random().toString(36).slice(2)}` },
  } as unknown as APIGatewayProxyEvent;
}

export function handlerTransport(handler: LambdaHandler, timeoutMs = 10_000): Transport {
  return async (req) => {
    const r = (await deadline(
      handler(proxyEvent(req)),
      timeoutMs,
      `${req.method} ${req.path} through the handler`,
    )) as APIGatewayProxyResult;
    return {
      status: r.statusCode,
      headers: lower(r.headers),
      body: r.isBase64Encoded ? Buffer.from(r.body, 'base64') : Buffer.from(r.body, 'utf8'),
    };
  };
}

/** Older non-proxy integrations: {"body-json": base64, params, context}; the answer is the body. */
export function mappingTransport(handler: LambdaHandler, timeoutMs = 10_000): Transport {
  return async (req) => {
    const querystring = Object.fromEntries(req.query);
    const out = (await deadline(
      handler({
        'body-json': req.body.toString('base64'),
        params: { path: {}, querystring, header: req.headers },
        context: { 'resource-path': req.path, 'http-method': req.method, 'request-id': 'fuzz-mapping' },
      }),
      timeoutMs,
      `${req.method} ${req.path} as a mapping-template event`,
    )) as Record<string, unknown>;
    const status = typeof out.statusCode === 'number' ? out.statusCode : 0;
    // A proxy-shaped answer here means the handler failed outside the API (its own 500 path).
    if (out.isBase64Encoded === false && typeof out.body === 'string') {
      return { status, headers: lower(out.headers as Record<string, string>), body: Buffer.from(out.body) };
    }
    // format=image: {statusCode, image: base64 JPEG}
    if (status === 200 && typeof out.image === 'string') {
      return { status, headers: { 'content-type': 'image/jpeg' }, body: Buffer.from(out.image, 'base64') };
    }
    const body = Buffer.from(JSON.stringify(out));
    return { status, headers: { 'content-type': 'application/json' }, body, parsed: out };
  };
}

export interface Expectation {
  /** Error codes this input may legitimately produce. */
  codes: readonly string[];
  /** Whether a 200 is right (the image is in fact valid). */
  ok: boolean;
  /** format=image on /detector answers a JPEG. */
  jpegOk?: boolean;
}

/**
 * Returns a list of problems (empty = fine). Checks: a status below 500, JSON with the documented
 * error shape whose code maps to that status, and that the code is one this input may produce.
 */
export function judge(a: Answer, expect: Expectation): string[] {
  const problems: string[] = [];
  const type = a.headers['content-type'] ?? '';
  if (a.status >= 500 || a.status < 200) problems.push(`status ${a.status}`);
  if (a.status === 200 && type === 'image/jpeg') {
    if (!expect.jpegOk) problems.push('an unexpected JPEG answer');
    else if (a.body.subarray(0, 2).toString('hex') !== 'ffd8') problems.push('format=image is not a JPEG');
    return problems;
  }
  if (!type.startsWith('application/json')) problems.push(`content-type '${type}'`);
  let body: Record<string, unknown>;
  try {
    body = a.parsed ?? (JSON.parse(a.body.toString('utf8')) as Record<string, unknown>);
  } catch {
    problems.push(`non-JSON body ${JSON.stringify(a.body.subarray(0, 120).toString('utf8'))}`);
    return problems;
  }
  if (body.statusCode !== a.status) problems.push(`body.statusCode ${String(body.statusCode)} ≠ ${a.status}`);
  if (typeof body.requestId !== 'string' || body.requestId === '') problems.push('no requestId');
  if (a.status === 200) {
    if (!expect.ok) problems.push('200 for an input that cannot be valid');
    if (Array.isArray(body.results)) {
      // A batch: each image its answer, or its own error in the error shape.
      (body.results as Record<string, unknown>[]).forEach((item, i) => {
        if (item.statusCode === 200) {
          if (!Array.isArray(item.predictions) && !Array.isArray(item.detections))
            problems.push(`results[${i}]: 200 without results`);
        } else {
          problems.push(
            ...errorProblems(item, Number(item.statusCode), expect).map((p) => `results[${i}]: ${p}`),
          );
        }
      });
    } else if (!Array.isArray(body.predictions) && !Array.isArray(body.detections)) {
      problems.push('200 without results');
    }
    return problems;
  }
  problems.push(...errorProblems(body, a.status, expect));
  return problems;
}

/** An error body's problems: a known code that maps to its status, one this input may produce, a clean message. */
function errorProblems(body: Record<string, unknown>, status: number, expect: Expectation): string[] {
  const problems: string[] = [];
  const code = body.error as keyof typeof STATUS_BY_CODE;
  if (!ERROR_CODES.includes(code)) problems.push(`unknown error code ${JSON.stringify(body.error)}`);
  else if (STATUS_BY_CODE[code] !== status) problems.push(`${code} with status ${status}`);
  if (!expect.codes.includes(code)) {
    problems.push(`code ${code} not in [${expect.codes.join(', ')}] (${String(body.message)})`);
  }
  if (typeof body.message !== 'string' || body.message.length === 0) problems.push('no message');
  else if (/\/work\/|node_modules|at .*\.ts:\d+/.test(body.message)) problems.push('message leaks internals');
  return problems;
}

/** Short description of a request for failure messages (bodies abbreviated). */
export function show(req: FuzzRequest): string {
  return JSON.stringify({
    method: req.method,
    path: req.path,
    query: req.query,
    headers: req.headers,
    body: `${req.body.length} bytes: ${req.body.subarray(0, 48).toString('hex')}`,
  });
}
