import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, createHmac } from 'node:crypto';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** The bits of s3rver 3 (untyped JavaScript) the tests use. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(__filename)('s3rver') as S3rverCtor;

/**
 * s3rver's built-in account; the SDK signs with it. s3rver checks the access key id, not V4
 * signatures themselves (startSigV4Gate does).
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * createS3Client(endpoint) builds a client without explicit credentials or region, so the SDK
 * reads them from the environment.
 */
export function useS3rverEnv(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  process.env.AWS_REGION = 'us-east-1';
  // The SDK warns once about node 20 support ending; it says nothing about these tests.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}

export interface LocalS3 {
  port: number;
  endpoint: string;
  client: S3Client;
  put(key: string, body: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
  close(): Promise<void>;
}

/** A real S3 API (s3rver) on 127.0.0.1 with one bucket, stored in `directory`. */
export async function startLocalS3(directory: string, bucket: string): Promise<LocalS3> {
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await s3rver.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
  });
  let closed = false;
  return {
    port,
    endpoint,
    client,
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    async remove(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    async close() {
      if (closed) return;
      closed = true;
      client.destroy();
      s3rver.httpServer?.closeAllConnections();
      await s3rver.close();
    },
  };
}

export interface CuttingProxy {
  port: number;
  endpoint: string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Connections cut (or, with `stall`, stalled) so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a local server that cuts the first `cutConnections` connections after
 * `cutAfterBytes` bytes have gone back to the client (a download interrupted mid-transfer). With
 * `stall`, it does not cut them but sends nothing more while keeping them open (a connection that
 * died without a reset); `cutAfterBytes: 0` stalls before the answer's headers. The bytes pass
 * unchanged, so the SDK's signature (which covers the Host header) still checks out.
 */
export async function startCuttingProxy(
  targetPort: number,
  options: {
    cutAfterBytes: number;
    cutConnections: number;
    onCut?: () => void;
    cutDelayMs?: number;
    stall?: boolean;
  },
): Promise<CuttingProxy> {
  let connections = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const index = ++connections;
    const target = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(target);
    const cutThis = index <= options.cutConnections;
    let sent = 0;
    let cutting = false;
    const destroyBoth = () => {
      client.destroy();
      target.destroy();
    };
    client.on('error', destroyBoth);
    target.on('error', destroyBoth);
    client.on('close', () => {
      sockets.delete(client);
      target.destroy();
    });
    target.on('close', () => {
      sockets.delete(target);
      client.destroy();
    });
    client.on('data', (chunk: Buffer) => target.write(chunk));
    target.on('data', (chunk: Buffer) => {
      if (!cutThis) {
        client.write(chunk);
        return;
      }
      if (cutting) return;
      const room = options.cutAfterBytes - sent;
      if (room > chunk.length) {
        sent += chunk.length;
        client.write(chunk);
        return;
      }
      cutting = true;
      target.pause();
      if (options.stall) {
        cuts++;
        client.write(chunk.subarray(0, Math.max(0, room)));
        return;
      }
      client.write(chunk.subarray(0, Math.max(0, room)), () => {
        setTimeout(() => {
          cuts++;
          options.onCut?.();
          destroyBoth();
        }, options.cutDelayMs ?? 50);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** One request that reached a SigV4 gate, and what the gate made of its signature. */
export interface GateRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** `presigned` (query string), `header` (Authorization) or `anonymous`. */
  auth: 'presigned' | 'header' | 'anonymous';
  /** `ok`, or why the gate answered 403 itself (the request then never reached s3rver). */
  verdict: 'ok' | 'SignatureDoesNotMatch' | 'AccessDenied' | 'InvalidAccessKeyId';
  /** The headers the signature covers, as X-Amz-SignedHeaders or the Authorization header lists them. */
  signedHeaders: string[];
}

export interface SigV4Gate {
  port: number;
  endpoint: string;
  /** Every request received, in order. */
  readonly requests: readonly GateRequest[];
  close(): Promise<void>;
}

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();
const sha256 = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ escaped. */
const rfc3986 = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The signature AWS Signature Version 4 gives this request (S3 flavour: the path is signed as sent,
 * not normalised or encoded again). Written here from the specification, apart from the SDK that
 * signs, so a test can tell whether S3 would accept a request.
 */
function sigV4Signature(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  signedHeaders: string[],
  payloadHash: string,
  amzDate: string,
  scope: string,
  secretAccessKey: string,
): string {
  const [rawPath = '/', rawQuery = ''] = rawUrl.split('?', 2);
  const query = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      const name = decodeURIComponent((i < 0 ? pair : pair.slice(0, i)).replace(/\+/g, ' '));
      const value = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, ' '));
      return [rfc3986(name), rfc3986(value)] as const;
    })
    .filter(([name]) => name !== 'X-Amz-Signature')
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .map((h) => {
      const v = headers[h];
      const value = (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
      return `${h}:${value}\n`;
    })
    .join('');
  const canonicalRequest = [
    method,
    rawPath,
    query,
    canonicalHeaders,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const [date = '', region = '', service = '', terminator = ''] = scope.split('/');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), terminator);
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

/**
 * An HTTP front for a local S3 server that checks AWS Signature Version 4, as S3 does and s3rver
 * does not (s3rver 3 checks only that a V4 request names a known access key and, presigned, has
 * not expired). Presigned requests (X-Amz-Signature in the query) and Authorization-header
 * requests are both verified against `credentials`; a request whose signature does not match, or
 * whose presigned URL has expired, gets S3's 403 answer here and never reaches s3rver. Every
 * request is recorded, so a test can also tell that none was made.
 */
export async function startSigV4Gate(
  targetPort: number,
  credentials: { accessKeyId: string; secretAccessKey: string } = S3RVER_CREDENTIALS,
): Promise<SigV4Gate> {
  const requests: GateRequest[] = [];
  const server = createHttpServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const query = new URL(url, 'http://gate').searchParams;
    const authorization = req.headers.authorization;
    let auth: GateRequest['auth'] = 'anonymous';
    let verdict: GateRequest['verdict'] = 'ok';
    let signedHeaders: string[] = [];
    // A CORS preflight is never signed, though its URL may carry a PUT's query signature: S3
    // answers it from the bucket's CORS rules before any authentication, and so does the gate.
    const preflight = method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (preflight) {
      // anonymous, ok
    } else if (query.has('X-Amz-Signature')) {
      auth = 'presigned';
      signedHeaders = (query.get('X-Amz-SignedHeaders') ?? '').split(';').filter(Boolean);
      const [accessKeyId, ...scope] = (query.get('X-Amz-Credential') ?? '').split('/');
      const amzDate = query.get('X-Amz-Date') ?? '';
      const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
      const expires = m
        ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) +
          Number(query.get('X-Amz-Expires')) * 1000
        : 0;
      const expected = sigV4Signature(
        method,
        url,
        req.headers,
        signedHeaders,
        query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
        amzDate,
        scope.join('/'),
        credentials.secretAccessKey,
      );
      if (accessKeyId !== credentials.accessKeyId) verdict = 'InvalidAccessKeyId';
      else if (expected !== query.get('X-Amz-Signature')) verdict = 'SignatureDoesNotMatch';
      else if (!(Date.now() <= expires)) verdict = 'AccessDenied';
    } else if (authorization) {
      auth = 'header';
      const parts = Object.fromEntries(
        authorization
          .replace(/^AWS4-HMAC-SHA256\s+/, '')
          .split(/,\s*/)
          .map((p) => p.split('=', 2) as [string, string]),
      );
      signedHeaders = (parts.SignedHeaders ?? '').split(';').filter(Boolean);
      const [accessKeyId, ...scope] = (parts.Credential ?? '').split('/');
      const payload = req.headers['x-amz-content-sha256'];
      const expected = sigV4Signature(
        method,
        url,
        req.headers,
        signedHeaders,
        typeof payload === 'string' ? payload : sha256(''),
        String(req.headers['x-amz-date'] ?? ''),
        scope.join('/'),
        credentials.secretAccessKey,
      );
      if (accessKeyId !== credentials.accessKeyId) verdict = 'InvalidAccessKeyId';
      else if (expected !== parts.Signature) verdict = 'SignatureDoesNotMatch';
    }
    requests.push({ method, url, auth, verdict, signedHeaders });
    if (verdict !== 'ok') {
      req.resume();
      res.writeHead(403, { 'Content-Type': 'application/xml', Connection: 'close' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${verdict}</Code><Message>refused by the SigV4 gate</Message></Error>`,
      );
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: targetPort, method, path: url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
